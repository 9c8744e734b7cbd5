"""The `unsloth` backend: FastLanguageModel (4-bit QLoRA on a GPU), unsloth's gradient checkpointing, trl's SFTTrainer.

unsloth patches transformers, trl and peft when it is imported, so it must be imported before any of them in its
process. This module therefore runs as its own process (`python -m tools.train.unsloth_backend`, started by
`tools.train.isolated`): its first import is unsloth, and a CLI or agent process that has already loaded
transformers (or that trains with the hf backend next) is never patched. On a machine without a GPU, unsloth
2026.10 trains on the CPU with stock transformers + peft + trl and says so in OUTPUT/train.log.
"""

from __future__ import annotations

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import unsloth  # noqa: F401  (first: it patches transformers / trl / peft on import)
from unsloth import FastLanguageModel

from tools.errors import TunewiseError  # noqa: E402
from tools.train import device  # noqa: E402
from tools.train.config import TrainInput  # noqa: E402
from tools.train.device import DeviceFacts  # noqa: E402
from tools.train.loop import Loaded, run_training  # noqa: E402
from tools.train.metrics import update_event  # noqa: E402
from tools.train.padding import set_pad_token  # noqa: E402


def load(inp: TrainInput, facts: DeviceFacts) -> Loaded:
    """FastLanguageModel.from_pretrained + get_peft_model, as in the article's script."""
    import torch

    cuda = facts.cuda
    use_4bit = inp.load_in_4bit if inp.load_in_4bit is not None else cuda
    dtype = getattr(torch, device.precision(facts, "unsloth").dtype)  # ours, not unsloth's guess (see device.py)
    try:
        model, tokenizer = FastLanguageModel.from_pretrained(
            **device.unsloth_model_name(inp.base_model),
            max_seq_length=inp.max_seq_len,
            dtype=dtype,
            load_in_4bit=use_4bit,
            use_gradient_checkpointing="unsloth" if inp.gradient_checkpointing else False,
        )
    except (OSError, ValueError) as exc:
        raise TunewiseError(
            f"cannot load base model '{inp.base_model}' ({str(exc).splitlines()[0][:200]})",
            hint="pass a local model folder or a name already in the Hugging Face cache",
        ) from None
    model = FastLanguageModel.get_peft_model(
        model,
        r=inp.lora_r,
        lora_alpha=inp.lora_alpha,
        lora_dropout=inp.lora_dropout,
        target_modules=list(inp.target_modules),
        bias="none",
        use_gradient_checkpointing="unsloth" if inp.gradient_checkpointing else False,
        random_state=inp.seed,
        max_seq_length=inp.max_seq_len,
    )
    set_pad_token(tokenizer)  # never eos when the vocabulary reserves a pad (see tools/train/padding.py)
    quantized = any(type(m).__name__ == "Linear4bit" for m in model.modules())
    warnings = []
    if use_4bit and not quantized:
        warnings.append(
            "4-bit loading was asked for but unsloth loaded 16-bit weights (bitsandbytes cannot "
            "quantise this model here)"
        )
    if inp.packing and not cuda:
        warnings.append("unsloth on the CPU turns packing off: it needs FlashAttention to keep packed examples apart")

    def export_gguf(folder: Path, quant: str) -> list[str]:
        from tools.train.export import gguf

        return gguf(model, tokenizer, folder, quant)

    return Loaded(
        model=model,
        tokenizer=tokenizer,
        quantized=quantized,
        dtype=str(model.dtype).replace("torch.", ""),
        # The model already checkpoints its activations the unsloth way; the trainer must not add HF's on top.
        trainer_args={"gradient_checkpointing": False},
        warnings=warnings,
        gguf=export_gguf,
    )


def _exit_with_parent() -> None:
    """Exit (code 137) when the parent dies (SIGKILL, OOM): a worker must not keep training into the run folder
    unattended.
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(137)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str]) -> int:
    """Train the run read as JSON from stdin, sending events as JSON lines to --events-fd; return the exit code."""
    events = os.fdopen(int(argv[argv.index("--events-fd") + 1]), "w", buffering=1, encoding="utf-8")

    def emit(event: dict) -> None:
        events.write(json.dumps(event, default=str) + "\n")

    _exit_with_parent()
    spec = json.loads(sys.stdin.read())
    try:
        result = run_training(
            TrainInput.model_validate(spec["input"]),
            load,
            lambda update: emit(update_event(update)),
            resume_from=spec["resume_from"],
        )
    except TunewiseError as exc:
        emit(exc.to_event())
        return exc.exit_code
    except KeyboardInterrupt:
        emit({"event": "interrupted"})
        return 130
    except Exception as exc:
        traceback.print_exc()
        failed = TunewiseError(
            f"training failed ({type(exc).__name__}: {str(exc)[:300]})",
            hint="the full traceback is in OUTPUT/train.log",
        )
        emit(failed.to_event())
        return 1
    emit({"event": "result", **result})
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    raise SystemExit(main(sys.argv))
