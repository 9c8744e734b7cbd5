"""The demo's last live step: `tunewise serve` on a free loopback port, one question through the real openai client,
the answer and its sources kept in WORKDIR/served.json, and the server stopped again.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from tools.errors import TunewiseError

QUESTION = (
    "Hi, Tomasz here. My bike was stolen from outside the station last night. I'm on Commuter Plus, "
    "what do I do now and how much will it cost me?"
)
STARTUP_SECONDS = 240  # loading torch, the model and MiniLM on 2 busy cores takes well under a minute; be patient
MAX_TOKENS = 160


def free_port() -> int:
    """Return a port the kernel just handed out on loopback (released again for the server to bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, emit: Callable[[dict], None]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text("utf-8", errors="replace").strip().splitlines()[-1:] if log.exists() else []
            raise TunewiseError(
                f"`tunewise serve` exited with code {proc.returncode} ({' '.join(tail)[:200]})",
                path=str(log),
                hint="its log has the whole output",
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        emit({"event": "progress", "stage": "serve", "done": None, "total": None, "what": "loading the deployment"})
        time.sleep(0.5)
    raise TunewiseError(
        f"`tunewise serve` was not ready after {STARTUP_SECONDS} s",
        path=str(log),
        hint="the machine may be overloaded; run the demo again (finished stages are kept)",
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly on Ctrl-C
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ask_served(deployment: Path, workdir: Path, emit: Callable[[dict], None]) -> dict:
    """Serve `deployment`, ask QUESTION through the openai client, and return (and save) the answer and sources."""
    from tools.atomic import write_json
    from tools.clients import get_openai_client

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / "serve.log"
    command = [sys.executable, "-m", "agent.cli", "serve", str(deployment), "--host", "127.0.0.1", "--port", str(port)]
    emit({"event": "note", "stage": "serve", "message": f"$ tunewise serve {deployment} --port {port}"})
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait_ready(proc, base, log, emit)
        emit({"event": "progress", "stage": "serve", "done": None, "total": None, "what": "asking one question"})
        client = get_openai_client(base_url=f"{base}/v1", max_retries=0, timeout=300)
        name = client.models.list().data[0].id
        started = time.perf_counter()
        resp = client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": QUESTION}], max_tokens=MAX_TOKENS, temperature=0
        )
        seconds = time.perf_counter() - started
    except Exception as exc:  # an openai error from the local server: one line, the log keeps the rest
        if isinstance(exc, TunewiseError):
            raise
        from tools.openai_errors import openai_error

        said = openai_error(exc, "asking `tunewise serve` one question", who="`tunewise serve`")
        raise TunewiseError(said.message, path=str(log), hint="the server's log is here") from exc
    finally:
        _stop(proc)
    extra = (resp.model_extra or {}).get("tunewise") or {}
    served = {
        "base_url": f"{base}/v1",
        "model": name,
        "question": QUESTION,
        "answer": resp.choices[0].message.content or "",
        "finish_reason": resp.choices[0].finish_reason,
        "sources": extra.get("sources", []),
        "seconds": round(seconds, 2),
        "usage": resp.usage.model_dump() if resp.usage else None,
    }
    write_json(workdir / "served.json", served)
    return served
