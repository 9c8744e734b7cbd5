"""`tunewise serve --engine vllm` and `--upstream` (issue 25): the front keeps retrieval, the context budget and the
sources; generation goes to vLLM (a child on a loopback port) or to a server someone else runs.

The child is tests/fakes/fake_vllm, which takes vLLM's flags and serves its OpenAI routes under the names it was
started with, and the upstream is the fake OpenAI server listing models as vLLM does; the same flow against a real
vLLM (the CPU build in its own venv) is tests/test_vllm_real.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.test_serve import QUESTION, serving, world  # noqa: F401 - `world` is a module fixture used here
from tools.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
FAKE_VLLM = REPO / "tests" / "fakes" / "fake_vllm"


def test_upstream_serves_the_deployment_name_with_sources_and_its_window(world, monkeypatch):  # noqa: F811
    from tests.fakes.openai_server import FakeOpenAI
    from tools.builders import deployment_clients
    from tools.serving.app import create_app
    from tools.serving.upstream import Counted

    served = {"geo-bot": {"parent": "/base", "max_model_len": None}, "/base": {"max_model_len": 4096}}
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-users-openai-key")  # never sent to another server
    with FakeOpenAI(served=served, api_key="not-needed") as fake:
        fake.chat.script("Paris.", "Paris, streamed.")
        generator, retriever = deployment_clients(world / "geo-bot", upstream=fake.base_url)
        assert isinstance(generator, Counted)  # counted here, against the window the upstream reported
        app = create_app(world / "geo-bot", generator=generator, retriever=retriever, upstream=True)
        assert app.state.engine.window == 4096
        with serving(app) as url:
            client = openai.OpenAI(base_url=url, api_key="x")
            reply = client.chat.completions.create(model="geo-bot", messages=[{"role": "user", "content": QUESTION}])
            assert reply.choices[0].message.content == "Paris."
            assert reply.model_extra["tunewise"]["sources"]
            sent = fake.calls("POST", "/v1/chat/completions")[-1].body
            assert sent["model"] == "geo-bot" and "<<<begin context" in sent["messages"][-1]["content"]
            chunks = list(
                client.chat.completions.create(
                    model="geo-bot", stream=True, messages=[{"role": "user", "content": QUESTION}]
                )
            )
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris, streamed."
            assert fake.calls("POST", "/v1/chat/completions")[-1].body["stream"] is True


def test_an_upstream_that_does_not_serve_the_name_stops_serve_in_one_line(world, tmp_path):  # noqa: F811
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI(served={"other-model": {"max_model_len": 2048}}) as fake:
        url = fake.base_url
        result = CliRunner().invoke(app, ["serve", str(world / "geo-bot"), "--upstream", url, "--port", "8731"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith(f"error: the upstream at {url} does not serve 'geo-bot' (it serves: ")
    assert "other-model" in lines[-1] and "Traceback" not in result.output
    bad = CliRunner().invoke(app, ["serve", str(world / "geo-bot"), "--upstream", "http://127.0.0.1:9/api"])
    assert bad.exit_code == 2 and "does not end in /v1" in bad.output


def _serve_vllm(folder: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    args = [sys.executable, "-m", "agent.cli", "serve", str(folder), "--engine", "vllm", "--port", str(port)]
    args += ["--vllm-python", sys.executable, "--vllm-timeout", "60"]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(FAKE_VLLM), str(REPO)])
    return {**os.environ, "PYTHONPATH": path, "TUNEWISE_HOME": str(tmp_path / "home"), **extra}


def _wait(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("serve did not come up")


def test_serve_engine_vllm_starts_the_child_routes_the_adapter_name_and_stops_it(world, tmp_path):  # noqa: F811
    from tools.serving.vllm_child import free_port

    port = free_port()
    proc = _serve_vllm(world / "geo-bot", port, _env(tmp_path))
    try:
        _wait(f"http://127.0.0.1:{port}", proc)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x")
        reply = client.chat.completions.create(model="geo-bot", messages=[{"role": "user", "content": QUESTION}])
        assert reply.choices[0].message.content == "answered by geo-bot"  # the adapter's name, not the base
        assert reply.model_extra["tunewise"]["sources"]
        streamed = client.chat.completions.create(
            model="geo-bot", stream=True, messages=[{"role": "user", "content": QUESTION}]
        )
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "answered by geo-bot"
        log = (tmp_path / "home" / "logs" / "vllm-geo-bot.log").read_text()
        started = log.split("$ ", 1)[1].splitlines()[0]
        assert "--enable-lora --lora-modules geo-bot=" in started and "--max-lora-rank 8" in started
        assert "--chat-template" in started and "--host 127.0.0.1" in started
        child = int(next(line for line in log.splitlines() if line.startswith("fake vLLM:")) and _child_pid(started))
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert "vLLM is ready after" in out and "generation: vLLM at http://127.0.0.1:" in out
    assert not _alive(child)  # tunewise stopped, so did its vLLM


def _child_pid(argv_line: str) -> int:
    found = subprocess.run(["pgrep", "-f", argv_line.split(" --host ")[1][:60]], capture_output=True, text=True)
    return int(found.stdout.split()[0]) if found.stdout.split() else -1


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.2)
    return True


def test_a_vllm_that_dies_is_one_line_and_a_non_zero_exit(world, tmp_path):  # noqa: F811
    from tools.serving.vllm_child import free_port

    before = _serve_vllm(world / "geo-bot", free_port(), _env(tmp_path, FAKE_VLLM_FAIL="1"))
    out, _ = before.communicate(timeout=120)
    assert before.returncode == 1
    assert (
        out.strip()
        .splitlines()[-1]
        .startswith("error: vLLM exited with code 1 before it was ready: RuntimeError: Unsupported CPU attention")
    )
    port = free_port()
    during = _serve_vllm(world / "geo-bot", port, _env(tmp_path, FAKE_VLLM_DIE_AFTER="6"))
    out, _ = during.communicate(timeout=120)
    assert during.returncode == 1, out
    assert out.strip().splitlines()[-1].startswith("error: vLLM exited with code 3 while serving")
    assert "Traceback" not in out


def test_vllm_not_installed_is_a_clear_error(world, monkeypatch):  # noqa: F811
    monkeypatch.delenv("TUNEWISE_VLLM_PYTHON", raising=False)
    result = CliRunner().invoke(app, ["serve", str(world / "geo-bot"), "--engine", "vllm", "--port", "8732"])
    assert result.exit_code == 2 and "vLLM is not installed for this Python" in result.output
    assert "--vllm-python" in result.output


def test_the_vllm_command_carries_the_deployment_and_tensor_parallelism(world):  # noqa: F811
    from tools.deploy.deploy import load_deployment
    from tools.serving.vllm_child import vllm_argv

    folder = world / "geo-bot"
    argv = vllm_argv("py", load_deployment(folder), folder, port=9, tensor_parallel=4, extra=["--dtype=float32"])
    assert argv[:3] == ["py", "-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--lora-modules") + 1] == f"geo-bot={folder / 'adapter'}"
    assert argv[argv.index("--tensor-parallel-size") + 1] == "4" and argv[-1] == "--dtype=float32"
    with pytest.raises(UsageError):
        from tools.serving.upstream import check_served

        class Models:
            def list(self):
                return []

        check_served(type("C", (), {"models": Models()})(), "geo-bot", "http://x/v1")
    assert json.loads((folder / "deployment.json").read_text())["model"]["adapter"] == "adapter"
