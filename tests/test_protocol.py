"""The typed session protocol: requests and replies as models, one drive loop for every front-end, sessions listed
through the checkpointer, and sessions saved before the protocol (dict payloads and dict state) still read.
"""

from __future__ import annotations

import sqlite3

import pytest

from agent.commands import plan_view
from graphs.pipeline import _decision, build, session_saver
from graphs.protocol import (
    Answer,
    ApprovalRequest,
    Approve,
    Confirm,
    Question,
    Reject,
    SetBudget,
    StepFinished,
    StepStarted,
    as_interrupt,
    reply_of,
    request_of,
)
from graphs.session import drive, first_state, sessions
from graphs.state import Context, Recommendation
from tests.fakes.answerer import Scripted
from tests.fakes.step_runners import RUNNERS, calls
from tests.test_graphs import GOAL, TODAY, write_chat_data

# The payloads today's sessions were saved with, before this protocol: keyed by "type".
OLD_QUESTION = {
    "type": "question",
    "step": "data",
    "title": "3. Is there enough good training data?",
    "question": "How many good examples?",
    "why": "It decides.",
    "retry": None,
}
OLD_CONFIRM = {
    "type": "confirm",
    "items": [
        {"n": 1, "step": "prompt", "title": "Can a better prompt solve it?", "read": "not tried yet", "source": "stated",
         "evidence": "we have not tried", "doubt": None},
    ],
    "retry": None,
}  # fmt: skip
OLD_APPROVAL = {
    "type": "approval",
    "session": "s",
    "plan_hash": "abc",
    "total_usd": 12.5,
    "total_hours": 1.0,
    "budget_usd": None,
    "within_budget": True,
    "steps": [{"step": "train", "cost_usd": 12.5, "hours": 1.0, "runnable": True}],
    "note": None,
    "data_leaves": "no",
    "private": True,
    "options": ["approve", "reject", "budget USD"],
}


def test_requests_round_trip_and_old_payloads_still_read():
    q = request_of(OLD_QUESTION)
    assert isinstance(q, Question) and q.step == "data" and q.read is None
    c = request_of(OLD_CONFIRM)
    assert isinstance(c, Confirm) and c.items[0].evidence == "we have not tried"
    a = request_of(OLD_APPROVAL)
    assert isinstance(a, ApprovalRequest) and a.total_usd == 12.5 and a.action_request is None
    for request in (q, c, a):
        assert request_of(as_interrupt(request)) == request  # what the interrupt stores reads back the same
    with pytest.raises(ValueError):
        request_of({"kind": "telepathy"})


@pytest.mark.parametrize(
    "value, reply",
    [
        ("approve", Answer(text="approve")),  # words: the node reads them (`_decision`)
        ({"budget": 80}, SetBudget(usd=80)),  # a reply saved before the protocol
        ({"decision": "reject"}, Answer(text="reject")),
        ({"answer": "about 300"}, Answer(text="about 300")),
        ({"kind": "approve"}, Approve()),
        ([{"type": "accept", "args": None}], Approve()),  # Agent Inbox: accept, ignore, edit, respond
        ({"type": "ignore", "args": None}, Reject()),
        ({"type": "edit", "args": {"action": "approve_plan", "args": {"budget_usd": "40"}}}, SetBudget(usd=40)),
        ({"type": "response", "args": "budget 90"}, Answer(text="budget 90")),
        ({"type": "shrug"}, Answer(text="{'type': 'shrug'}")),  # unknown: said back as unreadable, not a crash
        (None, Answer(text="")),
    ],
)
def test_replies_are_read_from_every_front_end(value, reply):
    assert reply_of(value) == reply


def test_the_approval_reads_words_as_decisions():
    assert _decision(Answer(text="Go ahead!")) == Approve()
    assert _decision(Answer(text="no")) == Reject()
    assert _decision(Answer(text="budget $75")) == SetBudget(usd=75)
    assert _decision(Answer(text="maybe later")) == Answer(text="maybe later")  # said back as unreadable


