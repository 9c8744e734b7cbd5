"""An approved plan as a person watches it (issue 31): `tunewise plan ... --approve` on the tests' tiny model, in a
real pseudo-terminal, and what the screen shows: a live line per step, the training loss, one finished line per
step with its time, one closing summary with the files and the spend, and no library progress bar."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.test_graphs import write_chat_data

REPO = Path(__file__).resolve().parents[1]
pexpect = pytest.importorskip("pexpect")
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
GOAL = "Answer in our house style from our help pages, which change monthly; chats stay on our servers."


def test_an_approved_run_draws_each_step_and_one_closing_summary(tmp_path):
    from tests.fakes.tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny", max_positions=4096)
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"p{i}.md").write_text(f"# Page {i}\nHow to reset a password, part {i}: open settings.\n")
    answers = {
        "prompt": "tried, it fell short",
        "problem": "both",
        "stability": "stable",
        "path": "it must stay on our servers",
        "base_model": str(model),
        "max_steps": "12",
        "eval_examples": "4",
        "max_new_tokens": "4",
    }
    args = ["-m", "agent.cli", "plan", GOAL, "--data", str(data), "--docs", str(docs)]
    args += [a for k, v in answers.items() for a in ("--answer", f"{k}={v}")]
    args += ["--non-interactive", "--approve"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm-256color", "COLUMNS": "150", "LINES": "50"}
    env["OMP_NUM_THREADS"] = "1"
    child = pexpect.spawn(
        sys.executable, args, env=env, cwd=str(tmp_path), encoding="utf-8", timeout=600, dimensions=(50, 150)
    )
    child.expect(pexpect.EOF)
    child.close()
    raw = ANSI.sub("", child.before)
    screen = " ".join(raw.replace("\r", "\n").split())
    assert child.exitstatus == 0, screen[-3000:]

    run = screen.split("Costed plan", 1)[1]
    for step in ("split", "index", "train", "eval", "deploy"):  # one finished line each, with its time
        assert len(re.findall(rf"✓ {step} ━{{20}} .*?\d+\.\d s ", run)) == 1, step
    assert re.search(r"✓ train ━{20} 12/12 steps \d+\.\d s 12/12 steps on cpu, loss \d+\.\d\d → \d+\.\d\d", run)
    assert re.search(r"… train ━*.*? \d+/12 steps \d:\d\d:\d\d ETA \d:\d\d:\d\d loss \d+\.\d\d, [\d,]+ tok/s", raw)

    assert run.count("Run finished:") == 1
    summary = run.split("Run finished:", 1)[1]
    assert summary.startswith(" fine_tune_rag · qlora_self_hosted")
    assert re.search(r"steps split done \d+\.\d s · index done .* · deploy done \d+\.\d s", summary)
    assert re.search(r"eval report \S+/eval/report\.html", summary)
    assert re.search(r"deployment (\S+/deployment) .*next tunewise serve \1", summary)
    assert "spent $0 of $0 approved" in summary
    for noise in ("it/s", "Loading weights", "Truncating", "%|", "Failed to load", "[transformers]"):
        assert noise not in raw, noise
