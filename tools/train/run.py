"""Run a local LoRA / QLoRA fine-tune and write the run folder (described in `tools.train`)."""

from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path
from typing import Any

from tools.atomic import write_json
from tools.errors import TunewiseError
from tools.progress import Progress, Update, silent
from tools.train.config import TrainInput, TrainResult
from tools.train.preflight import Preflight, preflight


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def run(
    inp: TrainInput,
    *,
    progress: Progress | None = None,
    checked: Preflight | None = None,
    processes: int = 1,
    launcher: str | None = None,
) -> TrainResult:
    """Fine-tune a local model with LoRA on a validated chat dataset and save the adapter (spends GPU time).

    `progress` hears the optimizer steps as done/total ("steps", kind "log", with loss, eval_loss, learning_rate
    and tokens_per_s), the run's start (kind "start") and anything said (kind status, note or warning) as a message.
    Under a launcher this runs in rank 0 only (`processes` > 1): the other ranks call `run_rank`.
    """
    from tools.train import checkpoints
    from tools.train.metrics import plot_loss, read_metrics, truncate_metrics

    checked = checked or preflight(inp)
    progress = progress or silent
    out = Path(inp.output)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.jsonl"
    if checked.resume_from:
        truncate_metrics(metrics_path, after_step=checkpoints.checkpoint_step(Path(checked.resume_from)))
    else:
        metrics_path.unlink(missing_ok=True)
    record: dict[str, Any] = {
        "status": "running",
        "backend": inp.backend,
        "base_model": inp.base_model,
        "inputs": inp.model_dump(mode="json"),
        "data_sha256": checked.data_sha256,
        "eval_sha256": checked.eval_sha256,
        "hyperparameters": inp.hyperparameters(),
        "started_at": checked.started_at or _now(),
        "resumed_from": checked.resume_from,
        "warnings": list(checked.warnings),
        "processes": processes,
        "launcher": launcher,
    }
    write_json(out / "run.json", record)
    for message in checked.warnings:
        progress(Update(kind="note", message=message))
    try:
        if inp.backend == "hf":
            from tools.train import hf_backend, loop

            summary = loop.run_training(inp, hf_backend.load, progress, resume_from=checked.resume_from)
        else:
            from tools.train import isolated

            summary = isolated.run(inp, resume_from=checked.resume_from, progress=progress, log_path=out / "train.log")
    except KeyboardInterrupt:
        write_json(out / "run.json", {**record, "status": "interrupted", "ended_at": _now()})
        raise
    except TunewiseError as exc:
        write_json(out / "run.json", {**record, "status": "failed", "error": str(exc), "ended_at": _now()})
        raise
    except Exception as exc:  # a bug or a library failure: keep the traceback in the log, show one line
        with (out / "train.log").open("a", encoding="utf-8") as log:
            log.write(traceback.format_exc())
        write_json(out / "run.json", {**record, "status": "failed", "error": repr(exc), "ended_at": _now()})
        raise TunewiseError(
            f"training failed ({type(exc).__name__}: {str(exc)[:300]})",
            path=str(out / "train.log"),
            hint="the full traceback is in this log",
        ) from None
    if summary.get("main_process") is False:  # another GPU process of `accelerate launch`: rank 0 reports
        return TrainResult(
            status="succeeded",
            output=str(out),
            adapter_dir=None,
            base_model=inp.base_model,
            backend=inp.backend,
            device="",
            steps=0,
            total_steps=0,
            tokens_trained=0,
            tokens_per_second=0.0,
            wall_seconds=0.0,
            final_loss=None,
            best_eval_loss=None,
            resumed_from=checked.resume_from,
        )
    warnings = list(dict.fromkeys(checked.warnings + summary.pop("warnings", [])))
    try:
        plot_loss(read_metrics(metrics_path), out / "loss.png")
    except ImportError:  # the adapter is what matters; a missing plotting library must not lose the run
        warnings.append("loss.png not drawn: matplotlib is not installed (pip install 'tunewise[train]')")
    status = "stopped_early" if summary.pop("stopped_early", False) else "succeeded"
    record.update(summary, status=status, warnings=warnings, ended_at=_now())
    write_json(out / "run.json", record)
    return TrainResult(
        status=status,
        output=str(out),
        adapter_dir=record.get("adapter_dir"),
        base_model=inp.base_model,
        backend=inp.backend,
        device=record["device"],
        steps=record["steps"],
        total_steps=record["total_steps"],
        tokens_trained=record["tokens_trained"],
        tokens_per_second=record["tokens_per_second"],
        wall_seconds=record["wall_seconds"],
        final_loss=record.get("final_loss"),
        first_loss=record.get("first_loss"),
        best_eval_loss=record.get("best_eval_loss"),
        resumed_from=checked.resume_from,
        merged_dir=record.get("merged_dir"),
        gguf_files=record.get("gguf_files", []),
        modelfile=record.get("modelfile"),
        warnings=warnings,
    )


def run_rank(inp: TrainInput, *, resume_from: str | None) -> None:
    """Train as a rank other than 0 of a multi-process run: rank 0 writes the run folder, this one only trains."""
    from tools.train import hf_backend, loop

    loop.run_training(inp, hf_backend.load, silent, resume_from=resume_from)
