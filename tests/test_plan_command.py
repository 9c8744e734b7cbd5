"""`tunewise plan`, `sessions` and `resume` through typer's CliRunner, plus one run of the installed command."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.fakes.openai_server import FAKE_API_KEY, FakeOpenAI
from tests.test_graphs import write_chat_data

TODAY = ["--today", "2026-04-01"]
ISSUE = [
    (
        "We want our support bot to sound like our best agent: same tone, terms and formatting. We have 8,000 of her "
        "conversations. Weeks of prompt engineering on GPT-4o didn't get there. Her style is stable, and the data can go "
        "to OpenAI; we iterate fast.",
        "fine_tune",
        "openai_gpt41_mini",
        [],
    ),
    ("Answer questions about our pricing, which changes every week.", "rag", None, []),
    ("Make replies more concise; we haven't tried a system prompt.", "prompt_engineering", None, []),
    (
        "Write in our house style and answer from our knowledge base, which is updated daily. 2,500 styled answers, "
        "prompting fell short, customer data must stay on our servers.",
        "fine_tune_rag",
        "qlora_self_hosted",
        ["stability"],
    ),
    (
        "Fine-tune on our 25 examples of legal summaries; a careful prompt was not good enough.",
        "collect_more_data",
        None,
        ["stability"],
    ),
    ("The tone guidelines will be replaced next quarter.", "prompt_engineering", None, []),
]


@pytest.fixture(scope="module", autouse=True)
def _minilm_once():
    from tools.rag.embedders import get_embedder

    get_embedder("local").embed(["warm up"])  # MiniLM loads on first use; once, for every command in this process


def _json(result) -> dict:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("goal,approach,path,assumed", ISSUE)
def test_the_issues_examples_non_interactive(goal, approach, path, assumed):
    result = CliRunner().invoke(app, ["plan", "--goal", goal, "--non-interactive", "--json", *TODAY])
    out = _json(result)
    assert result.exit_code == 0, result.stderr
    assert set(out) >= {"session", "status", "recommendation", "steps", "questions", "plan"}
    assert out["recommendation"]["approach"] == approach and out["recommendation"]["fine_tune_path"] == path
    assert out["recommendation"]["rationale"]
    assert [q["step"] for q in out["questions"]] == assumed
    assert [s["step"] for s in out["steps"]] == ["prompt", "problem", "data", "stability", "path"]
    assert all(set(s) == {"step", "question", "answer", "source", "evidence"} for s in out["steps"])
    assert {s["source"] for s in out["steps"]} <= {"stated", "inferred", "asked", "assumed"}


def test_answers_approval_sessions_and_resume(tmp_path, monkeypatch):
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    goal = "Make replies more concise and in bullets. The data may go to OpenAI."  # so the plan prompts OpenAI
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["plan", "--goal", goal, "--data", str(data), "--answer", "prompt=no", "--non-interactive", "--json", *TODAY],
    )
    out = _json(result)
    assert result.exit_code == 0 and out["status"] == "awaiting_approval"
    assert out["recommendation"]["approach"] == "prompt_engineering"
    assert out["steps"][0]["source"] == "asked" and out["steps"][0]["evidence"] == "--answer prompt=no"
    starter = out["plan"]["starter_prompt"]
    assert goal in starter["system"] and len(starter["few_shot"]) == 4
    assert [s["step"] for s in out["plan"]["steps"]] == ["split", "eval"]

    listed = json.loads(runner.invoke(app, ["sessions", "--json"]).stdout)
    assert [(r["session"], r["status"]) for r in listed] == [(out["session"], "awaiting_approval")]

    # Approved, the real split runs; the evaluation then needs an OpenAI endpoint, and says so in one line.
    failed = runner.invoke(app, ["resume", out["session"], "--approve", "--json"])
    assert failed.exit_code == 1 and "OPENAI_API_KEY is not set" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and "Traceback" not in failed.stderr
    listed = json.loads(runner.invoke(app, ["sessions", "--json"]).stdout)
    assert listed[0]["status"] == "interrupted"
    ledger_path = next(Path(".tunewise", "runs").glob("plan-*/ledger.json"))
    assert json.loads(ledger_path.read_text())["split"]["status"] == "done"
    split_result = json.loads(ledger_path.read_text())["split"]["result"]

    with FakeOpenAI() as server:  # an endpoint appears; resuming continues at eval without splitting again
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
        resumed = runner.invoke(app, ["resume", out["session"], "--json"])
    done = _json(resumed)
    assert resumed.exit_code == 0 and done["status"] == "completed", resumed.stderr
    assert done["approval"]["total_usd"] == out["plan"]["total_usd"]
    steps = {s["step"]: s for s in done["report"]["steps"]}
    assert steps["split"]["status"] == "done" and steps["eval"]["status"] == "done"
    assert done["report"]["eval_verdict"]
    ledger = json.loads(ledger_path.read_text())
    assert ledger["split"]["attempts"] == 1 and ledger["split"]["result"] == split_result
    split_dir = Path(split_result["train"]).parent
    assert (split_dir / "train.jsonl").exists() and (split_dir / "eval.jsonl").exists()


def test_interactive_conversation(tmp_path):
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    result = CliRunner().invoke(
        app,
        ["plan", "Make replies more concise.", "--data", str(data), *TODAY],
        input="no, not yet\n\n\nreject\n",  # step 1; Enter keeps step 2's unsure reading; Enter at the list
    )
    assert result.exit_code == 0, result.stderr
    assert "1. Can a better prompt solve it?" in result.stdout and "Why it matters:" in result.stdout
    assert (
        "Before I decide, this is what I read:" in result.stdout
        and "3. Is there enough good training data? 120" in result.stdout
    )
    assert "Recommendation: prompt_engineering" in result.stdout and "Costed plan" in result.stdout
    assert "Rejected: nothing was run" in result.stdout


def test_budget_and_bad_input_exit_codes(tmp_path):
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    goal = "Follow our bullet format. Prompting fell short. It is stable. Data may go to OpenAI."
    runner = CliRunner()
    over = runner.invoke(
        app,
        [
            "plan",
            "--goal",
            goal,
            "--data",
            str(data),
            "--budget",
            "0.0001",
            "--approve",
            "--non-interactive",
            "--json",
            *TODAY,
        ],
    )
    assert over.exit_code == 1 and _json(over)["status"] == "over_budget"
    bad = runner.invoke(app, ["plan", "--goal", goal, "--answer", "colour=blue", "--non-interactive", "--json"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: unknown --answer key 'colour'")
    missing = runner.invoke(app, ["plan", "--goal", goal, "--data", "nope.jsonl", "--non-interactive"])
    assert missing.exit_code == 2 and "nope.jsonl: --data: file not found" in missing.stderr
    unknown = runner.invoke(app, ["resume", "no-such-session"])
    assert unknown.exit_code == 2 and "no session 'no-such-session'" in unknown.stderr
    for result in (bad, missing, unknown):
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_installed_entry_point(tmp_path):
    exe = shutil.which("tunewise")
    assert exe, "the tunewise console script is not installed"
    goal = ISSUE[0][0]
    proc = subprocess.run(
        [exe, "plan", "--goal", goal, "--non-interactive", "--json", *TODAY],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["recommendation"]["fine_tune_path"] == "openai_gpt41_mini"
    assert (tmp_path / ".tunewise" / "sessions.sqlite").exists() or Path(".tunewise", "sessions.sqlite").exists()


def test_resume_answers_the_confirm_step(tmp_path, monkeypatch):
    """The confirm step is an interrupt like the questions: a session stopped there is picked up by `resume`."""
    # The rules' reading, without the heads: with them, a one-line "Prompting fell short." may be read as unsure
    # and asked first, and this test is about where the session stops, not about how sure a reading is.
    monkeypatch.setattr("agent.interviewer.heads.shipped", lambda: False)
    goal = "Follow our bullet format. Prompting fell short. It is stable. We have 20 examples."
    runner = CliRunner()
    started = runner.invoke(app, ["plan", "--goal", goal, "--answer", "path=it must stay in-house", *TODAY], input="")
    assert "Before I decide, this is what I read:" in started.stdout  # then the input ended: the session waits
    session = started.stdout.split()[1]
    listed = json.loads(runner.invoke(app, ["sessions", "--json"]).stdout)
    assert [(r["session"], r["status"]) for r in listed] == [(session, "awaiting_answer")]
    corrected = _json(
        runner.invoke(app, ["resume", session, "--answer", "3: we have 400 examples", "--non-interactive", "--json"])
    )
    assert corrected["status"] == "awaiting_answer" and corrected["recommendation"] is None
    done = _json(runner.invoke(app, ["resume", session, "--answer", "yes", "--non-interactive", "--json"]))
    assert done["recommendation"]["approach"] == "fine_tune" and done["status"] == "planned"
    data = next(s for s in done["steps"] if s["step"] == "data")
    assert (data["answer"], data["source"], data["evidence"]) == (400, "stated", "corrected: we have 400 examples")


@pytest.mark.parametrize("goal,approach,path,assumed", ISSUE)
def test_every_ending_shows_the_steps_the_recommendation_and_the_plan(goal, approach, path, assumed, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: table cells unwrapped
    result = CliRunner().invoke(app, ["plan", "--goal", goal, "--non-interactive", *TODAY])
    assert result.exit_code == 0, result.stderr
    screen = " ".join(result.stdout.split())  # rich wraps long lines; the words are what matter
    assert "The five steps" in screen and "answer" in screen and "source" in screen and "evidence" in screen
    for title in ("1. Can a better prompt solve it?", "3. Is there enough good training data?", "5. Which path?"):
        assert title in screen
    assert f"Recommendation: {approach}" + (f" · {path}" if path else "") in screen
    assert "Next:" in screen and "the plan above is the result" not in screen
    if approach == "prompt_engineering":  # a plan with no data still says what to write and how to measure it
        assert "Starter system prompt" in screen and "80% of the way" in screen
    if approach == "collect_more_data":
        assert "Collect: you have 25; collect at least 75 more to reach 100, and aim for 500" in screen
    if approach in ("rag", "fine_tune", "fine_tune_rag"):
        assert "Costed plan" in screen and "nothing runs until you give --" in screen
    risks = [line for line in result.stdout.splitlines() if line.startswith("risk ")]
    assert len(risks) == len(set(risks))  # each risk once (the OpenAI closing notice used to come twice)


def test_resume_shows_the_result_of_a_finished_session(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    goal, approach = ISSUE[4][0], ISSUE[4][1]
    session = _json(runner.invoke(app, ["plan", "--goal", goal, "--non-interactive", "--json", *TODAY]))["session"]
    again = runner.invoke(app, ["resume", session])
    assert again.exit_code == 0, again.stderr
    screen = " ".join(again.stdout.split())
    assert "The five steps" in screen and f"Recommendation: {approach}" in screen and "Collect: you have 25" in screen


def test_a_goal_in_another_language_says_so_among_the_plans_risks():
    # Written for this test: a Spanish goal. Non-interactive, nobody sees a confirm list, so the plan says it.
    goal = "Queremos que nuestro bot conteste con el tono de nuestros agentes, tenemos dos mil conversaciones revisadas"
    out = _json(CliRunner().invoke(app, ["plan", "--goal", goal, "--non-interactive", "--json", *TODAY]))
    assert out["plan"]["risks"][0].startswith("Much of your goal is not in English")
    english = "Answer in our house style from our help pages, which change often."
    out = _json(CliRunner().invoke(app, ["plan", "--goal", english, "--non-interactive", "--json", *TODAY]))
    assert not any("not in English" in r for r in out["plan"]["risks"])
