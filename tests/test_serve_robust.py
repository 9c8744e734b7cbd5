"""`tunewise deploy` and `tunewise serve` on small context windows, malformed bodies and a real terminal.

Thirty help-centre pages are indexed with the real local embedder; tiny Llama models are built from a config with
windows of 512 and 1024 tokens and a tokenizer trained on the pages (so a page is a few hundred tokens, as with a
real model). The server runs under uvicorn on loopback and is called with the real `openai` client.
"""

from __future__ import annotations

import json
import random
import socket
import sys
from pathlib import Path

import httpx
import openai
import pytest
from typer.testing import CliRunner

from tests.fakes.help_centre import write_pages
from tests.test_serve import serving
from tools.serving.app import create_app
from tools.serving.protocol import Limits


def own_clients(folder):
    """The deployment's own generator and retriever, as `tunewise serve` builds them."""
    from tools.builders import deployment_clients

    generator, retriever = deployment_clients(folder)
    return {"generator": generator, "retriever": retriever}


REPO = Path(__file__).resolve().parents[1]
SYSTEM = "You answer questions about the bike shop from its help centre."
QUESTION = "How do refunds work?"


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    """(root, chroma folder): the pages indexed into 'help', a system prompt, and models m512 / m1024 / m_small."""
    from tests.fakes.tiny_model import corpus
    from tools.clients import get_chroma_client
    from tools.models.smoke import build
    from tools.rag.embedders import get_embedder
    from tools.rag.index import IndexInput
    from tools.rag.index import run as index

    root = tmp_path_factory.mktemp("centre")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("TOKENIZERS_PARALLELISM", "false")
        docs = write_pages(root / "docs")
        db = root / "chroma"
        index(
            IndexInput(paths=[docs], collection="help", db=db),
            client=get_chroma_client(db),
            embedder=get_embedder("local"),
        )
        prompts = [(REPO / "prompts" / f"{n}.md").read_text() for n in ("rag_context", "rag_passage")]
        texts = [p.read_text() for p in sorted(docs.glob("*.md"))] * 3 + prompts * 3 + corpus(400)
        for window in (512, 1024):
            build(root / f"m{window}", texts, vocab_size=1024, max_positions=window)
        build(root / "m_small", texts, vocab_size=1024, max_positions=1024)  # its window is cut after deploying
    (root / "system.txt").write_text(SYSTEM)
    return root, db


def _deploy(root: Path, db: Path, model: str, out: str, k: int):
    from tools.clients import get_chroma_client
    from tools.deploy.deploy import DeployInput, run

    return run(
        DeployInput(
            model=f"hf:{root / model}",
            collection="help",
            db=db,
            k=k,
            system_prompt_file=root / "system.txt",
            out=root / out,
        ),
        client=get_chroma_client(db),
    )


@pytest.fixture(scope="module")
def served(centre):
    """The 1024-token model deployed with -k 4 and served; yields (deploy result, base URL, app)."""
    root, db = centre
    result = _deploy(root, db, "m1024", "helpdesk", k=4)
    app = create_app(
        root / "helpdesk", **own_clients(root / "helpdesk"), limits=Limits(max_tokens=64, default_max_tokens=512)
    )
    with serving(app) as url:
        yield result, url, app


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="unused", base_url=url, max_retries=0, timeout=60)


def test_deploy_refuses_a_512_token_model_that_could_never_carry_a_passage(centre):
    from agent.cli import app

    root, db = centre
    out = CliRunner().invoke(
        app,
        [
            "deploy",
            "--model",
            f"hf:{root / 'm512'}",
            "--collection",
            "help",
            "--db",
            str(db),
            "-k",
            "3",
            "--system-prompt-file",
            str(root / "system.txt"),
            "--out",
            str(root / "small"),
        ],
    )
    assert out.exit_code == 1, out.output
    error = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "Traceback" not in out.output
    assert "context is 512 tokens" in error[0] and "would never carry a source" in error[0]
    assert "--chunk-tokens" in error[0] and "longer context" in error[0]  # the fix, in the same line
    assert not (root / "small").exists(), "nothing is written for a refused deployment"


