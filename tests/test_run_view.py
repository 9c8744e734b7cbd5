"""agent/run_view.py, the one display of running steps, as it draws into a log (no terminal): a line per step,
about ten lines for a long training run with its loss and ETA, one finished line with the time and key result.
The live terminal version is read from a real pseudo-terminal in tests/test_plan_run_terminal.py."""

from __future__ import annotations

import io
import re

from rich.console import Console

from agent.run_view import RunView, took
from graphs.protocol import StepFailed, StepFinished, StepProgress, StepStarted
from tools.progress import Update


def _view() -> tuple[RunView, io.StringIO]:
    out = io.StringIO()
    return RunView(Console(file=out, width=200, force_terminal=False, color_system=None)), out


def test_a_training_step_shows_its_loss_eta_and_one_finished_line():
    view, out = _view()
    view.event(StepStarted(step="train"))
    view.event(StepProgress(step="train", update=Update(kind="status", message="loading the model on cpu")))
    for i in range(1, 101):
        metrics = {"loss": 7.0 - i * 0.02, "tokens_per_s": 1200.0}
        view.event(
            StepProgress(step="train", update=Update(kind="log", done=i, total=100, unit="steps", metrics=metrics))
        )
    view.event(StepFinished(step="train", status="succeeded", seconds=37.04, summary="loss 6.98 → 5.00, adapter at A"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "… train" and lines[1] == "  train: loading the model on cpu"
    counts = [line for line in lines if re.match(r"  train: \d+/100 steps", line)]
    assert 9 <= len(counts) <= 11, counts  # about ten, not a hundred
    assert "loss 5.00, 1,200 tok/s, ETA 0:00:00" in counts[-1]
    assert re.search(r"loss \d\.\d\d, 1,200 tok/s, ETA \d:\d\d:\d\d", counts[0])
    assert re.fullmatch(r"✓ train\s+━{20}\s+100/100 steps\s+37\.0 s  loss 6\.98 → 5\.00, adapter at A", lines[-1])


def test_counts_are_said_with_their_unit_and_a_failure_stays_on_screen():
    view, out = _view()
    view.start("index")
    view.update("index", Update(stage="embed", done=30, total=30, unit="chunks"))
    view.finish("index", "done", seconds=0.42, summary="30 chunks from 3 files in 'docs'")
    view.event(StepStarted(step="eval"))
    view.event(StepFailed(step="eval", error="the model folder is gone"))
    text = out.getvalue()
    assert "  index: 30/30 chunks" in text and "done/30" not in text
    assert re.search(r"✓ index\s+━+\s+30/30 chunks\s+0\.4 s  30 chunks from 3 files", text)
    assert re.search(r"✗ eval\s+failed after \d\.\d s: the model folder is gone", text)


def test_a_skipped_step_is_marked_and_times_read_well():
    view, out = _view()
    view.event(StepStarted(step="deploy"))
    view.event(StepFinished(step="deploy", status="skipped", seconds=0.0, summary="deploy needs --docs DIR"))
    assert re.search(r"– deploy\s+╌{20}\s+0\.0 s  deploy needs --docs DIR", out.getvalue())
    assert [took(s) for s in (0.42, 37.0, 720, 9000)] == ["0.4 s", "37.0 s", "12 min", "2.5 h"]
