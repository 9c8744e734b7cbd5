"""Run the unsloth backend in a fresh Python process and relay its progress events.

unsloth must be imported before transformers / trl / peft and patches them process-wide, so it gets a process of
its own (see `tools.train.unsloth_backend`). The worker's stdout and stderr (unsloth's banner, which names the
device it trains on, and any traceback) go to OUTPUT/train.log; its events come back as JSON lines on a pipe.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tools.errors import TunewiseError
from tools.progress import Progress
from tools.train.config import TrainInput
from tools.train.device import detect_cpu_bf16
from tools.train.metrics import update_of

_REPO = Path(__file__).resolve().parents[2]  # where `tools` is importable from, installed or not


def run(inp: TrainInput, *, resume_from: str | None, progress: Progress, log_path: Path) -> dict[str, Any]:
    """Train in a child process; return its result, or raise its error as a TunewiseError."""
    read_fd, write_fd = os.pipe()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO), env.get("PYTHONPATH", "")) if p)
    # unsloth's CPU internals (its bf16 trainer flags, 4-bit probe) must agree with the dtype tools.train.device picks
    env["UNSLOTH_CPU_BF16"] = "1" if detect_cpu_bf16() else "0"
    spec = json.dumps({"input": inp.model_dump(mode="json"), "resume_from": resume_from})
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.train.unsloth_backend", "--events-fd", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            env=env,
        )
    os.close(write_fd)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    try:
        assert proc.stdin is not None
        proc.stdin.write(spec.encode())
        proc.stdin.close()
        with os.fdopen(read_fd, "r", encoding="utf-8") as events:
            for line in events:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                kind = event.get("event")
                if kind == "result":
                    result = event
                elif kind == "error":
                    error = event
                elif kind == "interrupted":
                    raise KeyboardInterrupt
                elif (update := update_of(event)) is not None:
                    progress(update)
        code = proc.wait()
    except KeyboardInterrupt:
        _stop(proc)
        raise
    if error is not None:
        raise TunewiseError.from_event(error)
    if result is None or code != 0:
        raise TunewiseError(
            f"the unsloth training process ended with code {code} before finishing",
            path=str(log_path),
            hint="read the log; it may have run out of memory",
        )
    result.pop("event", None)
    return result


def _stop(proc: subprocess.Popen) -> None:
    """Let the worker stop at a step boundary (it gets the same Ctrl-C), then make sure it is gone."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
