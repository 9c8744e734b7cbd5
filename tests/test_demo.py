"""`tunewise demo --quick` end to end as a real subprocess on a clean folder: every stage's artefact, then a resume.

One demo run (about 70 s on 2 idle cores) feeds every assertion; the second run in the same folder redoes only the
stage whose record was removed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SHARED
from tools.errors import TunewiseError

REPO = Path(__file__).resolve().parents[1]
STAGES = ["validate", "model", "plan", "split", "index", "train", "eval", "deploy", "serve", "report"]


def _tunewise(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """The installed entry point, as a user runs it, in the offline environment conftest gives each test (a
    module-scoped fixture runs before that autouse fixture, so the environment is spelled out here)."""
    entry = Path(sys.executable).with_name("tunewise")
    command = [str(entry)] if entry.exists() else [sys.executable, "-m", "agent.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUNEWISE_"))}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TIKTOKEN_CACHE_DIR=os.environ.get("TIKTOKEN_CACHE_DIR") or str(SHARED / "tiktoken-cache"),
    )
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=Path(args[args.index("--workdir") + 1]).parent,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo") / "run"
    started = time.perf_counter()
    done = _tunewise("demo", "--quick", "--workdir", str(work))
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads((work / "demo.json").read_text())
    return work, record, done.stdout, seconds


def test_every_stage_ran_and_said_so(demo):
    work, record, stdout, _ = demo
    assert [name for name in STAGES if record["stages"][name]["status"] == "done"] == STAGES
    lines = [line for line in stdout.splitlines() if line.startswith("✓ ")]
    assert [line.split()[1] for line in lines] == STAGES  # a line per stage, in order
    assert "Traceback" not in stdout and "Failed to load" not in stdout
    assert "SMOKE-TEST" in stdout and f"report: {work / 'report.html'}" in stdout


def test_validation_split_and_smoke_model(demo):
    from tools.models.smoke import is_smoke_model

    work, record, _, _ = demo
    validation = json.loads((work / "validation.json").read_text())
    assert validation["examples"] == validation["valid_examples"] == 339 and validation["errors"] == []
    split = record["stages"]["split"]
    train, held = Path(split["train"]).read_text().splitlines(), Path(split["eval"]).read_text().splitlines()
    assert len(train) + len(held) == 339 and len(held) == 33
    assert not {json.dumps(json.loads(x)["messages"][1]) for x in train} & {
        json.dumps(json.loads(x)["messages"][1]) for x in held
    }
    model = Path(record["stages"]["model"]["base_model"])
    assert is_smoke_model(model) and (model / "README.md").read_text().startswith("# SMOKE-TEST MODEL")


def test_session_holds_the_agents_approval(demo):
    from graphs.pipeline import build, session_saver
    from tools.approval import plan_hash

    work, record, _, _ = demo
    conn = sqlite3.connect(str(work / ".tunewise" / "sessions.sqlite"))
    try:
        values = (
            build(checkpointer=session_saver(conn)).get_state({"configurable": {"thread_id": record["session"]}}).values
        )
    finally:
        conn.close()
    assert values["status"] == "completed" and values["recommendation"].approach == "fine_tune_rag"
    approval = values["approval"]  # typed in the state (tools.approval.Approval), as the checkpoint rebuilt it
    assert approval.approved_by == "tunewise demo" and approval.plan_hash == plan_hash(values["plan"].as_json())
    assert record["stages"]["plan"]["plan_hash"] == approval.plan_hash
    train_inputs = values["plan"].step("train").inputs
    assert train_inputs.backend == "unsloth" and train_inputs.max_steps == 60  # the quick preset, via the plan
    assert set(values["executed"]) == {"split", "index", "train", "eval", "deploy"}


def test_index_holds_every_chunk_of_every_page(demo):
    from tools.clients import get_chroma_client
    from tools.rag import loaders
    from tools.rag.chunking import chunk_sections, token_counter
    from tools.rag.embedders import LocalEmbedder
    from tools.rag.index import IndexInput, effective_chunk_tokens

    work, record, _, _ = demo
    pages = sorted(p for p in (REPO / "examples" / "helpcentre").iterdir() if p.is_file())
    defaults, embedder = IndexInput(paths=[pages[0]], collection="x"), LocalEmbedder()  # tokenizer only, no weights
    size = effective_chunk_tokens(defaults.chunk_tokens, embedder)
    expected = sum(
        len(chunk_sections(loaders.load(p), max_tokens=size, overlap=defaults.overlap, count=token_counter(embedder)))
        for p in pages
    )
    collection = get_chroma_client(Path(record["stages"]["index"]["db"])).get_collection("larkspur")
    assert collection.count() == expected == record["stages"]["index"]["chunks"]
    sources = {m["source"] for m in collection.get(include=["metadatas"])["metadatas"]}
    assert sources == {str(p) for p in pages}


def test_adapter_eval_report_and_deployment(demo):
    from tools.deploy.deploy import load_deployment

    work, record, _, _ = demo
    stages = record["stages"]
    adapter = Path(stages["train"]["adapter"])
    assert (adapter / "adapter_model.safetensors").stat().st_size > 0
    run = json.loads((adapter.parent / "run.json").read_text())
    assert run["status"] == "succeeded" and run["backend"] == "unsloth" and run["steps"] == 60
    assert (
        json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
        == stages["model"]["base_model"]
    )
    report = json.loads((Path(stages["eval"]["report_dir"]) / "report.json").read_text())
    assert [c["name"] for c in report["candidates"]] == ["tuned", "tuned_rag", "base", "prompted", "prompted_rag"]
    assert {c["n"] for c in report["candidates"]} == {6} and report["verdict"]
    assert Path(stages["eval"]["report_html"]).is_file()
    deployment = load_deployment(Path(stages["deploy"]["path"]))  # verifies every file's hash too
    assert deployment.model.adapter == "adapter" and deployment.retrieval.collection == "larkspur"
    assert deployment.system_prompt.startswith("You are the support assistant for Larkspur Cycles")


def test_served_answer_names_its_sources(demo):
    work, record, stdout, _ = demo
    served = json.loads((work / "served.json").read_text())
    assert served["base_url"].startswith("http://127.0.0.1:") and served["model"] == "deployment"
    assert served["answer"] and served["usage"]["completion_tokens"] > 0
    assert len(served["sources"]) == 4
    assert all(s["source"].startswith(str(REPO / "examples" / "helpcentre")) for s in served["sources"])
    assert any(s["source"].endswith("theft.md") for s in served["sources"])  # the question is about a theft
    assert "POST /v1/chat/completions 200" in (work / "serve.log").read_text()
    html = (work / "report.html").read_text()
    assert "SMOKE-TEST" in html and "tuned_rag" in html and "theft.md" in html


def test_a_second_run_resumes_instead_of_repeating(demo):
    work, record, _, first_seconds = demo
    adapter = Path(record["stages"]["train"]["adapter"]) / "adapter_model.safetensors"
    before = adapter.stat().st_mtime_ns
    data = json.loads((work / "demo.json").read_text())
    del data["stages"]["report"]  # as if the first run died just before its last stage
    (work / "demo.json").write_text(json.dumps(data))
    started = time.perf_counter()
    again = _tunewise("demo", "--quick", "--workdir", str(work), "--json")
    seconds = time.perf_counter() - started
    assert again.returncode == 0, again.stderr[-3000:]
    out = json.loads(again.stdout)
    assert out["runs"][-1]["stages_done_before"] == sorted(s for s in STAGES if s != "report")
    for name in STAGES[:-1]:
        assert out["stages"][name]["finished_at"] == record["stages"][name]["finished_at"]
    assert out["stages"]["report"]["status"] == "done" and adapter.stat().st_mtime_ns == before
    ledger = json.loads((adapter.parents[2] / "ledger.json").read_text())
    assert {step: entry["attempts"] for step, entry in ledger.items()} == dict.fromkeys(ledger, 1)
    assert seconds < first_seconds / 5


def test_a_folder_made_with_other_options_is_refused(demo, tmp_path):
    work, _, _, _ = demo
    copy = tmp_path / "copy"
    shutil.copytree(work, copy, ignore=shutil.ignore_patterns("models", ".tunewise"))
    done = _tunewise("demo", "--workdir", str(copy))  # not --quick
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "holds a demo made with" in done.stderr and len(done.stderr.strip().splitlines()) <= 2


def test_run_settings_reach_the_plan_and_bad_ones_are_one_error():
    from graphs.plan import run_option, run_options

    preset = {
        "max_steps": "40",
        "lr": "0.01",
        "gradient_checkpointing": "off",
        "eval_examples": "6",
        "max_new_tokens": "48",
        "base_model": "x",
    }
    assert run_options(preset, "train") == {"max_steps": 40, "lr": 0.01, "gradient_checkpointing": False}
    assert run_options(preset, "eval") == {"examples": 6, "max_new_tokens": 48}
    for key, value in (("max_steps", "many"), ("lr", "-1"), ("gradient_checkpointing", "maybe")):
        with pytest.raises(TunewiseError) as err:
            run_option(key, value)
        assert err.value.exit_code == 2 and key in str(err.value)