def test_approval_follows_the_human_interrupt_convention():
    request = ApprovalRequest.build(
        session="s", plan_hash="h", total_usd=30.0, total_hours=2.0, budget_usd=20.0,
        steps=[], note=None, data_leaves="no", private=True,
    )  # fmt: skip
    assert request.within_budget is False and "over it" in (request.description or "")
    dumped = as_interrupt(request)
    assert dumped["action_request"] == {"action": "approve_plan", "args": {"plan_hash": "h", "total_usd": 30.0,
                                                                         "budget_usd": 20.0}}  # fmt: skip
    assert set(dumped["config"]) == {"allow_ignore", "allow_respond", "allow_edit", "allow_accept"}


@pytest.fixture
def graph(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEWISE_TEST_STEP_LOG", str(tmp_path / "steps.jsonl"))
    conn = sqlite3.connect(str(tmp_path / "sessions.sqlite"), check_same_thread=False)
    yield build(checkpointer=session_saver(conn))
    conn.close()


def test_one_drive_loop_answers_approves_runs_and_lists_the_session(graph, tmp_path):
    from agent.interviewer.offline import OfflineInterviewer

    data = write_chat_data(tmp_path / "train.jsonl", 120)
    ctx = Context(interviewer=OfflineInterviewer(rules_only=True), runners=RUNNERS, approved_by="test")
    start = first_state("d1", GOAL, interviewer="offline", data_path=str(data), today=TODAY)
    person = Scripted(answers=["yes, for weeks, and it still drifts", "stable", "it can go to OpenAI"])
    events: list = []
    stopped = drive(graph, "d1", person, ctx, start=start, on_event=events.append)
    assert stopped.status == "awaiting_answer" and isinstance(stopped.pending, Confirm)  # the script ran out
    assert [q.step for q in person.seen if isinstance(q, Question)] == ["prompt", "stability", "path"]

    person = Scripted(confirms=[""], approvals=[SetBudget(usd=0.001), Approve()])
    stopped = drive(graph, "d1", person, ctx, on_event=events.append)
    assert stopped.status == "over_budget" and isinstance(stopped.pending, ApprovalRequest)
    assert stopped.pending.within_budget is False and not calls(tmp_path / "steps.jsonl")  # nothing ran

    done = drive(graph, "d1", Scripted(), ctx, first=SetBudget(usd=1000))
    assert done.status == "awaiting_approval" and done.pending is not None and done.pending.within_budget
    done = drive(graph, "d1", Scripted(approvals=[Approve()]), ctx, on_event=events.append)
    assert done.status == "completed" and done.pending is None
    assert [c["step"] for c in calls(tmp_path / "steps.jsonl")] == ["split", "train", "eval", "deploy"]
    started = [e.step for e in events if isinstance(e, StepStarted)]
    finished = [e.step for e in events if isinstance(e, StepFinished)]
    assert started == finished == ["split", "train", "eval", "deploy"]
    assert isinstance(done.values["recommendation"], Recommendation)

    drive(graph, "d2", Scripted(), ctx, start=first_state("d2", "Answer from our wiki.", interviewer="offline"))
    listed = list(sessions(graph))
    assert [r.session for r in listed] == ["d2", "d1"]  # newest first, read through the checkpointer
    assert listed[1].status == "completed" and listed[1].approach == "fine_tune"


def test_a_session_saved_with_dict_state_gives_the_same_json(graph):
    """Sessions saved before the state was typed hold dicts; the --json they give is the typed one's."""
    typed = {
        "session": "old",
        "recommendation": Recommendation(approach="rag", fine_tune_path=None, rationale="why"),
    }
    old = {**typed, "recommendation": typed["recommendation"].model_dump()}
    approval = {"plan_hash": "h", "total_usd": 1.0, "approved_at": "2026-01-01T00:00:00+00:00", "approved_by": "cli"}
    report = {"approach": "rag", "steps": [{"step": "index", "status": "done", "message": None}],
              "eval_verdict": None, "deployment": None, "serve": None, "starter_prompt": False, "collect": None,
              "run_dir": None}  # fmt: skip
    out = plan_view.result({**old, "approval": approval, "report": report}, "completed")
    assert out["recommendation"] == typed["recommendation"].model_dump(mode="json")
    assert out["approval"] == approval and out["report"] == report
