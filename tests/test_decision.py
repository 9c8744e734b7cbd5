"""The decision function, exhaustively over its inputs, against the article's rules stated one by one."""

from __future__ import annotations

import itertools

import pytest

from tools.decision import (
    DOMAINS,
    LARGE_DATASET,
    MIN_GOOD_EXAMPLES,
    Facts,
    decide,
    framework_path,
    pick_path,
    relevant,
)

GRID = {
    "prompting": ["not_tried", "fell_short", "good_enough"],
    "prompt_large": [False, True],
    "problem": ["knowledge", "behaviour", "both"],
    "examples": [0, MIN_GOOD_EXAMPLES - 1, MIN_GOOD_EXAMPLES, 499, LARGE_DATASET - 1, LARGE_DATASET],
    "stable": [True, False],
    "private": [True, False],
    "complex_domain": [False, True],
    "best_quality": [False, True],
    "fast_iteration": [False, True],
    "openai_status": ["open", "existing_only", "closed"],
    "openai_customer": [False, True],
}
ALL = [Facts(**dict(zip(GRID, combo))) for combo in itertools.product(*GRID.values())]
TUNED = ("fine_tune", "fine_tune_rag")


def test_the_grid_is_every_combination():
    assert len(ALL) == 3 * 2 * 3 * 6 * 2 * 2 * 2 * 2 * 2 * 3 * 2 == 20736


def test_knowledge_is_always_rag():
    for f in ALL:
        if f.problem == "knowledge":
            d = decide(f)
            assert (d.approach, d.fine_tune_path) == ("rag", None), f
            assert "knowledge" in d.rationale


def test_changing_behaviour_is_never_fine_tuned():
    for f in ALL:
        if f.problem != "knowledge" and not f.stable:
            assert decide(f).approach == ("rag" if f.problem == "both" else "prompt_engineering"), f


def test_prompting_comes_first_unless_todays_prompt_is_large():
    for f in ALL:
        if f.problem != "knowledge" and f.stable and not f.prompt_large and f.prompting != "fell_short":
            d = decide(f)
            assert d.approach == ("rag" if f.problem == "both" else "prompt_engineering"), f
            assert ("80%" in d.rationale) == (f.prompting == "good_enough")


def test_a_large_costly_prompt_skips_prompting_first():
    for f in ALL:
        if f.problem != "knowledge" and f.stable and f.prompt_large and f.examples >= MIN_GOOD_EXAMPLES:
            assert decide(f).approach in TUNED, f


def test_fewer_than_50_good_examples_means_collect_more():
    for f in ALL:
        would_tune = f.problem != "knowledge" and f.stable and (f.prompting == "fell_short" or f.prompt_large)
        d = decide(f)
        if would_tune and f.examples < MIN_GOOD_EXAMPLES:
            assert d.approach == "collect_more_data", f
            assert d.collect == {"have": f.examples, "minimum": 100, "target": 500, "what": d.collect["what"]}
            assert f"at least {100 - f.examples} more" in d.rationale
        elif would_tune:
            assert d.approach == ("fine_tune_rag" if f.problem == "both" else "fine_tune"), f
        else:
            assert d.approach not in (*TUNED, "collect_more_data"), f


def test_fine_tune_path_is_set_exactly_when_fine_tuning():
    for f in ALL:
        d = decide(f)
        assert (d.fine_tune_path is not None) == (d.approach in TUNED)
        assert d.path_if_fine_tuning == pick_path(f)[0]
        if d.approach in TUNED:
            assert d.fine_tune_path == d.path_if_fine_tuning


def test_step_five_table():
    for f in ALL:
        path, notes = pick_path(f)
        enterprise = f.complex_domain or f.examples >= LARGE_DATASET
        openai_open = f.openai_status == "open" or (f.openai_status == "existing_only" and f.openai_customer)
        if f.best_quality:
            expected = "lora_70b"
        elif f.private or not openai_open:
            expected = "qlora_70b" if enterprise else "qlora_self_hosted"
        else:
            expected = "openai_gpt41" if enterprise else "openai_gpt41_mini"
        assert path == expected, f
        # Data that must stay in-house never goes to OpenAI, and a door closed to this organisation is never picked.
        assert not (path.startswith("openai") and (f.private or not openai_open))
        # OpenAI's access is said whenever it changed the table's pick or limits it (existing customers only).
        if framework_path(f).startswith("openai") and f.openai_status != "open":
            assert notes and "OpenAI" in notes[0]
        if path.startswith("openai") and f.openai_status == "existing_only":
            d = decide(f)
            if d.approach in TUNED:
                assert "60 days" in d.rationale and "shuts down" in d.rationale


