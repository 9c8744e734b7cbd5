"""Checkpoints that survive a crash: a marker written last says a checkpoint is whole, and only whole ones are loaded.

The trainer writes `checkpoints/checkpoint-N/` (adapter, optimizer, scheduler, RNG and trainer state). After it
returns, every file in it is fsynced and then `TUNEWISE_COMPLETE` is written atomically, so the marker's existence
means the checkpoint completed. A folder without the marker is what a crash or Ctrl-C left half-written: resume
deletes it and continues from the newest complete one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tools.atomic import write_json

MARKER = "TUNEWISE_COMPLETE"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def _step(path: Path) -> int:
    match = _NAME.match(path.name)
    return int(match.group(1)) if match else -1


def all_checkpoints(folder: Path) -> list[Path]:
    """Return the `checkpoint-N` folders in `folder`, whole or not, oldest step first; [] when it does not exist."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_dir() and _NAME.match(p.name)), key=_step)


def complete_checkpoints(folder: Path) -> list[Path]:
    """Return the checkpoints in `folder` that hold the marker (whole ones), oldest step first."""
    return [p for p in all_checkpoints(folder) if (p / MARKER).is_file()]


def newest_complete(folder: Path) -> Path | None:
    """Return the whole checkpoint with the highest step, or None when there is none."""
    done = complete_checkpoints(folder)
    return done[-1] if done else None


def checkpoint_step(path: Path) -> int:
    """Return N of a `checkpoint-N` folder, -1 for any other name."""
    return _step(path)


def remove_incomplete(folder: Path) -> list[str]:
    """Delete half-written checkpoints (no marker); return their names."""
    removed = []
    for path in all_checkpoints(folder):
        if not (path / MARKER).is_file():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def _fsync_tree(path: Path) -> None:
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def mark_complete(path: Path, *, step: int) -> None:
    """Fsync every file of the checkpoint, then write the marker atomically: only now is it whole."""
    _fsync_tree(path)
    write_json(path / MARKER, {"step": step})


def rotate(folder: Path, *, keep: int, protect: str | None = None) -> None:
    """Keep the newest `keep` complete checkpoints (and `protect`, the best one); never touch incomplete ones here."""
    done = complete_checkpoints(folder)
    for path in done[:-keep] if keep else done:
        if protect and Path(protect).name == path.name:
            continue
        shutil.rmtree(path, ignore_errors=True)


def marker_callback(keep: int) -> Any:
    """Build a TrainerCallback that marks each checkpoint complete after the trainer has written it, then rotates."""
    from transformers import TrainerCallback

    class CheckpointMarker(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if args.world_size > 1:  # every rank has written its RNG state before the marker says "whole"
                import torch.distributed as dist

                dist.barrier()
            if state.is_world_process_zero:
                path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if path.is_dir():
                    mark_complete(path, step=state.global_step)
                    rotate(Path(args.output_dir), keep=keep, protect=state.best_model_checkpoint)
            return control

    return CheckpointMarker()


def trained_steps(path: Path) -> int:
    """Optimizer steps recorded in a checkpoint's trainer_state.json."""
    try:
        return int(json.loads((path / "trainer_state.json").read_text("utf-8"))["global_step"])
    except (OSError, ValueError, KeyError):
        return checkpoint_step(path)
