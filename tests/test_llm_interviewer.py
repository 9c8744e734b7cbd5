"""LLM mode through the fake OpenAI server: structured outputs, scripted read-only tool calls, the whole agent run
through approval and OpenAI fine-tuning, and the key absent from everything written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.interviewer.llm import LLMInterviewer
from graphs.protocol import request_of
from tests.fakes.openai_server import FAKE_API_KEY, openai_server  # noqa: F401 - fixture
from tests.test_graphs import write_chat_data
from tools.clients import get_openai_client
from tools.errors import TunewiseError

GOAL = (
    "We want our support bot to sound like our best agent: same tone, terms and formatting. Weeks of prompt "
    "engineering didn't get there. Her style is stable, and the data can go to OpenAI."
)
FACTS = [
    {
        "fact": "behaviour",
        "value": "true",
        "evidence": "We want our support bot to sound like our best agent: same tone, terms and formatting.",
    },
    {"fact": "prompting", "value": "fell_short", "evidence": "Weeks of prompt engineering didn't get there."},
    {"fact": "stable", "value": "true", "evidence": "Her style is stable, and the data can go to OpenAI."},
    {"fact": "private", "value": "false", "evidence": "Her style is stable, and the data can go to OpenAI."},
]


def _interviewer() -> LLMInterviewer:
    return LLMInterviewer("gpt-4.1-mini", get_openai_client(max_retries=0))


def _chat_calls(server) -> list[dict]:
    return [r.body for r in server.calls("POST", "/v1/chat/completions")]


def test_structured_output_after_a_read_only_tool_call(openai_server, tmp_path):  # noqa: F811
    data = write_chat_data(tmp_path / "train.jsonl", 60)
    openai_server.chat.script(
        {"tool_calls": [{"name": "validate", "arguments": {"path": str(data)}}]},
        {
            "content": {
                "facts": FACTS
                + [
                    {"fact": "examples", "value": "60", "evidence": "made up"},
                    {"fact": "prompting", "value": "sort of", "evidence": "bad value"},
                ]
            }
        },
    )
    found = {f.fact: f for f in _interviewer().extract(GOAL + f" Our examples are in {data}.")}
    assert {k: f.value for k, f in found.items()} == {
        "behaviour": True,
        "prompting": "fell_short",
        "stable": True,
        "private": False,
        "examples": 60,
    }
    assert found["prompting"].evidence == "Weeks of prompt engineering didn't get there."
    assert found["examples"].evidence.startswith("We want")  # evidence not in the text falls back to the text
    first, second = _chat_calls(openai_server)
    assert [t["function"]["name"] for t in first["tools"]] == ["validate", "estimate", "search"]
    assert first["response_format"]["type"] == "json_schema"
    tool_reply = json.loads(second["messages"][-1]["content"])
    assert second["messages"][-1]["role"] == "tool" and tool_reply["valid_examples"] == 60


def test_a_tool_it_was_not_given_is_refused(openai_server):  # noqa: F811
    openai_server.chat.script(
        {"tool_calls": [{"name": "train", "arguments": {"data": "x.jsonl"}}]},
        {"content": {"facts": []}},
    )
    interviewer = _interviewer()
    assert interviewer.extract("Train it now.") == []
    assert interviewer.tool_calls == ["train"]
    refusal = json.loads(_chat_calls(openai_server)[1]["messages"][-1]["content"])
    assert refusal == {"error": "no tool named 'train'; available: validate, estimate, search"}


def test_short_reply_to_a_question(openai_server):  # noqa: F811
    openai_server.chat.script(
        {"content": {"facts": [{"fact": "examples", "value": "1,200", "evidence": "about 1,200"}]}}
    )
    found = _interviewer().extract("about 1,200", focus="examples")
    assert [(f.fact, f.value) for f in found] == [("examples", 1200)]
    prompt = _chat_calls(openai_server)[0]["messages"][1]["content"]
    assert "How many good examples" in prompt and "about 1,200" in prompt


def test_endpoint_errors_are_one_clear_line(openai_server):  # noqa: F811
    openai_server.fail("POST", "/v1/chat/completions", 500, times=3)
    with pytest.raises(TunewiseError) as err:
        _interviewer().extract(GOAL)
    assert str(err.value).startswith("the LLM endpoint answered 500") and FAKE_API_KEY not in str(err.value)


def test_agent_in_llm_mode_end_to_end_and_the_key_is_never_stored(openai_server, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TUNEWISE_LLM_MODEL", "gpt-4.1-mini")
    data = write_chat_data(tmp_path / "train.jsonl", 120)
    openai_server.chat.script({"content": {"facts": FACTS}})
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "--goal",
            GOAL,
            "--data",
            str(data),
            "--approve",
            "--non-interactive",
            "--json",
            "--today",
            "2026-04-01",
        ],
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["plan"]["interviewer"] == "llm:gpt-4.1-mini"
    assert (out["recommendation"]["approach"], out["recommendation"]["fine_tune_path"]) == (
        "fine_tune",
        "openai_gpt41_mini",
    )
    assert out["status"] == "completed"
    steps = {s["step"]: s for s in out["report"]["steps"]}
    assert steps["split"]["status"] == "done" and steps["train"]["status"] == "succeeded"
    assert len(openai_server.finetune.jobs) == 1  # trained once, on the fake OpenAI, after the approval
    written = [p for p in Path(".tunewise").rglob("*") if p.is_file()]
    assert any(p.name.startswith("sessions.sqlite") for p in written) and any(p.name == "run.json" for p in written)
    for path in written:
        assert FAKE_API_KEY.encode() not in path.read_bytes(), path
    assert FAKE_API_KEY not in result.stdout + result.stderr


def test_the_llm_interviewer_goes_through_the_confirm_step(openai_server, tmp_path):  # noqa: F811
    """The confirm step is a graph node: a correction is read by the LLM with the item's question as focus."""
    import sqlite3

    from langgraph.types import Command

    from graphs.pipeline import build, session_saver
    from graphs.state import Context

    openai_server.chat.script(
        {"content": {"facts": FACTS}},
        {"content": {"facts": [{"fact": "examples", "value": "30", "evidence": "about 30"}]}},
        {"content": {"facts": [{"fact": "examples", "value": "1200", "evidence": "we have 1,200 examples"}]}},
    )
    conn = sqlite3.connect(str(tmp_path / "s.sqlite"), check_same_thread=False)
    graph = build(checkpointer=session_saver(conn))
    config = {"configurable": {"thread_id": "llm1"}}
    ctx = Context(interviewer=_interviewer(), approved_by="test")

    def run(payload):
        return graph.invoke(payload, config, context=ctx, durability="sync")

    out = run({"session": "llm1", "goal": GOAL, "interactive": True, "today": "2026-04-01"})
    assert request_of(out["__interrupt__"][0].value).step == "data"
    out = run(Command(resume="about 30"))
    shown = request_of(out["__interrupt__"][0].value)
    assert shown.kind == "confirm" and shown.items[2].read == "30 good examples"
    out = run(Command(resume="3: we have 1,200 examples"))
    correction = _chat_calls(openai_server)[-1]["messages"][1]["content"]
    assert "How many good examples" in correction and "we have 1,200 examples" in correction
    again = request_of(out["__interrupt__"][0].value)
    assert again.kind == "confirm" and again.items[2].read == "1,200 good examples"
    out = run(Command(resume="yes"))
    assert (out["recommendation"].approach, out["recommendation"].fine_tune_path) == ("fine_tune", "openai_gpt41_mini")
    assert out["decision"].facts.examples == 1200
    conn.close()
