"""Advice that holds on the day it is given: OpenAI's fine-tuning wind-down, by date, everywhere it shows.

"Today" is injected (`--today`, `EstimateInput.today`), so every test passes on every date; one test per date
boundary of OpenAI's notices: 2026-07-02 (recent customers only), 2027-01-06 (no new jobs), 2027-01-14 (the
fine-tunable bases shut down).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from agent.cli import app
from graphs.protocol import request_of
from tools.costs.catalog import openai_catalog
from tools.costs.lora_params import base_model_catalog, resolve_base_model
from tools.costs.plan_costs import PATHS
from tools.defaults import DEFAULT_FINE_TUNE_MODEL, DEFAULT_OPENAI_MODEL

# The user: data may go to OpenAI, a stable behaviour, 3,000 good examples, a prompt that fell short.
STARTUP = (
    "We're a startup and our data may go to OpenAI. We want replies in our brand voice, which is stable. We have "
    "3,000 good examples and a careful prompt fell short."
)
CUSTOMER = " Yes, we served a fine-tuned OpenAI model last month."


def _plan(goal: str, today: str, *extra: str) -> dict:
    result = CliRunner().invoke(app, ["plan", "--goal", goal, "--non-interactive", "--json", "--today", today, *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module", autouse=True)
def _minilm_once():
    from tools.rag.embedders import get_embedder

    get_embedder("local").embed(["warm up"])  # the offline reader's similarity pass: loaded once for the module


# ---- the plan, on each side of each date ------------------------------------------------------------------------


def test_today_a_new_organisation_gets_the_self_hosted_path_priced_in_gpu_hours():
    out = _plan(STARTUP, "2026-12-06")
    rec = out["recommendation"]
    assert (rec["framework_path"], rec["fine_tune_path"]) == ("openai_gpt41_mini", "qlora_self_hosted")
    assert rec["path_note"].startswith("The article's table picks openai_gpt41_mini")
    assert "not said to be one" in rec["path_note"] and "2027-01-14" in rec["path_note"]
    train = next(s for s in out["plan"]["steps"] if s["step"] == "train")
    assert train["inputs"]["backend"] == "unsloth" and train["inputs"]["gpu"] == "RTX 4090"
    assert train["inputs"]["base_model"] == PATHS["qlora_self_hosted"]["base_model"]
    assert out["plan"]["estimate"]["provider"] == "local" and out["plan"]["estimate"]["training_hours"] > 0
    # Non-interactive, the one question that decides it is assumed and listed, never silently guessed.
    assert [(q["step"], q["assumed"]) for q in out["questions"]] == [("path", False)]
    assert "served a fine-tuned OpenAI model in the last 60 days" in out["questions"][0]["question"]


def test_today_a_recent_customer_said_in_the_goal_gets_openai_until_its_model_ends():
    out = _plan(STARTUP + CUSTOMER, "2026-12-06")
    rec = out["recommendation"]
    assert (rec["framework_path"], rec["fine_tune_path"], rec["path_note"]) == (
        "openai_gpt41_mini",
        "openai_gpt41_mini",
        None,
    )
    assert out["questions"] == []  # read from the goal: not asked
    estimate = out["plan"]["estimate"]
    assert estimate["serves_until"] == "2027-01-14"
    risks = " ".join(out["plan"]["risks"])
    assert "serves only until 2027-01-14" in risks and "from nobody after 2027-01-05" in risks
    assert "keep serving" not in risks  # the old, wrong line about existing models


def test_before_the_60_day_rule_took_effect_the_question_names_the_rule_of_the_day():
    out = _plan(STARTUP, "2026-06-01")  # after 2026-05-07: existing fine-tuning users only
    assert out["recommendation"]["fine_tune_path"] == "qlora_self_hosted"
    assert out["questions"][0]["step"] == "path"
    assert "run fine-tuning before" in out["recommendation"]["path_note"]


def test_before_any_notice_openai_is_the_path_and_nothing_is_asked():
    out = _plan(STARTUP, "2026-04-01")
    rec = out["recommendation"]
    assert (rec["framework_path"], rec["fine_tune_path"], rec["path_note"]) == (
        "openai_gpt41_mini",
        "openai_gpt41_mini",
        None,
    )
    assert out["questions"] == []


@pytest.mark.parametrize("today", ["2027-01-06", "2027-01-14", "2027-03-01"])
def test_once_jobs_close_even_a_customer_gets_the_self_hosted_path(today):
    out = _plan(STARTUP + CUSTOMER, today)
    rec = out["recommendation"]
    assert (rec["framework_path"], rec["fine_tune_path"]) == ("openai_gpt41_mini", "qlora_self_hosted")
    assert "OpenAI takes no new fine-tuning jobs since 2027-01-06" in rec["path_note"]
    assert out["questions"] == []  # nothing to ask: the door is closed to everyone


def test_the_enterprise_row_moves_to_the_70b_self_hosted_path():
    goal = STARTUP.replace("3,000", "20,000") + " It's a complex, specialised legal domain."
    rec = _plan(goal, "2026-12-06")["recommendation"]
    assert (rec["framework_path"], rec["fine_tune_path"]) == ("openai_gpt41", "qlora_70b")


def test_an_interactive_person_is_asked_once_and_the_answer_decides(tmp_path):
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    from agent.interviewer.offline import OfflineInterviewer
    from graphs.pipeline import build_interview
    from graphs.state import Context

    graph = build_interview(InMemorySaver())
    # The rules' reading (no heads): the question under test is the OpenAI-customer one, asked once.
    ctx = Context(interviewer=OfflineInterviewer(heads=None), local_reader=OfflineInterviewer(heads=None))
    config = {"configurable": {"thread_id": "t"}}
    state = {"session": "t", "goal": STARTUP, "interactive": True, "preset": {}, "today": "2026-12-06"}
    out = graph.invoke(state, config, context=ctx)
    asked = [request_of(i.value) for i in out["__interrupt__"]]
    assert asked[0].step == "path" and "last 60 days" in asked[0].question
    out = graph.invoke(Command(resume="yes, we do"), config, context=ctx)
    assert request_of(out["__interrupt__"][0].value).kind == "confirm"
    out = graph.invoke(Command(resume=""), config, context=ctx)
    assert out["recommendation"].fine_tune_path == "openai_gpt41_mini"
    assert out["facts"]["openai_customer"]["source"] == "asked"


def test_the_human_view_says_both_paths_in_one_sentence(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    args = ["plan", "--goal", STARTUP, "--non-interactive", "--today", "2026-12-06"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    note = _plan(STARTUP, "2026-12-06")["recommendation"]["path_note"]
    assert note.count(". ") == 0 and note.endswith(").")  # one sentence
    assert note in " ".join(result.output.split())


# ---- estimate and the catalogue ----------------------------------------------------------------------------------


def test_every_default_model_is_alive_for_30_more_days():
    catalog = openai_catalog()
    today = dt.date.today()
    assert catalog.model(DEFAULT_OPENAI_MODEL).alive(today, margin_days=30), DEFAULT_OPENAI_MODEL
    # The fine-tuning default matters only while OpenAI still takes jobs; until then its model must still serve.
    if catalog.fine_tuning.status(today) != "closed":
        assert catalog.model(DEFAULT_FINE_TUNE_MODEL).alive(today)


def test_a_named_model_past_its_date_gets_one_line_before_any_money_is_spent(tmp_path):
    from tests.test_graphs import write_chat_data

    data = write_chat_data(tmp_path / "d.jsonl", 20)
    result = CliRunner().invoke(app, ["train", str(data), "--backend", "openai", "--model", "gpt-4.1-nano"])
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert "gpt-4.1-nano shut down on 2026-10-23" in line and "notice of 2026-04-22" in line
    assert "Traceback" not in result.output


def test_every_dated_fact_names_its_source_and_the_day_it_was_read():
    catalog = openai_catalog()
    for fact in catalog.fine_tuning.sources:
        assert fact.url.startswith("https://") and fact.read and fact.page
    for model in catalog.models.values():
        if model.shutdown is not None:
            assert model.shutdown_source is not None and model.shutdown_source.read
    for path in ("qlora_self_hosted", "qlora_70b", "lora_70b"):
        entry = base_model_catalog()["path_defaults"][path]
        assert {"base_model", "licence", "context_tokens", "chosen", "sources"} <= set(entry)
        resolve_base_model(entry["base_model"])  # the catalogue can size it


def test_a_prices_file_can_move_the_dates(tmp_path):
    shifted = {
        "fine_tuning": {**openai_catalog().fine_tuning.model_dump(mode="json"), "all_closed": "2026-12-01"},
        "models": {"gpt-4.1-mini": {"shutdown": "2028-01-01"}},
    }
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(shifted))
    catalog = openai_catalog(path)
    assert catalog.fine_tuning.status(dt.date(2026, 12, 6)) == "closed"
    assert catalog.model("gpt-4.1-mini").shutdown == dt.date(2028, 1, 1)


def test_the_reader_takes_a_recent_openai_fine_tune_from_sentences_it_was_not_tuned_on():
    """Author J wrote 40 / 30 / 30 sentences blind (yes, no, neither); the rule was chosen on the first half of each
    group. On the second half it must read most "yes" and "no" and never be confidently wrong."""
    from pathlib import Path

    from agent.interviewer.offline import OfflineInterviewer

    data = json.loads((Path(__file__).parent / "data" / "authors" / "openai_customer_j.json").read_text())
    reader = OfflineInterviewer(rules_only=True)

    def read(text: str):
        return next((f.value for f in reader.extract(text) if f.fact == "openai_customer"), None)

    unseen = {group: data[group][len(data[group]) // 2 :] for group in ("yes", "no", "neither")}
    got = {group: [read(t) for t in texts] for group, texts in unseen.items()}
    assert sum(v is True for v in got["yes"]) >= 0.9 * len(got["yes"])
    assert sum(v is False for v in got["no"]) >= 0.6 * len(got["no"])
    assert all(v is None for v in got["neither"])
    assert not any(v is False for v in got["yes"]) and not any(v is True for v in got["no"])  # never confidently wrong


def test_a_fine_tune_in_use_now_counts_whenever_it_was_trained():
    """Author K wrote 40 texts blind (tests/data/authors/openai_customer_k.jsonl). Read first after the rule learnt,
    from the goal corpora, that use now outweighs age ("fine-tuned back in 2023, still live") and a "no" elsewhere in
    the clause: 21 right and 7 wrong, where the rule before read 19 right and 11 wrong. Then "still up" and "our ft
    model", from K's misses: 23 and 6. The wrong ones left are dates ("switched off on November 20, 2026") and a
    "never" about something else."""
    from pathlib import Path

    from agent.interviewer.offline import OfflineInterviewer

    reader = OfflineInterviewer(rules_only=True)
    path = Path(__file__).parent / "data" / "authors" / "openai_customer_k.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    got = [next((f.value for f in reader.extract(r["text"]) if f.fact == "openai_customer"), None) for r in rows]
    right = sum(g is r["customer"] for g, r in zip(got, rows))
    wrong = sum(g is not None and g is not r["customer"] for g, r in zip(got, rows))
    assert right >= 23 and wrong <= 6
    # the phrasings the change is for: in use now, whatever the age or a "no" in another clause
    for text in (
        "Our legal summarizer runs on a fine-tuned davinci model from 2022 and it's still up.",
        "lol our ft model on openai is still running the sales email drafts, nobody has touched it since last year",
    ):
        assert next(f.value for f in reader.extract(text) if f.fact == "openai_customer") is True, text
