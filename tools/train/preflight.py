"""Everything checked before a model loads: the data, the run folder, resume, and what the options can do here."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tools.defaults import FINISHED_TRAINING
from tools.errors import TunewiseError, UsageError
from tools.train.config import TrainInput

# Limits OpenAI sets for its own fine-tuning; a local run has max_seq_len and no minimum instead.
HOSTED_ONLY_CODES = {"too_few_examples", "too_many_tokens"}


class Preflight(BaseModel):
    """The checks' outcome; `run` trusts it instead of checking again."""

    model_config = ConfigDict(frozen=True)

    data_sha256: str
    eval_sha256: str | None
    examples: int = Field(description="Valid training examples.")
    tokens: int = Field(description="Training tokens per epoch, as the validator counts them.")
    resume_from: str | None = Field(description="The newest complete checkpoint to continue from.")
    started_at: str | None = Field(description="When the run being resumed started.")
    warnings: list[str]


def _validate(path: Path, label: str) -> tuple[int, int, list[str]]:
    """Validate a data file; raise on errors (first one located, all counted); return examples, tokens, warnings."""
    from tools.dataset.validate import ValidateInput, run

    result = run(ValidateInput(path=path, hosted=False))
    if result.format == "preference":
        raise TunewiseError(
            f"{label} is in OpenAI's preference (DPO) format; local training here is supervised",
            path=str(path),
            hint="convert it to chat format with the preferred answer as the assistant turn",
        )
    errors = [e for e in result.errors if e.code not in HOSTED_ONLY_CODES]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        raise TunewiseError(
            f"{first.code}: {first.message}{more}",
            path=str(path),
            line=first.line,
            hint=f"run `tunewise validate {path} --local` and fix every error before training",
        )
    notes = [
        f"{path.name}:{e.line}: {e.code}: {e.message} (an OpenAI limit; local training goes ahead)"
        for e in result.errors
        if e.code in HOSTED_ONLY_CODES
    ]
    return result.valid_examples, result.tokens.total, notes


def _check_base_model(name: str) -> None:
    path = Path(name).expanduser()
    looks_local = path.exists() or name.startswith((".", "/", "~"))  # otherwise a Hub name like org/model
    if looks_local and not (path / "config.json").is_file():
        raise TunewiseError(
            "no model here (config.json is missing)",
            path=name,
            hint="pass a folder saved with save_pretrained, or a Hugging Face name in the cache",
        )


def _gguf_possible(inp: TrainInput) -> None:
    if not inp.gguf:
        return
    if inp.backend != "unsloth":
        raise UsageError(
            "--gguf exports through unsloth",
            hint="use --backend unsloth, or --merge and convert OUTPUT/merged with llama.cpp's convert_hf_to_gguf.py",
        )
    import torch

    # Where unsloth itself looks for llama.cpp (unsloth_zoo.llama_cpp.LLAMA_CPP_DEFAULT_DIR), read without importing it.
    llama_cpp = Path(os.environ.get("UNSLOTH_LLAMA_CPP_PATH") or Path.home() / ".unsloth" / "llama.cpp")
    if not torch.cuda.is_available() and not (llama_cpp / "convert_hf_to_gguf.py").is_file():
        raise TunewiseError(
            "--gguf cannot work on this machine: unsloth's GGUF export needs a CUDA GPU or a built llama.cpp "
            f"(none at {llama_cpp}, and it would be downloaded and compiled)",
            hint="train with --merge here and convert OUTPUT/merged with llama.cpp's convert_hf_to_gguf.py, "
            "or rerun with --gguf on a GPU machine",
        )


def _resume_state(inp: TrainInput, data_sha: str, eval_sha: str | None) -> tuple[str | None, str | None, list[str]]:
    from tools.train import checkpoints

    out = Path(inp.output)
    run_json = out / "run.json"
    folder = out / "checkpoints"
    if out.exists() and not out.is_dir():
        raise TunewiseError("the output path is a file", path=str(out), hint="pass a folder for --output")
    if not run_json.is_file() and not checkpoints.all_checkpoints(folder):
        # What `--launcher accelerate` writes before rank 0 gets here is no earlier run.
        launch_files = ("accelerate_config.yaml", "train.log")
        if out.is_dir() and any(p.name not in launch_files for p in out.iterdir()) and not inp.resume:
            raise TunewiseError(
                "the output folder is not empty and holds no tunewise run",
                path=str(out),
                hint="choose a new --output folder",
            )
        notes = ["--resume: no earlier run in the output folder, starting from step 0"] if inp.resume else []
        return None, None, notes
    try:
        before = json.loads(run_json.read_text("utf-8")) if run_json.is_file() else {}
    except (OSError, ValueError):
        raise TunewiseError(
            "cannot read the earlier run.json", path=str(run_json), hint="choose a new --output folder"
        ) from None
    finished = before.get("status") in FINISHED_TRAINING
    if not inp.resume and (finished or checkpoints.complete_checkpoints(folder)):
        raise TunewiseError(
            "the output folder already holds a training run",
            path=str(out),
            hint="pass --resume to continue it, or choose a new --output folder",
        )
    if finished:
        raise TunewiseError(
            "this run already finished; there is nothing to resume",
            path=str(out),
            hint="choose a new --output folder to train again",
        )
    if not inp.resume:  # an earlier attempt died before its first checkpoint: nothing to keep, start over
        removed = checkpoints.remove_incomplete(folder)
        return (
            None,
            None,
            ["the earlier run in this folder stopped before its first checkpoint; starting again"]
            + ([f"removed half-written checkpoint(s) {', '.join(removed)}"] if removed else []),
        )
    changed = [k for k, v in inp.hyperparameters().items() if before.get("hyperparameters", {}).get(k) != v]
    if before.get("data_sha256") != data_sha or before.get("eval_sha256") != eval_sha:
        changed.insert(0, "data")
    if changed:
        raise TunewiseError(
            f"--resume with different settings than the run being resumed: {', '.join(changed)}",
            path=str(run_json),
            hint="rerun with the original settings, or train into a new --output",
        )
    removed = checkpoints.remove_incomplete(folder)
    notes = [f"removed half-written checkpoint(s) {', '.join(removed)}"] if removed else []
    newest = checkpoints.newest_complete(folder)
    if newest is None:
        notes.append("--resume: no complete checkpoint yet, starting from step 0")
    return (str(newest) if newest else None), before.get("started_at"), notes


def preflight(inp: TrainInput) -> Preflight:
    """Validate the data and the run folder; raise a TunewiseError before any model loads if something is wrong."""
    from tools.digest import file_sha256

    _check_base_model(inp.base_model)
    examples, tokens, notes = _validate(Path(inp.data), "the training file")
    eval_sha = None
    if inp.eval_file:
        notes += _validate(Path(inp.eval_file), "the eval file")[2]
        eval_sha = file_sha256(inp.eval_file)
    elif inp.early_stopping:
        raise UsageError("--early-stopping watches the eval loss", hint="pass --eval-file (tunewise split makes one)")
    _gguf_possible(inp)
    data_sha = file_sha256(inp.data)
    resume_from, started_at, resume_notes = _resume_state(inp, data_sha, eval_sha)
    return Preflight(
        data_sha256=data_sha,
        eval_sha256=eval_sha,
        examples=examples,
        tokens=tokens,
        resume_from=resume_from,
        started_at=started_at,
        warnings=notes + resume_notes,
    )
