"""The agent graph on a SQLite checkpointer: questions and answers, approval, budget, execution, kill and resume."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langgraph.types import Command

from graphs import steps
from graphs.interview import question
from graphs.pipeline import build, session_saver
from graphs.protocol import ApprovalRequest, Question, request_of
from graphs.state import Context
from tests.fakes.step_runners import RUNNERS, calls
from tools.approval import approve, plan_hash
from tools.errors import TunewiseError

REPO = Path(__file__).resolve().parents[1]
GOAL = "Our replies must follow our house format: a one-line summary, then bullets."
TODAY = "2026-04-01"  # before OpenAI's fine-tuning wind-down notices, so the path does not drift with the calendar
WORDS = (
    "invoice refund login shipping parcel warranty password upgrade plan seat export report billing address "
    "courier label tracking discount coupon renewal cancel trial api key webhook limit quota region backup "
    "restore archive folder share permission admin role audit sso token mobile desktop sync offline"
).split()


def write_chat_data(path: Path, n: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with path.open("w") as fh:
        for i in range(n):
            topic = rng.sample(WORDS, 6)
            user = f"Ticket {i}: question about {' and '.join(topic[:3])} when {topic[3]} fails on {topic[4]}?"
            answer = (
                f"Summary: {topic[0]} issue.\n- check {topic[1]}\n- retry {topic[2]}\n- contact us about {topic[5]}"
            )
            fh.write(
                json.dumps({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]})
                + "\n"
            )
    return path


@pytest.fixture(scope="session")
def interviewer():
    from agent.interviewer.offline import OfflineInterviewer
    from tools.rag.embedders import get_embedder

    return OfflineInterviewer(get_embedder("local"), heads=None)  # MiniLM once; the graph, not the heads, is tested


@pytest.fixture
def step_log(tmp_path, monkeypatch) -> Path:
    log = tmp_path / "steps.jsonl"
    monkeypatch.setenv("TUNEWISE_TEST_STEP_LOG", str(log))
    return log


@pytest.fixture
def graph(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "sessions.sqlite"), check_same_thread=False)
    yield build(checkpointer=session_saver(conn))
    conn.close()


def _start(graph, interviewer, session: str, **state):
    ctx = Context(interviewer=interviewer, runners=RUNNERS, approved_by="test")
    config = {"configurable": {"thread_id": session}}
    first = {"session": session, "goal": GOAL, "interactive": True, "today": TODAY, **state}

    def run(payload):
        return graph.invoke(payload, config, context=ctx, durability="sync")

    return run(first), run, config


def _question(step: str, fact: str, title: str) -> Question:
    text, why = question(fact)
    return Question(step=step, title=title, question=text, why=why)


def test_question_answer_approval_and_execution(graph, interviewer, tmp_path, step_log):
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    out, run, config = _start(graph, interviewer, "s1", data_path=str(data))
    assert [request_of(i.value) for i in out["__interrupt__"]] == [
        _question("prompt", "prompting", "1. Can a better prompt solve it?")
    ]
    assert graph.get_state(config).next == ("step_prompt",)
    assert out["facts"]["examples"]["value"] == 120 and out["facts"]["examples"]["source"] == "inferred"

    out = run(Command(resume="yes, for weeks, and it still drifts"))
    # Steps 2 and 3 were read from the goal and the file; step 4 is next.
    assert [request_of(i.value) for i in out["__interrupt__"]] == [
        _question("stability", "stable", "4. Is the behaviour stable?")
    ]
    assert graph.get_state(config).next == ("step_stability",)
    out = run(Command(resume="what?"))  # unreadable: asked again, saying so
    retry = request_of(out["__interrupt__"][0].value)
    assert retry.step == "stability" and retry.retry.startswith("Sorry, I could not read that.")
    out = run(Command(resume="stable"))
    assert request_of(out["__interrupt__"][0].value) == _question("path", "private", "5. Which path?")
    out = run(Command(resume="it can go to OpenAI"))
    # Before deciding, what was read comes back as a numbered list; Enter accepts it.
    shown = request_of(out["__interrupt__"][0].value)
    assert shown.kind == "confirm" and shown.retry is None and graph.get_state(config).next == ("confirm",)
    assert [(i.n, i.step, i.source) for i in shown.items] == [
        (1, "prompt", "asked"),
        (2, "problem", "stated"),
        (3, "data", "inferred"),
        (4, "stability", "asked"),
        (5, "path", "asked"),
    ]
    assert shown.items[2].read == "120 good examples" and shown.items[4].read == "may go to OpenAI"
    assert "recommendation" not in graph.get_state(config).values  # nothing is decided before the list is accepted
    out = run(Command(resume=""))

    values = graph.get_state(config).values
    plan = values["plan"].as_json()  # the typed plan's JSON: what the approval hashes
    assert values["recommendation"].approach == "fine_tune"
    assert values["recommendation"].fine_tune_path == "openai_gpt41_mini"
    assert [s["step"] for s in plan["steps"]] == ["split", "train", "eval", "deploy"]
    assert plan["total_usd"] > 0 and plan["validation"]["valid_examples"] == 120
    (request,) = [request_of(i.value) for i in out["__interrupt__"]]
    assert isinstance(request, ApprovalRequest)
    # LangGraph's human-interrupt fields, for Agent Inbox and Studio: accept approves, edit sets the budget
    assert request.action_request is not None and request.action_request.args["total_usd"] == plan["total_usd"]
    assert request.config is not None and request.config.allow_accept and request.config.allow_edit
    assert request.description and f"${plan['total_usd']:.2f}" in request.description
    assert [request.model_dump(mode="json", exclude={"action_request", "config", "description"})] == [
        {
            "kind": "approval",
            "session": "s1",
            "plan_hash": plan_hash(plan),
            "total_usd": plan["total_usd"],
            "total_hours": plan["total_hours"],
            "budget_usd": None,
            "within_budget": True,
            "steps": [
                {"step": s["step"], "cost_usd": s["cost_usd"], "hours": s["hours"], "runnable": True}
                for s in plan["steps"]
            ],
            "note": None,
            "data_leaves": "yes: the training examples to api.openai.com (train); the held-out examples to "
            "api.openai.com (eval); every question at serve time to api.openai.com (deploy)",
            "private": False,
            "options": ["approve", "reject", "budget USD"],
        }
    ]
    assert graph.get_state(config).next == ("approval",)
    assert not calls(step_log)  # nothing ran before approval

    out = run(Command(resume="approve"))
    assert out["status"] == "completed" and graph.get_state(config).next == ()
    assert [c["step"] for c in calls(step_log)] == ["split", "train", "eval", "deploy"]
    assert out["approval"].plan_hash == plan_hash(plan) and out["approval"].total_usd == plan["total_usd"]
    assert out["report"].serve.startswith("tunewise serve ")
    steps = out["steps"]
    assert steps["prompt"]["source"] == "asked" and steps["problem"]["source"] == "stated"
    assert steps["data"]["source"] == "inferred" and steps["stability"]["source"] == "asked"
    assert steps["path"] == {
        "step": "path",
        "question": question("private")[0],
        "answer": "openai_gpt41_mini",
        "source": "asked",
        "evidence": "it can go to OpenAI",
    }


def test_reject_runs_nothing(graph, interviewer, tmp_path, step_log):
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    out, run, config = _start(
        graph,
        interviewer,
        "s2",
        data_path=str(data),
        interactive=False,
        goal=GOAL + " Prompting fell short. It is stable. Data may go to OpenAI.",
    )
    assert request_of(out["__interrupt__"][0].value).kind == "approval"
    out = run(Command(resume="reject"))
    assert out["status"] == "rejected" and out.get("approval") is None
    assert graph.get_state(config).next == () and not calls(step_log)


def test_budget_refuses_then_a_new_budget_allows(graph, interviewer, tmp_path, step_log):
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    goal = GOAL + " Prompting fell short. It is stable. Data may go to OpenAI."
    out, run, config = _start(
        graph, interviewer, "s3", data_path=str(data), interactive=False, goal=goal, budget_usd=0.001
    )
    first = request_of(out["__interrupt__"][0].value)
    assert first.within_budget is False and first.budget_usd == 0.001
    out = run(Command(resume="approve"))
    refused = request_of(out["__interrupt__"][0].value)
    assert out["status"] == "over_budget" and refused.note.startswith("refused: the plan costs $")
    assert graph.get_state(config).next == ("approval",) and not calls(step_log) and out.get("approval") is None
    out = run(Command(resume={"budget": 1000}))
    assert request_of(out["__interrupt__"][0].value).within_budget is True
    out = run(Command(resume="approve"))
    assert out["status"] == "completed" and len(calls(step_log)) == 4


def test_non_interactive_assumes_and_lists(graph, interviewer):
    out, _, config = _start(
        graph,
        interviewer,
        "s4",
        interactive=False,
        goal="Fine-tune on our 25 examples of legal summaries; a careful prompt was not good enough.",
    )
    assert out["recommendation"].approach == "collect_more_data"
    assert [q["step"] for q in out["questions"]] == ["stability"]
    assert out["steps"]["stability"]["source"] == "assumed" and out["status"] == "planned"
    assert out["plan"].collect == {"have": 25, "minimum": 100, "target": 500, "what": out["plan"].collect["what"]}
    assert graph.get_state(config).next == ()


def test_spending_steps_refuse_without_a_matching_approval(tmp_path, step_log):
    from tests.fakes.plans import plan_with, train_step

    plan = plan_with(train_step("base", cost_usd=5.0))
    state = {"approval": None, "session": "x"}

    def run_step(plan, state):
        return steps.run_step("train", plan, state, RUNNERS, tmp_path / "run", tmp_path / "chroma", lambda e: None)

    with pytest.raises(TunewiseError, match="not approved"):
        run_step(plan, state)
    record = approve(plan.as_json(), approved_by="test").model_dump()
    tampered = plan.model_copy(
        update={"total_usd": 50.0, "steps": [plan.steps[0].model_copy(update={"cost_usd": 50.0})]}
    )
    with pytest.raises(TunewiseError, match="does not match"):
        run_step(tampered, {**state, "approval": record})
    assert not calls(step_log)
    result = run_step(plan, {**state, "approval": record})
    assert result.status == "done" and len(calls(step_log)) == 1
    # Finished in the ledger: running the node again returns the recorded result without calling the runner.
    again = run_step(plan, {**state, "approval": record})
    assert again == result and len(calls(step_log)) == 1


def test_kill_and_resume_never_repeats_a_spending_step(tmp_path, step_log):
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    db = tmp_path / "sessions.sqlite"
    goal = GOAL + " Prompting fell short. It is stable. Data may go to OpenAI."
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TUNEWISE_TEST_SLOW": "train",
        "TUNEWISE_TEST_DIE": "eval",
        "TUNEWISE_HOME": str(tmp_path / ".tunewise"),
    }
    args = [sys.executable, "-m", "tests.fakes.agent_worker", str(db), "k1", goal, str(data)]

    worker = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not any(c["step"] == "train" for c in calls(step_log)):
        assert worker.poll() is None and time.time() < deadline, worker.stderr.read().decode()[-2000:]
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)  # killed while training
    worker.wait()
    ledger = json.loads((tmp_path / ".tunewise" / "runs" / "plan-k1" / "ledger.json").read_text())
    assert ledger["split"]["status"] == "done" and ledger["train"]["status"] == "started"

    second = subprocess.run(args, cwd=REPO, env=env, capture_output=True, timeout=120)
    assert second.returncode == -signal.SIGKILL  # the eval runner kills its own process on its first attempt
    third = subprocess.run(args, cwd=REPO, env=env, capture_output=True, timeout=120, text=True)
    assert third.returncode == 0 and third.stdout.strip() == "completed", third.stderr[-2000:]

    log = [(c["step"], c["resume"]) for c in calls(step_log)]
    assert log == [
        ("split", False),
        ("train", False),
        ("train", True),
        ("eval", False),
        ("eval", True),
        ("deploy", False),
    ]
    fresh = [step for step, resumed in log if not resumed]
    assert len(fresh) == len(set(fresh))  # no step started from scratch twice
    conn = sqlite3.connect(str(db))
    graph = build(checkpointer=session_saver(conn))
    state = graph.get_state({"configurable": {"thread_id": "k1"}})
    assert state.next == () and set(state.values["executed"]) == {"split", "train", "eval", "deploy"}
    conn.close()


def test_no_secret_reaches_the_session_database(graph, interviewer, tmp_path, monkeypatch):
    key = "sk-test-THIS-KEY-MUST-NOT-BE-STORED-1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    _start(
        graph, interviewer, "s5", interactive=False, goal="Answer questions about our pricing, which changes weekly."
    )
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("sessions.sqlite*"))
    assert b"pricing" in stored and key.encode() not in stored


def test_langgraph_json_names_the_graphs():
    import importlib

    config = json.loads((REPO / "langgraph.json").read_text())
    nodes = {}
    for name, ref in config["graphs"].items():
        module, attr = ref.removeprefix("./").split(":")
        graph = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), attr)
        nodes[name] = set(graph.get_graph().nodes)
    steps = {"intake", "step_prompt", "step_problem", "step_data", "step_stability", "step_path", "confirm", "decide"}
    assert steps <= nodes["interview"]
    assert steps | {"plan", "approval", "split", "index", "train", "eval", "deploy", "report"} <= nodes["tunewise"]


# ---- the confirm step, asking instead of guessing, and the early reading (scripted readers: flow, not reading) ----

NDA = "Our legal team drafts NDAs in our exact clause structure. We have about 30 past NDAs."


def _nda_reader(**extra):
    from tests.fakes.scripted_reader import ScriptedReader, said

    script = {
        NDA: [
            said("behaviour", True, "Our legal team drafts NDAs in our exact clause structure."),
            said("examples", 30, "We have about 30 past NDAs."),
        ],
        "yes, it fell short": [said("prompting", "fell_short", "yes, it fell short")],
        "stable": [said("stable", True, "stable")],
        "we have 400 NDAs": [said("examples", 400, "we have 400 NDAs")],
        "it must stay on our servers": [said("private", True, "it must stay on our servers")],
        **extra,
    }
    return ScriptedReader(script)


def test_a_correction_at_the_confirm_step_changes_the_decision(graph):
    reader = _nda_reader()
    out, run, config = _start(graph, reader, "c1", goal=NDA)
    assert request_of(out["__interrupt__"][0].value).step == "prompt"
    out = run(Command(resume="yes, it fell short"))
    assert request_of(out["__interrupt__"][0].value).step == "stability"
    out = run(Command(resume="stable"))
    shown = request_of(out["__interrupt__"][0].value)
    assert shown.kind == "confirm"
    assert shown.items[2].model_dump() == {
        "n": 3,
        "step": "data",
        "title": "Is there enough good training data?",
        "read": "30 good examples",
        "source": "stated",
        "evidence": "We have about 30 past NDAs.",
        "doubt": None,
    }
    assert shown.items[4].read.startswith("not needed")  # 30 examples: collect more, whatever the path

    out = run(Command(resume="3: we have 400 NDAs"))
    assert ("we have 400 NDAs", "examples") in reader.calls  # read with the item's fact as focus
    # 400 examples make fine-tuning possible, so step 5 now matters and is asked; then the list comes back.
    assert request_of(out["__interrupt__"][0].value).step == "path"
    out = run(Command(resume="it must stay on our servers"))
    again = request_of(out["__interrupt__"][0].value)
    assert again.kind == "confirm" and again.retry is None
    assert again.items[2].read == "400 good examples" and again.items[2].source == "stated"
    assert again.items[2].evidence == "corrected: we have 400 NDAs"
    out = run(Command(resume="yes"))
    values = graph.get_state(config).values
    assert values["recommendation"].approach == "fine_tune"
    assert values["recommendation"].fine_tune_path == "qlora_self_hosted"
    assert values["decision"].facts.examples == 400 and values["steps"]["data"]["answer"] == 400


def test_an_unreadable_correction_is_said_and_the_list_shown_again(graph):
    reader = _nda_reader()
    out, run, _ = _start(graph, reader, "c2", goal=NDA, preset={"prompt": "yes, it fell short", "stable": "stable"})
    assert request_of(out["__interrupt__"][0].value).kind == "confirm"
    out = run(Command(resume="7: nothing"))
    assert request_of(out["__interrupt__"][0].value).retry.startswith("there is no item 7")
    out = run(Command(resume="3: purple"))
    shown = request_of(out["__interrupt__"][0].value)
    assert shown.kind == "confirm" and shown.retry.startswith("I could not read “purple” as item 3")


def test_two_readings_of_one_fact_are_asked_about_not_guessed(graph):
    from tests.fakes.scripted_reader import said

    # The reply to step 1 also mentions a count that disagrees with the goal's: the agent keeps neither silently.
    reader = _nda_reader(
        **{
            "tried it with 5 examples, fell short": [
                said("prompting", "fell_short", "tried it with 5 examples, fell short"),
                said("examples", 5, "tried it with 5 examples, fell short"),
            ]
        }
    )
    out, run, config = _start(graph, reader, "c3", goal=NDA)
    out = run(Command(resume="tried it with 5 examples, fell short"))
    asked = request_of(out["__interrupt__"][0].value)
    assert asked.step == "data" and "two different answers: 30" in asked.read and "5 (" in asked.read
    assert graph.get_state(config).values["facts"]["examples"]["value"] == 30  # not overwritten by the aside
    out = run(Command(resume="we have 400 NDAs"))
    assert graph.get_state(config).values["facts"]["examples"] == {
        "value": 400,
        "source": "asked",
        "evidence": "we have 400 NDAs",
        "confidence": 1.0,
    }


def test_an_unsure_reading_that_matters_is_asked_and_enter_keeps_it(graph):
    from tests.fakes.scripted_reader import ScriptedReader, said

    goal = "Help the team with our product catalogue."
    reader = ScriptedReader({goal: [said("knowledge", True, goal, how="inferred")]})
    out, run, config = _start(graph, reader, "c4", goal=goal)
    asked = request_of(out["__interrupt__"][0].value)
    assert asked.step == "problem" and asked.read.startswith(f"I read “{goal}” as: knowledge")
    out = run(Command(resume=""))  # Enter keeps the reading, now settled: it is not asked again
    assert request_of(out["__interrupt__"][0].value).kind == "confirm"
    assert graph.get_state(config).values["steps"]["problem"]["answer"] == "knowledge"
    # The person was shown the reading and kept it: the list shows it as theirs, not as the reader's guess.
    kept = graph.get_state(config).values["facts"]["problem"]
    assert kept["source"] == "asked" and kept["evidence"] == f"you kept my reading of “{goal}”"
    # Non-interactive runs never ask: the same unsure reading is used and listed as inferred.
    out, _, _ = _start(graph, ScriptedReader(reader.script), "c5", goal=goal, interactive=False)
    assert out["recommendation"].approach == "rag" and out["steps"]["problem"]["source"] == "inferred"


def test_the_first_question_does_not_wait_for_the_full_reading(graph):
    import threading

    from agent.interviewer.early import GoalReading
    from tests.fakes.scripted_reader import ScriptedReader, said

    gate = threading.Event()
    quick = ScriptedReader({NDA: [said("examples", 30, "We have about 30 past NDAs.")]})
    full = ScriptedReader(
        {
            NDA: [
                said("examples", 30, "We have about 30 past NDAs."),
                said("behaviour", True, "Our legal team drafts NDAs in our exact clause structure.", how="inferred"),
            ]
        },
        gate=gate,
    )
    reading = GoalReading(NDA, full, quick)
    ctx = Context(interviewer=_nda_reader(), runners=RUNNERS, approved_by="test", reading=reading)
    config = {"configurable": {"thread_id": "e1"}}
    out = graph.invoke(
        {"session": "e1", "goal": NDA, "interactive": True, "today": TODAY}, config, context=ctx, durability="sync"
    )
    assert (
        request_of(out["__interrupt__"][0].value).step == "prompt" and not reading.ready()
    )  # asked while still reading
    gate.set()
    out = graph.invoke(Command(resume="yes, it fell short"), config, context=ctx, durability="sync")
    facts = graph.get_state(config).values["facts"]
    assert facts["behaviour"]["source"] == "inferred" and graph.get_state(config).values["reading_pending"] is False
    # The inferred half is unsure and could change the recommendation, so step 2 asks about it.
    assert request_of(out["__interrupt__"][0].value).step == "problem"


def test_the_full_reading_replaces_the_quick_pass_even_where_it_is_less_sure(graph):
    from agent.interviewer.early import GoalReading
    from tests.fakes.scripted_reader import ScriptedReader, said

    # The rules (quick pass) read "5,000 descriptions" as examples and the voice as stated; the heads (full reading)
    # see items to produce and leave the voice inferred. The full reading wins where the state still holds the
    # quick one, though "inferred" ranks below "stated": the count is gone and the voice will be confirmed.
    goal = "We need 5,000 product descriptions in our brand voice; a prompt with examples fell short."
    quick = ScriptedReader(
        {
            goal: [
                said("prompting", "fell_short", "a prompt with examples fell short"),
                said("examples", 5000, "We need 5,000 product descriptions"),
                said("behaviour", True, "in our brand voice"),
            ]
        }
    )
    full = ScriptedReader(
        {
            goal: [
                said("prompting", "fell_short", "a prompt with examples fell short"),
                said("behaviour", True, "in our brand voice", how="inferred"),
            ],
            "stable": [said("stable", True, "stable")],
            "behaviour: the voice": [said("problem", "behaviour", "behaviour: the voice")],
            "none yet": [said("examples", 0, "none yet")],
            "in-house": [said("private", True, "in-house")],
        }
    )
    reading = GoalReading(goal, full, quick)
    ctx = Context(interviewer=full, runners=RUNNERS, approved_by="test", reading=reading)
    config = {"configurable": {"thread_id": "e2"}}
    out = graph.invoke(
        {"session": "e2", "goal": goal, "interactive": True, "today": TODAY}, config, context=ctx, durability="sync"
    )
    replies = {"stability": "stable", "problem": "behaviour: the voice", "data": "none yet", "path": "in-house"}
    asked, reads = [], {}
    while (request := request_of(out["__interrupt__"][0].value)).kind != "confirm":
        asked.append(request.step)
        reads[request.step] = request.read
        out = graph.invoke(Command(resume=replies[request.step]), config, context=ctx, durability="sync")
        assert len(asked) < 8, asked
    # Only step 4 asked on the quick reading; its answer settled the full one, and the steps were walked again
    # before the list: the voice is confirmed and the count, now unread, asked.
    assert asked == ["stability", "path", "problem", "data"]
    assert reads["problem"] == (
        "Now that I have read your whole goal, one more check. I read “in our brand voice” as: behaviour (how it "
        "answers), but I am not sure. Enter keeps it."
    )
    facts = graph.get_state(config).values["facts"]
    assert facts["examples"]["value"] == 0 and facts["examples"]["source"] == "asked"
    assert facts["problem"]["source"] == "asked"
    assert facts["prompting"]["source"] == "stated"  # the same in both readings: kept
    items = {item.step: item for item in request.items}
    assert (items["data"].read, items["data"].source) == ("0 good examples", "asked")


def test_studio_builds_give_the_offline_interviewer_when_the_context_is_empty(tmp_path, monkeypatch):
    """LangGraph Studio sends its run context as a dict; an empty one becomes StudioContext with its interviewer."""
    from agent.studio import interview_graph

    monkeypatch.setenv("TUNEWISE_HOME", str(tmp_path))
    goal = "Answer from our help centre, which changes every week. We have no training examples."
    out = interview_graph.invoke({"goal": goal, "interactive": False, "session": "studio"}, context={})
    assert out["recommendation"].approach == "rag"
    with pytest.raises(TunewiseError, match="no interviewer in the run context"):
        interview_graph.invoke({"goal": goal, "interactive": False, "session": "studio"})  # no context at all