def test_the_framework_path_is_the_articles_table_and_differs_only_through_openai():
    for f in ALL:
        d = decide(f)
        if d.approach not in TUNED:
            assert d.framework_path is None
            continue
        assert d.framework_path == framework_path(f)
        if d.framework_path != d.fine_tune_path:  # only OpenAI's wind-down moves a plan off the article's table
            assert d.framework_path.startswith("openai") and d.fine_tune_path.startswith("qlora")
            assert "not open to you" in d.rationale


def test_fast_iteration_alone_never_changes_the_outcome():
    for f in ALL:
        flipped = f.model_copy(update={"fast_iteration": not f.fast_iteration})
        assert (decide(f).approach, decide(f).fine_tune_path) == (
            decide(flipped).approach,
            decide(flipped).fine_tune_path,
        )


def test_every_decision_has_a_rationale():
    for f in ALL:
        text = decide(f).rationale
        assert text and text[0].isupper() and text.endswith(".")


ISSUE = [
    (
        {
            "prompting": "fell_short",
            "problem": "behaviour",
            "examples": 8000,
            "stable": True,
            "private": False,
            "fast_iteration": True,
        },
        ("fine_tune", "openai_gpt41_mini"),
    ),
    ({"problem": "knowledge"}, ("rag", None)),
    ({"prompting": "not_tried", "problem": "behaviour"}, ("prompt_engineering", None)),
    (
        {"prompting": "fell_short", "problem": "both", "examples": 2500, "stable": True, "private": True},
        ("fine_tune_rag", "qlora_self_hosted"),
    ),
    (
        {"prompting": "fell_short", "problem": "behaviour", "examples": 25, "complex_domain": True},
        ("collect_more_data", None),
    ),
    ({"problem": "behaviour", "stable": False}, ("prompt_engineering", None)),
]


@pytest.mark.parametrize("given,expected", ISSUE)
def test_the_issues_examples(given, expected):
    d = decide(Facts(**given))
    assert (d.approach, d.fine_tune_path) == expected


def test_relevance_asks_only_what_could_change_the_answer():
    assert all(relevant(f, {}) for f in DOMAINS if f != "openai_customer")  # nothing known: every step matters
    # Whether OpenAI still takes this organisation's jobs matters only on days it takes only existing customers'.
    assert not relevant("openai_customer", {}) and not relevant("openai_customer", {"openai_status": "closed"})
    assert relevant("openai_customer", {"openai_status": "existing_only"})
    assert not relevant("openai_customer", {"openai_status": "existing_only", "private": True})
    knowledge = {"problem": "knowledge"}
    assert not any(relevant(f, knowledge) for f in DOMAINS if f != "problem")
    untried = {"problem": "behaviour", "prompting": "not_tried"}
    assert not relevant("examples", untried) and not relevant("private", untried) and not relevant("stable", untried)
    changing = {"problem": "behaviour", "stable": False}
    assert not relevant("prompting", changing) and not relevant("examples", changing)
    ready = {"problem": "behaviour", "prompting": "fell_short", "stable": True, "examples": 8000}
    assert relevant("private", ready)
    assert not relevant("private", {**ready, "openai_status": "closed"})  # self-hosted either way
    assert not relevant("private", {**ready, "best_quality": True})
    assert not relevant("private", {**ready, "examples": 10})  # collect more data either way


def test_relevance_agrees_with_decide_on_every_full_assignment():
    for combo in itertools.product(*DOMAINS.values()):
        full = dict(zip(DOMAINS, combo))
        for fact in DOMAINS:
            rest = {k: v for k, v in full.items() if k != fact}
            outcomes = {
                (decide(Facts(**rest, **{fact: v})).approach, decide(Facts(**rest, **{fact: v})).fine_tune_path)
                for v in DOMAINS[fact]
            }
            assert relevant(fact, rest) == (len(outcomes) > 1), (fact, rest)
