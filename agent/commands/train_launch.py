"""`tunewise train --launcher accelerate`: the launching side (check, approve once, spawn, relay) and the rank side
(what `tunewise train` does when a launcher started it as one of N processes).

A rank knows it is one from the variables torchrun sets (RANK, WORLD_SIZE). Rank 0 checks the data and the run
folder and tells the others where to resume; then every rank trains and only rank 0 writes. When our own launcher
started the ranks (TUNEWISE_EVENTS is set), rank 0 reports through event lines on stdout instead of printing.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Protocol

from tools.errors import TunewiseError
from tools.progress import Update
from tools.train.config import TrainInput

if TYPE_CHECKING:
    from tools.train.config import TrainResult
    from tools.train.preflight import Preflight

Approve = Callable[["Preflight"], None]


class Display(Protocol):
    """The command's progress display: a `Progress` callback that is shown while its `with` block runs."""

    def __call__(self, update: Update) -> None:
        """Show one update."""

    def __enter__(self) -> Any:
        """Start showing."""

    def __exit__(self, *exc: object) -> None:
        """Stop showing."""


def world() -> tuple[int, int] | None:
    """(rank, world size) when a launcher (torchrun, `accelerate launch`) started this process; None otherwise.

    A world of one counts too: `--processes 1` still reports through the launcher's event lines.
    """
    if "LOCAL_RANK" not in os.environ:
        return None
    try:
        return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return None


def dry_run(inp: TrainInput, *, processes: int | None, json_out: bool) -> None:
    """Check the run, write its accelerate config and print the command to start it on the multi-GPU machine;
    trains nothing.
    """
    import torch

    from agent.console import console, print_json
    from tools.train.launcher import check, plan
    from tools.train.preflight import preflight

    check(inp, processes or 2)
    preflight(inp)  # the printed command must not fail on the data or the run folder
    result = plan(inp, processes=processes, gpus=torch.cuda.device_count())
    if json_out:
        print_json(result.model_dump_json())
        return
    console.print(
        f"accelerate config written to {result.config_file} ({result.num_processes} processes, FSDP2)",
        markup=False,
        soft_wrap=True,
    )
    console.print("run on the multi-GPU machine:", markup=False)
    console.print(f"  {result.command}", markup=False, soft_wrap=True)
    for note in result.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)


def launch(inp: TrainInput, *, processes: int | None, approve: Approve, progress: Display) -> TrainResult:
    """Check and approve once here, then run every process through `accelerate launch`; return rank 0's result."""
    from tools.train.launcher import check, run
    from tools.train.preflight import preflight

    check(inp, processes or 1)
    approve(preflight(inp))
    with progress:
        return run(inp, processes=processes, progress=progress)


def as_rank(
    inp: TrainInput,
    *,
    rank: int,
    size: int,
    approve: Approve,
    progress: Display,
    json_out: bool,
    render: Callable[[Any], None],
) -> None:
    """One process of a launched run: rank 0 checks, writes and reports; the others train."""
    import torch

    from tools.train import distributed
    from tools.train.launcher import EVENTS_ENV, check
    from tools.train.metrics import update_event
    from tools.train.preflight import Preflight, preflight
    from tools.train.run import run, run_rank

    check(inp, size)  # a hand-run `accelerate launch ... --backend unsloth` is refused by every rank alike
    events = bool(os.environ.get(EVENTS_ENV))
    distributed.start(rank=rank, cuda=torch.cuda.is_available())
    try:
        if rank != 0:
            shared = distributed.share(None)
            if shared is None:
                sys.exit(1)  # rank 0 could not start the run and says why
            run_rank(inp, resume_from=Preflight(**shared).resume_from)
            return
        report = (lambda update: _event_line(update_event(update))) if events else progress
        try:
            try:
                checked = preflight(inp)
                approve(checked)
            except BaseException:
                distributed.share(None)
                raise
            distributed.share(checked.model_dump())
            with _Quiet() if events else progress:
                result = run(inp, progress=report, checked=checked, processes=size, launcher="accelerate")
        except TunewiseError as exc:
            if events:
                _event_line(exc.to_event())
            raise
        if events:
            _event_line({"event": "result", **result.model_dump(mode="json")})
        elif json_out:
            from agent.console import print_json

            print_json(result.model_dump_json())
        else:
            render(result)
    finally:
        distributed.finish()


def _event_line(event: dict[str, Any]) -> None:
    """One event on stdout in a single write, so lines from other processes cannot split it."""
    from tools.train.launcher import EVENT_MARK

    os.write(1, ("\n" + EVENT_MARK + json.dumps(event, default=str) + "\n").encode())


class _Quiet:
    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
