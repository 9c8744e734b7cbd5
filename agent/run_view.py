"""The one display of work that takes a while: a line per step, live while it runs, one plain line when it ends.

`tunewise train` (one step), `tunewise demo` (its stages) and an approved plan under `plan` / `resume` (its steps)
all draw through `RunView`, so a person sees the same thing wherever a step runs:

    … train    ━━━━━━━━╸━━━━━━━━━━━   12/20 steps  0:00:21  ETA 0:00:14  loss 6.12, 1,204 tok/s
    ✓ train    ━━━━━━━━━━━━━━━━━━━━   20/20 steps    37.0 s  20/20 steps on cpu, loss 6.91 → 5.12, adapter at …

On a terminal the running line is a rich progress bar that gives way to the finished line; in a log or a pipe
there is no bar, only the step's start, about ten progress lines for a long count, what the tool says, and the
finished line. Every `tools.progress.Update` is read the same way: `done`/`total`/`unit` fill the bar, a
training log's `loss` and `tokens_per_s` its numbers, `stage` or `message` its words.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from tools.progress import Update

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from graphs.protocol import StepFailed, StepFinished, StepProgress, StepStarted

ICONS = {"done": "[green]✓[/]", "skipped": "[yellow]–[/]", "failed": "[red]✗[/]"}
NAME_WIDTH = 8
BAR_WIDTH = 20
PLAIN_LINES = 10  # without a terminal, a long count is reported about this many times


def clock(seconds: float) -> str:
    """Format a duration for the running line: 0:00:37, 1:02:05."""
    s = max(0, int(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def took(seconds: float | None) -> str:
    """Format a finished step's time: "0.4 s", "37.0 s", "12 min", "2.5 h"."""
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def shorten(text: str, width: int) -> str:
    """Put `text` on one line of at most `width` characters, cut with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


class _Step:
    """What the display knows of the running step."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = time.perf_counter()
        self.done: int | None = None
        self.total: int | None = None
        self.unit = ""
        self.what = ""
        self.first_loss: float | None = None
        self.loss: float | None = None
        self.tokens_per_s: float | None = None
        self.reported = -1  # the last tenth reported as a plain line

    def count(self) -> str:
        if self.total:
            return f"{self.done or 0}/{self.total} {self.unit}".rstrip()
        return f"{self.done} {self.unit}".rstrip() if self.done else ""

    def info(self) -> str:
        """Return the numbers worth watching (the loss and throughput while training), else what the tool says."""
        if self.loss is not None:
            out = f"loss {self.loss:.2f}"
            return out + (f", {self.tokens_per_s:,.0f} tok/s" if self.tokens_per_s else "")
        return self.what

    def eta(self) -> str:
        """Time left for a training run, from the pace of its steps so far; '' for anything else."""
        if self.unit != "steps" or not self.total or not self.done:
            return ""
        elapsed = time.perf_counter() - self.started
        return f"ETA {clock(elapsed / self.done * (self.total - self.done))}"


