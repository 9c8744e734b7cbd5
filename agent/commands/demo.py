"""`tunewise demo`: the whole pipeline offline on examples/, a line per stage with a progress bar inside each."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

ANSWER_LINES = 12  # the rest is in served.json


def demo(
    quick: Annotated[
        bool, typer.Option("--quick", help="Fewer training steps and eval examples: about 3 minutes on 2 CPU cores.")
    ] = False,
    workdir: Annotated[
        Path, typer.Option(help="Folder for everything the demo writes; a second run there resumes.")
    ] = Path("tunewise-demo"),
    base_model: Annotated[
        Optional[str],
        typer.Option(
            help="A real base model (folder or cached Hub name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct); default: a smoke-test model built here."
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="No progress; print the stage record (demo.json) as one JSON object.")
    ] = False,
) -> None:
    """Validate, plan (the agent, approved by the demo), index, train a LoRA, evaluate, deploy and serve: offline, on examples/."""
    import json
    import os

    from agent.console import print_json
    from agent.demo.driver import run
    from agent.demo.record import DemoOptions

    folder = workdir.expanduser().resolve()
    # The demo's sessions, runs and index live inside its folder, so it never touches the user's own .tunewise.
    os.environ["TUNEWISE_HOME"] = str(folder / ".tunewise")
    if base_model is None:
        # The smoke-test model's 128-wide matrices gain nothing from a second thread, and on cores other work shares,
        # OpenMP's spinning threads made training 4-6x slower (measured at load 5 on 2 cores). Set before torch loads,
        # so this process, the training worker and the server all inherit it; an explicit setting wins.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    started = time.perf_counter()
    view = None if json_out else _View()
    try:
        record = run(folder, DemoOptions(quick=quick, base_model=base_model), view.emit if view else (lambda e: None))
    finally:
        if view:
            view.close()
    seconds = time.perf_counter() - started
    if json_out:
        print_json(json.dumps({**record, "workdir": str(folder), "seconds": round(seconds, 1)}))
        return
    _finish(record, folder, seconds)


class _View:
    """The demo's stage events drawn by the one display (agent/run_view.py): a live line per stage on a terminal,
    then a plain line that stays with its time and result.
    """

    def __init__(self) -> None:
        from agent.console import console
        from agent.run_view import RunView

        self.view = RunView(console)

    def emit(self, event: dict[str, Any]) -> None:
        from tools.progress import Update

        kind, stage = event.get("event"), str(event.get("stage") or "")
        if kind == "note":
            self.view.note(event["message"])
        elif kind == "stage" and event.get("earlier"):
            self.view.finish(
                stage, event["status"], summary=f"earlier run, {event.get('seconds')} s: {event.get('summary') or ''}"
            )
        elif kind == "stage" and event["status"] in ("running", "resuming"):
            self.view.start(stage, resuming=event["status"] == "resuming")
        elif kind == "stage":
            self.view.finish(stage, event["status"], seconds=event.get("seconds"), summary=event.get("summary") or "")
        elif kind == "progress":
            self.view.update(
                stage,
                Update(
                    done=event.get("done"),
                    total=event.get("total"),
                    unit=event.get("unit"),
                    stage=event.get("what"),
                    metrics=event.get("metrics") or {},
                ),
            )

    def close(self) -> None:
        self.view.close()


# What the demo's first screen says when no --base-model was given (the terminal summary and the HTML report).
SMOKE_FIRST = (
    "This run used a SMOKE-TEST model with random weights, so every stage ran end to end but its answers and scores "
    "are noise. A real run shows the same stages with an answer in the house style drawn from the cited help pages, "
    "and evaluation scores that compare the models for real: `tunewise demo --base-model "
    "HuggingFaceTB/SmolLM2-135M-Instruct` (270 MB, trains on a laptop's CPU) or any local model folder."
)


def _finish(record: dict, folder: Path, seconds: float) -> None:
    from agent.console import console

    stages = record["stages"]
    say = lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    served = stages.get("serve") or {}
    if (stages.get("model") or {}).get("smoke_test"):  # said first: what follows is noise, and how to get a real run
        say(f"\n{SMOKE_FIRST}")
    if served.get("answer") is not None:
        say("\nserved answer (through `tunewise serve` and the openai client):")
        lines = [line for line in served["answer"].strip().splitlines() if line.strip()]
        say(
            "  "
            + "\n  ".join(lines[:ANSWER_LINES])
            + (
                f"\n  … ({len(lines) - ANSWER_LINES} more lines in {served['path']})"
                if len(lines) > ANSWER_LINES
                else ""
            )
        )
        for i, source in enumerate(served.get("sources", []), 1):
            say(f"  [{i}] {source['source']}#{source['chunk']}  score {source['score']}")
    say(f"\nreport: {(stages.get('report') or {}).get('path')}")
    if (stages.get("deploy") or {}).get("path"):
        say(f"serve it again: tunewise serve {stages['deploy']['path']}")
    say(f"session: TUNEWISE_HOME={folder / '.tunewise'} tunewise sessions  ·  finished in {seconds:.0f} s")


def register(app: typer.Typer) -> None:
    """Add `tunewise demo` to `app`."""
    app.command("demo")(demo)
