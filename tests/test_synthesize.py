"""`tunewise synthesize` (issue 26): a teacher drafts, the data checks and a judge filter, a person accepts.

Against the fake OpenAI server through the real `openai` client, seeded from the examples' chat file. The fake
teacher (tests/fakes/teacher.py) goes wrong the ways real ones do: copies of seeds, repeats, light edits of held-out
requests it was never shown, answers out of the house format, low judge scores.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.fakes.openai_server import openai_server  # noqa: F401 - the fixture
from tests.fakes.teacher import held_out_requests, teacher

SEEDS = Path(__file__).resolve().parents[1] / "examples" / "support_chat.jsonl"
TEACHER = "openai:gpt-6-luna"
JUDGE = "openai:gpt-3.5-turbo"  # priced, with no announced shutdown


def _synth(out: Path, n: int, *extra: str) -> tuple[int, str]:
    args = ["synthesize", str(SEEDS), "--n", str(n), "--teacher", TEACHER, "--judge", JUDGE, "--out", str(out)]
    result = CliRunner().invoke(app, [*args, *extra])
    assert not (result.exception and not isinstance(result.exception, SystemExit)), result.exception
    return result.exit_code, result.output


def _leaky(server, out: Path) -> None:
    split = out.parent / f"{out.stem}-review" / "split" / "eval.jsonl"
    server.chat.responder = teacher(lambda: held_out_requests(split))


def _requests(path: Path) -> list[str]:
    return [
        next(m["content"] for m in json.loads(x)["messages"] if m["role"] == "user") for x in path.open() if x.strip()
    ]


def test_200_drafts_are_valid_unique_and_far_from_the_held_out_split(openai_server, tmp_path):
    out = tmp_path / "more.jsonl"
    _leaky(openai_server, out)
    code, output = _synth(out, 200, "--yes", "--json")
    assert code == 0, output
    result = json.loads(output)
    c = result["counts"]
    assert c["drafted"] == 200
    assert c["drafted"] >= c["valid"] >= c["unique"] >= c["passed_judge"] > 100
    assert c["accepted"] == 0 and result["pending"] == c["passed_judge"]
    assert result["dropped"]["duplicate"] > 0 and result["dropped"]["near-duplicate"] > 0  # the teacher's copies
    assert result["dropped"]["format"] > 0  # answers out of the seeds' numbered-steps format
    rows = [json.loads(x) for x in Path(result["review_jsonl"]).open()]
    assert len(rows) == c["passed_judge"]
    for row in rows:
        p = row["provenance"]
        assert p["teacher"] == TEACHER and p["judge"] == JUDGE and len(p["prompt_hash"]) == 12
        assert p["seed_ids"] and p["score"] >= 4 and p["reason"]
        assert row["seed"]["messages"] and row["status"] == "pending"
    # they pass validate, as a training file of their own
    drafts = tmp_path / "drafts.jsonl"
    drafts.write_text("".join(json.dumps({"messages": r["messages"]}) + "\n" for r in rows))
    from tools.dataset.validate import ValidateInput, run

    checked = run(ValidateInput(path=drafts))
    assert checked.valid_examples == len(rows)
    assert checked.ok, checked.errors[:3]
    assert not {"duplicate", "near_duplicate"} & set(checked.warning_counts), checked.warning_counts
    # no exact duplicates among the drafts or of the real examples; nothing close to a held-out request
    asked = [r["messages"][-2]["content"] for r in rows]
    held, seeds = _requests(Path(result["held_out_file"])), _requests(Path(result["train_seeds_file"]))
    assert len(set(asked)) == len(asked) and not set(asked) & set(held + seeds)
    for text in asked:
        assert max(difflib.SequenceMatcher(None, text, h).ratio() for h in held) < 0.8, text
    # the teacher was never shown a held-out example
    shown = " ".join(json.dumps(r.body) for r in openai_server.calls("POST", "/v1/chat/completions"))
    assert not [h for h in held if json.dumps(h)[1:-1] in shown]
    assert result["cost_usd"] > 0 and result["cost_usd"] <= result["estimated_usd"]
    # nothing reaches training before a person accepts it
    assert _requests(out) == seeds


def test_a_killed_run_pays_for_no_call_twice(openai_server, tmp_path):
    from tools.builders import generator_loader
    from tools.synthesize.run import run
    from tools.synthesize.schema import SynthInput

    out = tmp_path / "more.jsonl"
    openai_server.chat.responder = teacher()
    inp = SynthInput(seeds=SEEDS, n=60, teacher=TEACHER, judge=JUDGE, out=out)
    real = generator_loader()

    class Dying:
        def __init__(self, inner, budget):
            self.inner, self.budget = inner, budget

        def generate(self, conversations, **kw):
            if self.budget["left"] <= 0:
                raise KeyboardInterrupt  # the kill, between two batches
            self.budget["left"] -= len(conversations)
            return self.inner.generate(conversations, **kw)

    budget = {"left": 40}  # the 6 drafting calls, then part of the answers
    with pytest.raises(KeyboardInterrupt):
        run(inp, load=lambda spec: Dying(real(spec), budget), approved_usd=10.0)
    first = len(openai_server.calls("POST", "/v1/chat/completions"))
    assert 0 < first < 60
    done = run(inp, load=real, approved_usd=10.0)
    bodies = [
        json.dumps(r.body["messages"], sort_keys=True) for r in openai_server.calls("POST", "/v1/chat/completions")
    ]
    assert len(bodies) == len(set(bodies))  # no conversation was sent twice across the kill
    assert done.calls_kept == first and done.counts.drafted == 60
    again = run(inp, load=real, approved_usd=10.0)
    assert again.calls_paid == 0 and again.cost_usd == 0 and again.counts == done.counts


def test_nothing_is_sent_without_an_approval_that_covers_the_price(openai_server, tmp_path):
    openai_server.chat.responder = teacher()
    code, output = _synth(tmp_path / "more.jsonl", 50, "--json")
    assert code == 1
    assert "may cost up to $" in output and "pass --yes" in output
    assert openai_server.calls("POST", "/v1/chat/completions") == []
    from tools.builders import generator_loader
    from tools.errors import TunewiseError
    from tools.synthesize.run import run
    from tools.synthesize.schema import SynthInput

    inp = SynthInput(seeds=SEEDS, n=50, teacher=TEACHER, out=tmp_path / "more.jsonl")
    with pytest.raises(TunewiseError, match="more than the \\$0.00 approved"):
        run(inp, load=generator_loader(), approved_usd=0.0)
    assert openai_server.calls("POST", "/v1/chat/completions") == []


def test_a_teacher_that_answers_nonsense_leaves_zero_counts_and_one_clear_line(openai_server, tmp_path):
    openai_server.chat.responder = lambda request: "I am a teapot. Here is a poem about the sea instead."
    code, output = _synth(tmp_path / "more.jsonl", 30, "--yes")
    assert code == 0, output
    assert "drafted 0 → valid 0 → unique 0 → passed the judge 0 → accepted 0" in output
    assert "held no requests (each should be one JSON array of strings)" in output
    assert "Traceback" not in output


def test_the_price_of_a_local_endpoint_is_zero_and_hosted_is_from_the_catalogue(tmp_path):
    from tools.synthesize.run import estimate
    from tools.synthesize.schema import SynthInput

    hosted = estimate(SynthInput(seeds=SEEDS, n=200, teacher=TEACHER, judge=JUDGE, out=tmp_path / "a.jsonl"))
    local = estimate(
        SynthInput(seeds=SEEDS, n=200, teacher="openai:qwen@http://127.0.0.1:8000/v1", out=tmp_path / "b.jsonl")
    )
    assert local.total_usd == 0 and local.teacher_billed is None
    assert hosted.teacher_billed == "gpt-6-luna" and hosted.judge_billed == "gpt-3.5-turbo"
    assert 0 < hosted.teacher_usd and 0 < hosted.judge_usd
    assert hosted.total_usd == pytest.approx(hosted.teacher_usd + hosted.judge_usd, abs=0.011)
    double = estimate(SynthInput(seeds=SEEDS, n=400, teacher=TEACHER, judge=JUDGE, out=tmp_path / "c.jsonl"))
    assert double.total_usd == pytest.approx(2 * hosted.total_usd, rel=0.05)


def test_a_retired_teacher_is_refused_before_anything_is_sent(tmp_path):
    from tools.errors import UsageError
    from tools.synthesize.run import estimate
    from tools.synthesize.schema import SynthInput

    with pytest.raises(UsageError, match="gpt-4.1-nano shut down on 2026-10-23"):
        estimate(SynthInput(seeds=SEEDS, n=20, teacher="openai:gpt-4.1-nano", out=tmp_path / "a.jsonl"))


def test_too_few_seeds_is_one_line_naming_the_file(tmp_path):
    seeds = tmp_path / "few.jsonl"
    seeds.write_text("".join(x for i, x in enumerate(SEEDS.open()) if i < 4))
    result = CliRunner().invoke(
        app, ["synthesize", str(seeds), "--n", "10", "--teacher", TEACHER, "--out", str(tmp_path / "o.jsonl"), "--yes"]
    )
    assert result.exit_code == 2
    assert f"{seeds}: 4 seeds leave 3 to draft from after 1 are held out; at least 5 are needed" in result.output


def _reviewable(server, tmp_path: Path) -> dict:
    server.chat.responder = teacher()
    code, output = _synth(tmp_path / "more.jsonl", 30, "--yes", "--json")
    assert code == 0, output
    return json.loads(output)


def test_review_in_a_terminal_accepts_rejects_and_edits_one_draft_at_a_time(openai_server, tmp_path):
    import os
    import re
    import sys

    pexpect = pytest.importorskip("pexpect")
    result = _reviewable(openai_server, tmp_path)
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/Happy riding,/Happy riding and safe travels,/' \"$1\"\n")
    editor.chmod(0o755)
    env = {**os.environ, "EDITOR": str(editor), "VISUAL": str(editor)}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "agent.cli", "review", result["review_jsonl"]],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(60, 150),
    )
    screens = []
    for key, said in (("a", "accepted"), ("r", "rejected"), ("e", "accepted"), ("s", None)):
        child.expect(r"\[q\]uit")
        screens.append(re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\r", "", child.before))
        child.send(key)
        if said:
            child.expect(f"d[0-9a-f]{{10}}: {said}")
    child.expect(r"\[q\]uit")
    child.send("q")
    child.expect(pexpect.EOF)
    last = re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\r", "", child.before)
    first = screens[0]
    assert f"draft 1 of {result['pending']}" in first and "judge" in first and "/5" in first
    assert "seed (line" in first and "Happy riding" in first  # the seed beside the draft
    assert f"accepted 2, rejected 1, pending {result['pending'] - 3}" in last
    rows = [json.loads(x) for x in Path(result["review_jsonl"]).open()]
    assert [r["status"] for r in rows[:4]] == ["accepted", "rejected", "accepted", "pending"]
    assert "Happy riding and safe travels," in rows[2]["messages"][-1]["content"] and rows[2]["edited"]
    trained = [json.loads(x) for x in Path(result["out"]).open()]
    drafts = [t for t in trained if t.get("metadata", {}).get("synthetic")]
    assert [d["metadata"]["draft"] for d in drafts] == [rows[0]["id"], rows[2]["id"]]
    assert len(trained) == result["seeds"] + 2
    assert "ACCEPTED" in Path(result["review_html"]).read_text().upper()


def test_decisions_made_in_the_file_count_and_survive_a_rerun(openai_server, tmp_path):
    result = _reviewable(openai_server, tmp_path)
    path = Path(result["review_jsonl"])
    rows = [json.loads(x) for x in path.open()]
    rows[0]["status"], rows[1]["status"] = "accepted", "rejected"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    counts = CliRunner().invoke(app, ["review", str(path), "--json"])
    assert json.loads(counts.output)["drafts_in_training"] == 1
    again = _reviewable(openai_server, tmp_path)  # the same run again: every reply kept, every decision kept
    assert again["counts"]["accepted"] == 1 and again["calls_paid"] == 0
    assert [json.loads(x)["status"] for x in path.open()][:2] == ["accepted", "rejected"]
    path.write_text(path.read_text().replace('"rejected"', '"maybe"', 1))
    bad = CliRunner().invoke(app, ["review", str(path), "--json"])
    assert bad.exit_code == 1
    assert f"{path}:2: status 'maybe' is not one of pending, accepted, rejected" in bad.output


def test_review_html_renders_in_chromium(openai_server, tmp_path):
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    result = _reviewable(openai_server, tmp_path)
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", f"file://{result['review_html']}"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    c = result["counts"]
    assert f"<b>{c['drafted']}</b> drafted" in dom and f"<b>{c['passed_judge']}</b> passed judge" in dom
    assert dom.count('class="card pending"') == c["passed_judge"]
    assert dom.count("seed (line") == c["passed_judge"]


def test_estimate_prices_the_teacher_and_the_judge(tmp_path):
    result = CliRunner().invoke(
        app, ["estimate", str(SEEDS), "--synthesize", "200", "--teacher", TEACHER, "--judge", JUDGE, "--json"]
    )
    assert result.exit_code == 0, result.output
    drafting = json.loads(result.output)["synthesize"]
    from tools.synthesize.run import estimate
    from tools.synthesize.schema import SynthInput

    same = estimate(SynthInput(seeds=SEEDS, n=200, teacher=TEACHER, judge=JUDGE, out=tmp_path / "x.jsonl"))
    assert drafting == same.model_dump() and drafting["calls"] == 20 + 2 * 200
    shown = CliRunner().invoke(app, ["estimate", str(SEEDS), "--synthesize", "200", "--teacher", TEACHER])
    assert "Drafting 200 examples (tunewise synthesize): up to $" in " ".join(shown.output.split())


def test_a_teacher_that_fills_one_template_keeps_one_draft(openai_server, tmp_path):
    import random
    import re

    from tests.fakes import teacher as fake

    def templated(request):
        text = fake._text(request)
        if "<<<requests>>>" in text:
            n = int(re.search(r"Write (\d+) NEW", text).group(1))
            rng = random.Random(text)
            return json.dumps(
                [
                    f"Hi, I'm {rng.choice(fake.NAMES)} (member {rng.randint(1000, 99999)}) and my chain broke this "
                    f"morning on the way to work. Can you fix it by {rng.randint(1, 28)} March?"
                    for _ in range(n)
                ]
            )
        return fake.teacher()(request)

    openai_server.chat.responder = templated
    code, output = _synth(tmp_path / "more.jsonl", 120, "--yes", "--json")
    result = json.loads(output)
    assert result["counts"]["drafted"] == 120 and result["counts"]["unique"] == 1
    assert (
        result["dropped"]["template"]
        + result["dropped"].get("near-duplicate", 0)
        + result["dropped"].get("duplicate", 0)
        + result["dropped"].get("format", 0)
        == 119
    )