class RunView:
    """Draw steps on `console`: `start`, `update`, `finish` (or `fail`) per step, `note` between, `close` at the end."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self.console = console
        self.live = console.is_terminal if live is None else live
        self.step: _Step | None = None
        self.bar: tuple[Progress, TaskID] | None = None

    # ---- the graph's step events --------------------------------------------------------------------------------

    def event(self, event: StepStarted | StepProgress | StepFinished | StepFailed) -> None:
        """Show one of an approved plan's step events."""
        from graphs.protocol import StepFailed, StepFinished, StepStarted

        if isinstance(event, StepStarted):
            self.start(event.step, resuming=event.resuming)
        elif isinstance(event, StepFinished):
            status = "done" if event.status not in ("skipped", "unavailable") else "skipped"
            self.finish(event.step, status, seconds=event.seconds, summary=event.summary or event.message or "")
        elif isinstance(event, StepFailed):
            self.fail(event.step, event.error)
        else:
            self.update(event.step, event.update)

    # ---- the drawing ----------------------------------------------------------------------------------------------

    def start(self, name: str, *, resuming: bool = False, what: str = "") -> None:
        """Begin a step's line (again only if another step ran in between)."""
        if self.step is not None and self.step.name == name:
            return
        self._stop()
        self.step = _Step(name)
        self.step.what = "resuming where the last run stopped" if resuming else what
        if not self.live:
            self._print(f"[cyan]…[/] [bold]{name}[/] {escape(self.step.what)}".rstrip())
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            TextColumn("[cyan]…[/]"),
            TextColumn(f"[bold]{{task.description:<{NAME_WIDTH}}}[/]"),
            BarColumn(bar_width=BAR_WIDTH),
            TextColumn("{task.fields[count]:>15}"),
            TimeElapsedColumn(),  # ticks on its own while a long step says nothing
            TextColumn("{task.fields[eta]}"),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=True,  # the live line gives way to the step's finished line
            refresh_per_second=4,
        )
        task = progress.add_task(name, total=None, count="", eta="", info=escape(self.step.what))
        progress.start()
        self.bar = (progress, task)

    def update(self, name: str, update: Update) -> None:
        """Take one report from the running step's tool."""
        if self.step is None or self.step.name != name:
            self.start(name)
        step = self.step
        assert step is not None
        if update.done is not None:
            step.done, step.total = update.done, update.total
        if update.unit:
            step.unit = update.unit
        metrics = update.metrics
        if "loss" in metrics:
            step.loss = metrics["loss"]
            step.first_loss = step.loss if step.first_loss is None else step.first_loss
        if "tokens_per_s" in metrics:
            step.tokens_per_s = metrics["tokens_per_s"]
        said = update.message or update.stage
        if said:
            step.what = said
        if self.bar is not None:
            progress, task = self.bar
            fields: dict[str, Any] = {
                "count": step.count(),
                "eta": step.eta(),
                "info": escape(shorten(step.info(), 70)),
            }
            if step.total:
                fields.update(total=step.total, completed=step.done or 0)
            progress.update(task, **fields)
            if update.kind == "warning" and update.message:
                self._print(f"  [yellow]warning[/] {escape(update.message)}")
            return
        self._plain(step, update)

    def _plain(self, step: _Step, update: Update) -> None:
        """Without a terminal: what the tool says, and about ten lines for a long count."""
        if update.message:
            prefix = "warning: " if update.kind == "warning" else ""
            self._print(f"  {step.name}: {prefix}{escape(update.message)}")
        if step.total and step.done is not None:
            tenth = step.done * PLAIN_LINES // step.total
            if tenth > step.reported and (tenth > 0 or step.unit == "steps"):
                step.reported = tenth
                extra = ", ".join(x for x in (step.info() if step.loss is not None else "", step.eta()) if x)
                self._print(f"  {step.name}: {step.count()}" + (f" ({escape(extra)})" if extra else ""))

    def finish(
        self, name: str, status: str, *, seconds: float | None = None, summary: str = "", count: str = ""
    ) -> None:
        """End a step with one line that stays: its icon, a full bar, its count, its time and its key result."""
        step = self.step if self.step is not None and self.step.name == name else None
        if seconds is None and step is not None:
            seconds = time.perf_counter() - step.started
        shown = count or (step.count() if step is not None else "")
        self._stop()
        colour, mark = ("green", "━") if status == "done" else ("yellow", "╌")
        bar = f"[{colour}]{mark * BAR_WIDTH}[/]"
        self._print(
            f"{ICONS.get(status, ICONS['done'])} [bold]{name:<{NAME_WIDTH}}[/] {bar} {escape(shown):>15} "
            f"{took(seconds):>8}  {escape(shorten(summary, 300))}"
        )

    def fail(self, name: str, error: str) -> None:
        """End a step that raised: the error stays on screen (the command then says what to do)."""
        step = self.step if self.step is not None and self.step.name == name else None
        seconds = time.perf_counter() - step.started if step is not None else None
        self._stop()
        self._print(
            f"{ICONS['failed']} [bold]{name:<{NAME_WIDTH}}[/] [red]failed[/] after {took(seconds)}: {escape(error)}"
        )

    def note(self, text: str) -> None:
        """Say something between steps (dimmed), above any live line."""
        self._print(f"  [dim]{escape(shorten(text, 200))}[/]")

    def close(self) -> None:
        """Stop any live line (the step did not finish: an error or Ctrl-C follows)."""
        self._stop()

    def _stop(self) -> None:
        if self.bar is not None:
            self.bar[0].stop()
        self.bar, self.step = None, None

    def _print(self, text: str) -> None:
        target = self.bar[0].console if self.bar is not None else self.console
        target.print(text, highlight=False, soft_wrap=True)

    def __enter__(self) -> RunView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
