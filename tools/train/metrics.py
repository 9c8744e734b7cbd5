"""Training metrics as they happen (`metrics.jsonl`), the loss plot (`loss.png`), and the over-fitting guard.

`metrics.jsonl` holds one JSON object per logging step: `step`, `loss`, `learning_rate`, `tokens_per_second`,
`epoch`, `grad_norm`, and `eval_loss` on the steps where the eval set was scored. It is appended and flushed as
training goes, so a crash keeps everything up to the last step; on resume the lines past the checkpoint are cut.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tools.atomic import atomic_open
from tools.progress import Progress, Update
from tools.train.config import NEAR_ZERO_LOSS

# A logged record's numbers as an Update carries them (metrics.jsonl keeps its own names).
_METRICS = {
    "loss": "loss",
    "eval_loss": "eval_loss",
    "learning_rate": "learning_rate",
    "tokens_per_second": "tokens_per_s",
}


def log_update(record: dict[str, Any], total_steps: int | None) -> Update:
    """Return one logged step as an Update: optimizer steps as done/total, with loss, eval loss, rate and tokens/s."""
    metrics = {name: float(record[key]) for key, name in _METRICS.items() if record.get(key) is not None}
    return Update(kind="log", done=record["step"], total=total_steps or None, unit="steps", metrics=metrics)


def update_event(update: Update) -> dict[str, Any]:
    """Return an Update as a JSON event for a training process's event channel (read back with `update_of`)."""
    return {"event": "update", "update": update.model_dump(mode="json", exclude_defaults=True)}


def update_of(event: dict[str, Any]) -> Update | None:
    """Return the Update an `update_event` carries; None for the channel's other events (result, error ...)."""
    return Update.model_validate(event["update"]) if event.get("event") == "update" else None


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every complete record; a last line cut short by a crash is skipped."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text("utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def truncate_metrics(path: Path, *, after_step: int) -> None:
    """Drop records past `after_step`: a resumed run logs those steps again."""
    kept = [r for r in read_metrics(path) if r.get("step", 0) <= after_step]
    with atomic_open(path) as fh:
        fh.writelines(json.dumps(r) + "\n" for r in kept)


def plot_loss(records: list[dict[str, Any]], png: Path) -> None:
    """Train and eval loss against step, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(r["step"], r["loss"]) for r in records if r.get("loss") is not None]
    evals = [(r["step"], r["eval_loss"]) for r in records if r.get("eval_loss") is not None]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train loss", color="tab:blue")
    if evals:
        ax.plot(*zip(*evals), label="eval loss", color="tab:orange", marker="o")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if train or evals:
        ax.legend()
    fig.tight_layout()
    with atomic_open(png, "wb") as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)


class Guard:
    """The article's over-fitting signs: training loss near zero, or eval loss rising two evaluations in a row."""

    def __init__(self, *, early_stopping: bool, history: list[dict[str, Any]] | None = None) -> None:
        self.early_stopping = early_stopping
        self.losses = [r["loss"] for r in history or [] if r.get("loss") is not None]
        self.evals = [r["eval_loss"] for r in history or [] if r.get("eval_loss") is not None]
        self.warnings: list[str] = []
        self.stop = False

    def on_loss(self, step: int, loss: float) -> str | None:
        """Record a training loss; return the warning, once, when the last 3-5 losses average near zero."""
        self.losses.append(loss)
        recent = self.losses[-5:]
        if len(recent) >= 3 and sum(recent) / len(recent) < NEAR_ZERO_LOSS and not self._warned("near zero"):
            return self._warn(
                f"training loss is near zero ({loss:.4f} at step {step}): the model is memorising the "
                "data; use fewer epochs, more data, or --lora-dropout 0.05"
            )
        return None

    def on_eval(self, step: int, eval_loss: float) -> str | None:
        """Record an eval loss; return the warning, once, when it rose twice in a row (and stop under early stopping)."""
        self.evals.append(eval_loss)
        e = self.evals
        if len(e) >= 3 and e[-1] > e[-2] > e[-3]:
            if self.early_stopping:
                self.stop = True
            if not self._warned("eval loss rose"):
                action = (
                    "stopping (--early-stopping) and keeping the best adapter"
                    if self.early_stopping
                    else "pass --early-stopping to stop at the best point"
                )
                return self._warn(
                    f"eval loss rose two evaluations in a row ({e[-3]:.4f} -> {e[-2]:.4f} -> "
                    f"{e[-1]:.4f} at step {step}): over-fitting; {action}"
                )
        return None

    def _warned(self, key: str) -> bool:
        return any(key in w for w in self.warnings)

    def _warn(self, message: str) -> str:
        self.warnings.append(message)
        return message


def metrics_callback(path: Path, progress: Progress, guard: Guard) -> Any:
    """Build a TrainerCallback that appends one record per logging step and feeds the guard and the progress display."""
    from transformers import TrainerCallback

    class MetricsWriter(TrainerCallback):
        def __init__(self) -> None:
            self.pending: dict[str, Any] | None = None
            self.mark: tuple[float, int] | None = None

        def _write(self, state: Any, record: dict[str, Any]) -> None:
            if state.is_world_process_zero:
                with path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
                progress(log_update(record, state.max_steps))

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.mark = (time.perf_counter(), state.num_input_tokens_seen)
            return control

        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
        ) -> None:
            logs = logs or {}
            step = state.global_step
            if "loss" in logs:
                now, tokens = time.perf_counter(), state.num_input_tokens_seen
                then, before = self.mark or (now, tokens)
                self.mark = (now, tokens)
                record = {
                    "step": step,
                    "loss": round(float(logs["loss"]), 6),
                    "learning_rate": float(logs.get("learning_rate", 0.0)),
                    "tokens_per_second": round((tokens - before) / (now - then), 1) if now > then else 0.0,
                    "epoch": round(float(logs.get("epoch", state.epoch or 0.0)), 4),
                    "grad_norm": float(logs["grad_norm"]) if logs.get("grad_norm") is not None else None,
                }
                self._flag(state, guard.on_loss(step, record["loss"]))
                if control.should_evaluate:
                    self.pending = record  # the eval of this step follows; write them as one record
                else:
                    self._write(state, record)
            elif "eval_loss" in logs:
                record = self.pending or {"step": step}
                self.pending = None
                record["eval_loss"] = round(float(logs["eval_loss"]), 6)
                self._write(state, record)
                self._flag(state, guard.on_eval(step, record["eval_loss"]))
                if guard.stop:
                    control.should_training_stop = True
            return control

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.pending:
                self._write(state, self.pending)
                self.pending = None
            return control

        def _flag(self, state: Any, message: str | None) -> None:
            if message and state.is_world_process_zero:
                progress(Update(kind="warning", message=message))

    return MetricsWriter()
