"""Runs the agent graph in its own process, so a test can SIGKILL it mid-execution and run it again.

    python -m tests.fakes.agent_worker DB SESSION GOAL DATA   # start, or resume whatever is pending

Starts a non-interactive session when the database has none, approves it at the approval interrupt, and
otherwise continues from the last checkpoint. The runners are tests/fakes/step_runners.py's.
"""

from __future__ import annotations

import sqlite3
import sys

from langgraph.types import Command

from agent.interviewer.offline import OfflineInterviewer
from graphs.pipeline import build, session_saver
from graphs.state import Context
from tests.fakes.step_runners import RUNNERS
from tools.machine import Machine


def main(db: str, session: str, goal: str, data: str) -> None:
    conn = sqlite3.connect(db, check_same_thread=False)
    graph = build(checkpointer=session_saver(conn))
    config = {"configurable": {"thread_id": session}}
    # The fake runners train nothing, but the plan prices the default 8B: a machine with a GPU lets the train step start.
    gpu = Machine(gpus=["fake GPU"], gpu_memory_gib=[80.0], cpu_cores=2)
    ctx = Context(interviewer=OfflineInterviewer(), runners=RUNNERS, approved_by="test", machine=gpu)
    snap = graph.get_state(config)
    payload = (
        None
        if snap.values
        else {"session": session, "goal": goal, "data_path": data, "interactive": False, "today": "2026-11-01"}
    )
    while True:
        graph.invoke(payload, config, context=ctx, durability="sync")
        snap = graph.get_state(config)
        if not snap.interrupts:
            break
        payload = Command(resume="approve")
    print(snap.values["status"])


if __name__ == "__main__":
    main(*sys.argv[1:5])