def test_a_1024_token_model_with_k4_answers_with_the_passages_that_fit(served):
    result, url, app = served
    budget = result.budget
    assert budget.window == 1024 and budget.k == 4 and 1 <= budget.fits_k < 4 and budget.needed > 1024
    assert any("lowest-ranked passages will be dropped" in w for w in result.warnings)

    ranked = app.state.engine.retriever.search(QUESTION, k=4)
    client = _client(url)
    for kwargs in ({"max_tokens": 8}, {}, {"max_tokens": 8, "stream": True, "stream_options": {"include_usage": True}}):
        resp = client.chat.completions.create(
            model="helpdesk", messages=[{"role": "user", "content": QUESTION}], **kwargs
        )
        last = list(resp)[-1] if kwargs.get("stream") else resp
        extension, usage = last.model_extra["tunewise"], last.usage
        used = extension["sources"]
        assert 1 <= len(used) < 4 and extension["dropped_sources"] == 4 - len(used)
        assert [s["id"] for s in used] == [h.id for h in ranked[: len(used)]], "dropped lowest rank first"
        assert usage.prompt_tokens + kwargs.get("max_tokens", 0) <= 1024 and usage.total_tokens <= 1024

    # Passages give way, the conversation does not: one that cannot fit is still OpenAI's 400.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="helpdesk", max_tokens=8, messages=[{"role": "user", "content": "refunds and returns " * 400}]
        )
    assert info.value.body["code"] == "context_length_exceeded"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_start_up_failure_in_a_terminal_is_one_line_exit_2_without_library_noise(centre, tmp_path):
    """The real command in a pseudo-terminal: the screen holds tunewise's lines only (library import noise goes to
    the log file), and a deployment that cannot answer a one-word question is one line and exit code 2."""
    import os

    import pexpect

    root, db = centre
    _deploy(root, db, "m_small", "cut", k=1)
    # The base model's window is cut below what the system prompt needs: the warm-up request cannot be answered.
    config = json.loads((root / "m_small" / "config.json").read_text())
    (root / "m_small" / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 16}))
    home = tmp_path / "home"
    env = {
        "PYTHONPATH": str(REPO),
        "TUNEWISE_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TERM": "dumb",
        "TIKTOKEN_CACHE_DIR": os.environ.get("TIKTOKEN_CACHE_DIR", ""),
    }
    args = ["-m", "agent.cli", "serve", str(root / "cut"), "--port", str(_free_port())]
    child = pexpect.spawn(sys.executable, args, env=env, encoding="utf-8", timeout=300, dimensions=(50, 400))
    child.expect(pexpect.EOF)
    child.close()
    screen = [line for line in child.before.replace("\r", "").splitlines() if line.strip()]
    assert child.exitstatus == 2, screen
    assert len(screen) == 2 and screen[0] == f"loading {root / 'cut'} ...", screen
    assert screen[1].startswith("error: ") and "maximum context length is 16 tokens" in screen[1]
    assert "longer context" in screen[1] and "Traceback" not in child.before


def _mutations(rng: random.Random, valid: dict) -> bytes:
    """One body: mostly a valid request with one thing broken, sometimes garbage, now and then the valid one."""
    junk = [None, True, -1, 0, 2**70, 1e308, "", "x" * 50, [], {}, [[[]]], {"a": {"b": {}}}, "\ud800", 3.5, "NaN"]
    body = json.loads(json.dumps(valid))
    if rng.random() < 0.03:
        return json.dumps(body).encode()  # a few valid requests between the broken ones
    kind = rng.randrange(11)
    if kind == 0:
        body[rng.choice(list(body))] = rng.choice(junk)
    elif kind == 1:
        body.pop(rng.choice(list(body)))
    elif kind == 2:
        body[
            rng.choice(
                [
                    "tools",
                    "n",
                    "stop",
                    "temperature",
                    "stream",
                    "stream_options",
                    "max_completion_tokens",
                    "user",
                    "logprobs",
                ]
            )
        ] = rng.choice(junk)
    elif kind == 3:
        body["messages"][0][rng.choice(["role", "content", "name", "tool_calls"])] = rng.choice(junk)
    elif kind == 4:
        body["messages"] = rng.choice(junk)
    elif kind == 5:
        depth = rng.choice([10, 500, 5000, 100_000])
        return rng.choice([b"[" * depth, b'{"model": ' + b"[" * depth, b'{"a":' * depth + b"1" + b"}" * depth])
    elif kind == 6:
        raw = bytearray(json.dumps(body).encode())
        for _ in range(rng.randint(1, 6)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw)
    elif kind == 7:
        raw = json.dumps(body).encode()
        return raw[: rng.randrange(len(raw))]
    elif kind == 8:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    elif kind == 9:
        return rng.choice(
            [
                b"",
                b"null",
                b"1",
                b'"x"',
                b"NaN",
                b"9" * 5000,
                b'{"model": ' + b"9" * 5000 + b"}",
                b'{"max_tokens": 1e999}',
                b'{"model": "helpdesk", "messages": [{"role": "user", "content": "\\udfff"}]}',
                b"\xff\xfe{}",
                json.dumps([body]).encode(),
            ]
        )
    elif kind == 10:
        body["messages"] = body["messages"] * rng.choice([2, 101]) + [
            {"role": rng.choice(["assistant", "system"]), "content": "x"}
        ]
    return json.dumps(body).encode()


def test_no_body_gets_a_5xx(served):
    """2,400 seeded random and mutated bodies against the running server: every one is answered, none with a 5xx."""
    _, url, _ = served
    rng = random.Random(18)
    valid = {"model": "helpdesk", "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 1}
    statuses: dict[int, int] = {}
    bad: list[tuple[int, bytes, str]] = []
    with httpx.Client(timeout=60) as http:
        for _ in range(2400):
            body = _mutations(rng, valid)
            ctype = rng.choice(["application/json", "text/plain", "application/x-www-form-urlencoded"])
            resp = http.post(f"{url}/chat/completions", content=body, headers={"content-type": ctype})
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
            if resp.status_code >= 500:
                bad.append((resp.status_code, body[:200], resp.text[:200]))
            elif resp.status_code >= 400:
                error = resp.json()["error"]
                assert set(error) == {"message", "type", "param", "code"}, resp.text
    assert not bad, bad[:5]
    assert statuses.get(200, 0) >= 30 and sum(v for k, v in statuses.items() if 400 <= k < 500) >= 1500, statuses
