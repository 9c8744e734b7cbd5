"""Fake execution runners that record every call, for the pipeline's tests (the real ones spend money).

Each call appends {"step", "resume", "pid"} to the JSONL log named by TUNEWISE_TEST_STEP_LOG. TUNEWISE_TEST_SLOW
names a step that sleeps on its first (non-resumed) attempt, so a test can kill the process inside it;
TUNEWISE_TEST_DIE names a step that SIGKILLs its own process on its first attempt.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from graphs.state import DeployStepResult, EvalStepResult, StepResult


def _runner(name: str):
    def run(ctx) -> StepResult:
        log = Path(os.environ["TUNEWISE_TEST_STEP_LOG"])
        with log.open("a") as fh:
            fh.write(json.dumps({"step": name, "resume": ctx.resume, "pid": os.getpid()}) + "\n")
        if not ctx.resume and os.environ.get("TUNEWISE_TEST_DIE") == name:
            os.kill(os.getpid(), signal.SIGKILL)
        if not ctx.resume and os.environ.get("TUNEWISE_TEST_SLOW") == name:
            time.sleep(60)
        ctx.check_cost(ctx.step.cost_usd)
        if name == "eval":
            return EvalStepResult(
                status="done", verdict="tuned beats prompted on format adherence (fake)", winner=None, report_dir=""
            )
        if name == "deploy":
            path = str(ctx.run_dir / "deployment")
            return DeployStepResult(status="done", path=path, name="fake", model="fake", collection="", content_hash="")
        return StepResult(status="done", message=f"{name} (fake)")

    return run


RUNNERS = {name: _runner(name) for name in ("split", "index", "train", "eval", "deploy")}


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
