"""Step 1 read from numbers (issue 27): a reached score and a needed one in the same text are compared with each
other, not with the 80% rule of thumb, by the offline reader and after the LLM interviewer alike.

tests/data/scores/ holds goal texts written by authors who never saw the code (a brief, no repository); see its
README for what each set measured at its first, blind run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.interviewer.scores import compare
from tools.measure.verdict import verdict

DATA = Path(__file__).parent / "data" / "scores"


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "reached", "needed", "verdict"),
    [
        ("our prompt gets 82% right and we need 97%", 0.82, 0.97, "fell_short"),
        ("Prompting is at 72% accuracy; 70% is the bar for launch.", 0.72, 0.70, "good_enough"),
        (
            "Our classifier prompt misroutes 12% of tickets; compliance requires under 2% errors.",
            0.88,
            0.98,
            "fell_short",
        ),
        ("Few-shot baseline F1 0.61, we need 0.85 to ship.", 0.61, 0.85, "fell_short"),
        ("The prompt gets 41 of 50 right; we need at least 48 of 50.", 0.82, 0.96, "fell_short"),
        ("one in twenty replies breaks the schema; the customer accepts at most 1 in 100", 0.95, 0.99, "fell_short"),
    ],
)
def test_reached_and_needed_are_compared_with_each_other(text, reached, needed, verdict):
    said = compare(text)
    assert said is not None and said.verdict == verdict
    assert said.reached == pytest.approx(reached) and said.needed == pytest.approx(needed)


def test_a_rating_with_a_decimal_is_not_a_fraction_of_its_last_digit():
    # AH-edu's shape: "4.2/5" was read as 2 of 5 (40%)
    said = compare("Teachers rate the output 4.2/5 and we need at least 80%.")
    assert said is None or said.reached != pytest.approx(0.4)


@pytest.mark.parametrize(
    "text",
    [
        "It costs 20% more than we budgeted.",
        "We have 8,000 chats; 3 of 4 engineers agree the tone is off.",
        "Our prompt works well enough; 95% of users are happy.",  # one number: nothing to compare
        "We answer 24/7 in 12 languages.",
    ],
)
def test_numbers_that_are_not_a_reached_and_a_needed_score_say_nothing(text):
    assert compare(text) is None


@pytest.mark.parametrize("name", ["blind1.jsonl", "blind2.jsonl", "blind3.jsonl"])
def test_blind_authors_reached_and_needed(name):
    """The sets' numbers are the authors'; their `verdict` follows a stricter brief than the goal writers' (more than
    a point short fell short, README), so the verdict checked is tools.measure.verdict's on the authors' numbers."""
    rows = _rows(name)
    read = [(r, c) for r in rows if (c := compare(r["text"])) is not None]
    right = [
        r
        for r, c in read
        if c.reached == pytest.approx(r["reached"], abs=0.005) and c.needed == pytest.approx(r["needed"], abs=0.005)
    ]
    assert len(right) >= 0.8 * len(rows), f"{name}: {len(right)}/{len(rows)}"
    assert all(c.verdict == verdict(r["reached"], r["needed"]) for r, c in read if r in right)
    # never the confident wrong answer the issue describes: a prompt that fell short read as good enough
    wrong = [
        r["text"] for r, c in read if verdict(r["reached"], r["needed"]) == "fell_short" and c.verdict != "fell_short"
    ]
    assert len(wrong) <= 1, wrong


@pytest.mark.parametrize(
    ("text", "value", "evidence"),
    [
        (
            "Our support prompt gets 82% of answers right, which looks decent, but compliance needs 97%.",
            "fell_short",
            "reached 82%, 15 points short of the 97% needed",
        ),
        (  # a little short, and close: the evidence says how close
            "Our triage prompt sorts 86% of reports correctly. The target we agreed is 88%.",
            "good_enough",
            "reached 86%, 2 points short of the 88% needed: 14% of its errors to fix",
        ),
    ],
)
def test_the_offline_reader_reads_step_1_from_the_numbers(monkeypatch, text, value, evidence):
    from agent.interviewer.offline import OfflineInterviewer

    monkeypatch.setattr("agent.interviewer.heads.shipped", lambda: False)
    found = {f.fact: f for f in OfflineInterviewer(rules_only=True).extract(text)}
    assert found["prompting"].value == value and found["prompting"].how == "stated"
    assert found["prompting"].evidence.startswith(evidence)


def test_the_llm_interviewers_reading_is_checked_against_the_numbers():
    from agent.interviewer.llm import Extraction, LLMInterviewer

    text = "The prompted model gets 86% right and the regulator wants 99%."
    parsed = Extraction.model_validate({"facts": [{"fact": "prompting", "value": "good_enough", "evidence": text}]})
    got = {f.fact: f for f in LLMInterviewer._findings(parsed, text)}
    assert got["prompting"].value == "fell_short"  # the LLM applied the 80% rule to 86%; the numbers say otherwise


@pytest.mark.parametrize(
    ("text", "verdict", "share"),
    [
        # a few points short, and only a small share of the prompt's errors to fix: a better prompt's job
        ("The routing prompt gets 87% of tickets right; ops asked for 89%.", "good_enough", 0.15),
        ("Few-shot F1 is 0.70 and the team would be happy at 0.74.", "good_enough", 0.13),
        # a few points short, with up to half of the errors to fix: "close to their own target" to the goal writers
        # (AU-investor, not looked at for the rule; the old quarter of the errors called it short)
        (
            "A carefully written prompt gets the texts accepted unedited ~85% of the time; their own target is 90%.",
            "good_enough",
            0.33,
        ),
        # as few points short, but most of the remaining errors must go: not a prompt's job
        ("The prompt's error rate is 5% and the auditors allow at most 1.5%.", "fell_short", 0.70),
        ("Our extraction prompt is at 96% field accuracy; the contract says 99%.", "fell_short", 0.75),
        ("It manages 70% and we need 90%.", "fell_short", 0.67),
        # few of the errors, but ten points: not close (the quarter of the errors alone called it close)
        ("Few-shot accuracy is 50% and the team needs 60%.", "fell_short", 0.2),
    ],
)
def test_close_to_the_target_is_measured_in_points_and_errors_left_to_fix(text, verdict, share):
    said = compare(text)
    assert said is not None and said.verdict == verdict and said.short_by > 1
    assert said.errors_to_fix == pytest.approx(share, abs=0.01)


@pytest.mark.parametrize(
    ("text", "reached", "needed"),
    [
        # a score of the data or its labellers is not the prompt's
        (
            "Our 3,000 tickets were labelled by two annotators, kappa 0.9. The prompt gets 0.74 F1; we need 0.85.",
            0.74,
            0.85,
        ),
        ("A double-annotated sample showed 95% agreement. Few-shot accuracy is 80%, target 92%.", 0.80, 0.92),
        ("An audit of 400 of the labels found 96% correct. Zero-shot is at 70% and we need 88%.", 0.70, 0.88),
        # ... but the prompt's own agreement with the annotators is its score
        ("The tagger hits 72% agreement with our annotators, and 70% is all we need.", 0.72, 0.70),
    ],
)
def test_the_prompt_s_score_not_a_class_count_or_the_labellers_agreement(text, reached, needed):
    said = compare(text)
    assert said is not None and said.reached == pytest.approx(reached) and said.needed == pytest.approx(needed)


@pytest.mark.parametrize(
    "text",
    [
        "The model must put each claim into one of 14 queues. The prompt routes 71% correctly.",
        "It has to assign one of six intake categories; a zero-shot prompt gets 78% right.",
    ],
)
def test_a_choice_among_classes_is_not_a_target(text):
    assert compare(text) is None  # one of 14 is no 7% bar: the text gives no target to compare with
