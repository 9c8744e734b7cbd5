"""Step 1's "today's prompt is large and costly" (issue 28's reader): a size said of the prompt decides, a whole
document placed in every call is large, and the cost may be said in the next sentence. Measured on two sets of
texts by blind authors (tests/data/prompt_size/README.md says which figures are fitted and which are not).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.interviewer import rules
from agent.interviewer.numbers import sizes
from agent.interviewer.offline import OfflineInterviewer

DATA = Path(__file__).parent / "data" / "prompt_size"


@pytest.fixture(scope="module")
def reader():
    return OfflineInterviewer(rules_only=True, heads=None)  # prompt_large is the rules' alone: no model needed


def _large(reader, text: str) -> bool:
    return any(f.fact == "prompt_large" and f.value is True for f in reader.extract(text))


@pytest.mark.parametrize("name,least", [("a_ops.jsonl", 0.92), ("b_forum.jsonl", 0.87)])
def test_blind_authors_texts_are_read_as_their_writers_labelled_them(reader, name, least):
    rows = [json.loads(line) for line in (DATA / name).read_text("utf-8").splitlines() if line.strip()]
    right = [_large(reader, r["text"]) == r["large"] for r in rows]
    wrongly_large = sum(1 for r, ok in zip(rows, right) if not ok and not r["large"])
    assert sum(right) / len(rows) >= least, [r["text"][:80] for r, ok in zip(rows, right) if not ok]
    assert wrongly_large <= 3  # a large prompt read where there is none sends a working prompt to fine-tuning


@pytest.mark.parametrize(
    "text,large",
    [
        # b_forum's author: the size in "tok", the cost in a later sentence
        ("our sys prompt is ~18k tok (whole product catalog + return policies) and it goes on every single req.", True),
        ("Sys prompt ~4k tok, which I think is medium? Latency and cost are both fine.", False),
        ("Hey, our prompt asks for a 10-section report in markdown, and the responses are like 4-5k tokens.", False),
        (
            "the model's context window is 8k and our customers' documents are usually 20-30k tokens, so we cut them.",
            False,
        ),
        ("we're debating whether to put the whole style guide (~30 pages) into the prompt or fine-tune on it.", False),
        # a_ops's author: a whole document on every call, no number; a small one that is cheap
        ("The whole employee handbook goes into each request to our HR helper.", True),
        ("We paste our two-page FAQ into the prompt and it works fine; the cost is negligible.", False),
        ("Marketing's prompt is around 1,500 tokens and costs pennies a day.", False),
        (
            "Pasting our whole 3,000-page regulatory library into a prompt would be impossible, so we haven't tried.",
            False,
        ),
    ],
)
def test_what_the_prompt_s_size_says(reader, text, large):
    assert _large(reader, text) is large


def test_a_long_prompt_is_costly_when_the_next_sentence_says_so(reader):
    said = "Our prompt runs to about 3,000 tokens of rules and examples."
    assert rules.prompt_size(said.lower()) == "long" and not _large(reader, said)
    found = {
        f.fact: f for f in reader.extract(said + " Every request pays for all of it, and at our volume that hurts.")
    }
    assert found["prompt_large"].value is True and found["prompt_large"].evidence.startswith(said)
    assert not _large(reader, said + " Quality is fine and nobody has complained.")


def test_sizes_read_in_pages_words_tokens_and_characters():
    assert sizes("a 14-page style guide") == [9100]
    assert sizes("some forty pages of guidance, about 9,000 words") == [26000, 11700]
    assert sizes("~11k input tokens per call; 18.000 tokens; 12.000 characters") == [11000, 18000, 3000]
    assert sizes("dozens of pages per call") == [15600]
    assert sizes("version 2.5 of page 3") == []
    assert sizes("the replies run 2k tokens", ("token",), rules._NOT_PROMPT) == []
