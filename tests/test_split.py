"""`tunewise split`: deterministic, stratified, and nothing from train leaks into eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.test_validate import chat, write_jsonl
from tools.dataset.split import SplitInput, run
from tools.errors import TunewiseError
from tools.rag.embedders import get_embedder

runner = CliRunner()
PRODUCTS = ["desk", "chair", "lamp", "monitor", "keyboard", "mouse", "headset", "webcam", "dock", "cable"]
OPENERS = ["Hi team,", "Good morning.", "Hey there!", "Hello support,", "Quick question:", "Urgent:"]
PROBLEMS = [
    "it arrived scratched along one edge",
    "a screw is missing from the box",
    "it stopped working after a week",
    "my card was charged twice for it",
    "it never shipped at all",
    "the colour is not what I picked",
    "the manual is in the wrong language",
    "it makes a loud buzzing noise",
    "the box was soaked by rain",
]
CONTEXT = [
    "I work from home and rely on it daily",
    "it was a birthday present for my father",
    "our whole office ordered the same model",
    "I already contacted you by chat last week",
    "the courier left it at the wrong door",
    "I paid extra for express delivery",
    "it is for a school project",
]
ASKS = [
    "What are my options?",
    "Can I get a refund?",
    "Could you send a replacement?",
    "How long will a repair take?",
    "Is there a discount for the trouble?",
    "Who do I call about this?",
]


def story(i: int) -> str:
    import random

    rng = random.Random(i)
    return (
        f"{rng.choice(OPENERS)} my {PRODUCTS[i % 10]} from order {5000 + i * 37}: {rng.choice(PROBLEMS)}. "
        f"{rng.choice(CONTEXT).capitalize()}, and {rng.choice(CONTEXT)}. {rng.choice(ASKS)} {rng.choice(ASKS)}"
    )


def corpus() -> list[dict]:
    records = []
    for i in range(120):
        rec = chat(
            story(i), f"Sorry about the {PRODUCTS[i % 10]}.\n1. Reply with photo {i}.\n2. We ship a fix.\nBest, Acme"
        )
        rec["metadata"] = {"team": ["billing", "shipping", "returns"][i % 3]}
        records.append(rec)
    # near-duplicates of the first 15 (one word changed) and exact copies of the next 5, placed at the end
    for i in range(15):
        rec = chat(story(i).replace(" from order ", " from my order "), records[i]["messages"][-1]["content"])
        rec["metadata"] = records[i]["metadata"]
        records.append(rec)
    records += [json.loads(json.dumps(records[i])) for i in range(15, 20)]
    return records


def user_text(line: str) -> str:
    return next(m["content"] for m in json.loads(line)["messages"] if m["role"] == "user")


def test_near_duplicates_never_straddle_the_split(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", corpus())
    result = run(SplitInput(path=path, eval=0.25, out=tmp_path / "out"), embedder=None)
    train = (tmp_path / "out" / "train.jsonl").read_text().splitlines()
    evals = (tmp_path / "out" / "eval.jsonl").read_text().splitlines()
    assert len(train) + len(evals) == 140 and len(evals) == result.eval_examples
    assert abs(len(evals) - 35) <= 2
    assert result.groups >= 20 and result.grouped_examples >= 40  # the 15 near and 5 exact copies, at least
    train_users = {user_text(line).replace(" from my order ", " from order ") for line in train}
    for line in evals:
        assert user_text(line).replace(" from my order ", " from order ") not in train_users


def test_same_seed_same_split_and_other_seed_differs(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", corpus())
    run(SplitInput(path=path, eval=30, out=tmp_path / "a", seed=7), embedder=None)
    run(SplitInput(path=path, eval=30, out=tmp_path / "b", seed=7), embedder=None)
    run(SplitInput(path=path, eval=30, out=tmp_path / "c", seed=8), embedder=None)
    a, b, c = ((tmp_path / d / "eval.jsonl").read_text() for d in "abc")
    assert a == b and a != c
    assert len(a.splitlines()) == 30


def test_the_split_does_not_depend_on_the_interpreters_hash_salt(tmp_path: Path) -> None:
    """Text hashes are salted per interpreter; the clusters, and so the split, must not be."""
    import os
    import subprocess
    import sys

    path = write_jsonl(tmp_path / "d.jsonl", corpus())
    outputs = []
    for salt in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": salt}
        cmd = [
            sys.executable,
            "-m",
            "agent.cli",
            "split",
            str(path),
            "--eval",
            "30",
            "--seed",
            "7",
            "--out",
            str(tmp_path / salt),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outputs.append((tmp_path / salt / "eval.jsonl").read_text())
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 30


def test_stratified_by_metadata_keeps_proportions(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", corpus()[:120])
    result = run(SplitInput(path=path, eval=0.25, out=tmp_path / "o", stratify_by="team"), embedder=None)
    assert result.strata == {"billing": 10, "returns": 10, "shipping": 10}


def test_stratified_by_topic_cluster(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", corpus()[:120])
    result = run(
        SplitInput(path=path, eval=24, out=tmp_path / "o", stratify_by="cluster"), embedder=get_embedder("local")
    )
    assert len(result.strata) >= 2 and all(k.startswith("cluster-") for k in result.strata)
    assert abs(result.eval_examples - 24) <= len(result.strata)


def test_refuses_invalid_data_and_impossible_sizes_without_writing(tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", corpus()[:20] + ["{nope"])
    with pytest.raises(TunewiseError, match="validation error"):
        run(SplitInput(path=bad, eval=5, out=tmp_path / "o"), embedder=None)
    good = write_jsonl(tmp_path / "good.jsonl", corpus()[:20])
    with pytest.raises(TunewiseError):
        run(SplitInput(path=good, eval=20, out=tmp_path / "o"), embedder=None)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_cli(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", corpus())
    result = runner.invoke(app, ["split", str(path), "--eval", "0.1", "--out", str(tmp_path / "o"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["train_examples"] + data["eval_examples"] == 140
    manifest = json.loads((tmp_path / "o" / "split.json").read_text())
    assert manifest["seed"] == 42 and len(manifest["source_sha256"]) == 64
