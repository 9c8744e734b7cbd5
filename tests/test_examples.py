"""examples/: the chat file validates cleanly, the help centre is what the demo indexes, and the two agree on facts."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from tools.dataset.validate import ValidateInput, run
from tools.rag import loaders
from tools.rag.chunking import looks_like_instructions

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CHAT = EXAMPLES / "support_chat.jsonl"
HELPCENTRE = EXAMPLES / "helpcentre"

# Facts the generator's answers quote, written out here rather than imported, so the test does not trust the
# generator: each must be in its page (as the indexer reads it) and in the answers of conversations citing that page.
FACTS = [
    ("£69 a month", "plans-and-prices.md"),
    ("27 Tannery Row, Leeds LS11 9BX", "workshops.html"),
    ("within 48 hours", "fixfast-repairs.md"),
    ("60 to 90 km", "e-ride-battery.md"),
    ("14 days' notice", "cancelling.md"),
]


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [json.loads(line) for line in CHAT.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return {
        p.name: _flat(" ".join(s.heading + " " + s.text for s in loaders.load(p))) for p in sorted(HELPCENTRE.iterdir())
    }


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chat_file_validates_with_no_errors_or_warnings():
    result = run(ValidateInput(path=CHAT))
    assert result.format == "chat"
    assert result.examples >= 300
    assert result.valid_examples == result.examples
    assert result.errors == []
    assert result.warnings == []  # no duplicate, near_duplicate, conflicting_answers, inconsistent_format, pii


def test_generator_reproduces_the_committed_file_and_its_facts_match_the_pages(generator):
    assert generator.check_facts() == []
    assert generator.render(generator.generate()) == CHAT.read_text(encoding="utf-8")


def test_every_conversation_keeps_the_house_style(records):
    systems = {r["messages"][0]["content"] for r in records}
    assert len(systems) == 1 and len(next(iter(systems))) < 300
    assert sum(len(r["messages"]) > 3 for r in records) >= 30  # some multi-turn
    for r in records:
        assert r["metadata"]["topic"]
        assert all((HELPCENTRE / page).is_file() for page in r["metadata"]["helpcentre"])
        first_user = r["messages"][1]["content"]
        for i, msg in enumerate(r["messages"][2:], 2):
            if msg["role"] != "assistant":
                continue
            greeting, summary, steps, sign_off = msg["content"].split("\n\n")
            name = re.fullmatch(r"Hi (?:again )?(\w+),", greeting).group(1)
            assert name.lower() in first_user.lower()  # the greeting uses the name the customer gave
            assert "\n" not in summary
            assert [line.split(". ", 1)[0] for line in steps.splitlines()] == [
                str(n) for n in range(1, len(steps.splitlines()) + 1)
            ]
            assert sign_off == "Happy riding,\nThe Larkspur Crew"


def test_helpcentre_has_enough_pages_in_the_expected_formats(pages):
    kinds = Counter(Path(name).suffix for name in pages)
    assert len(pages) >= 30
    assert kinds[".md"] > len(pages) / 2
    assert kinds[".rst"] + kinds[".txt"] >= 1
    html = [HELPCENTRE / n for n in pages if n.endswith(".html")]
    assert len(html) >= 5
    for path in html:
        raw = path.read_text(encoding="utf-8")
        blocks = re.findall(r"<(script|style)[^>]*>(.*?)</\1>", raw, re.S)
        assert blocks, f"{path.name} has no <script> or <style> for the indexer to strip"
        for _, body in blocks:
            code = max(body.split("\n"), key=len).strip()
            if code:
                assert code not in pages[path.name], f"{path.name}: script/style text reached the indexed text"
    for name, text in pages.items():
        assert 150 <= len(text.split()) <= 650, f"{name}: {len(text.split())} words"  # 600 of prose plus headings


def test_facts_in_the_answers_are_stated_by_the_pages(records, pages):
    for fact, page in FACTS:
        assert fact in pages[page], f"{fact!r} not in {page}"
        answers = [
            m["content"]
            for r in records
            if page in r["metadata"]["helpcentre"]
            for m in r["messages"]
            if m["role"] == "assistant"
        ]
        assert any(fact in a for a in answers), f"{fact!r} never quoted by conversations citing {page}"


def test_one_page_quotes_a_prompt_injection_as_data(pages):
    flagged = [name for name, text in pages.items() if looks_like_instructions(text)]
    assert flagged == ["scam-awareness.md"]
    assert "ignore all previous instructions" in pages["scam-awareness.md"]


@pytest.mark.parametrize("goal, approach", [("fine_tune_rag", "fine_tune_rag"), ("rag_only", "rag")])
def test_goal_texts_lead_to_their_approach(goal, approach):
    """The decision rests on what the rules read as stated; a fake embedder keeps MiniLM (30 s here) out of it."""
    from agent.interviewer.offline import OfflineInterviewer
    from graphs.interview import absorb, defaults, known
    from tests.fakes.hash_embedder import HashEmbedder
    from tools.decision import DOMAINS, Facts, decide, relevant

    findings = OfflineInterviewer(embedder=HashEmbedder()).extract((EXAMPLES / "goals" / f"{goal}.txt").read_text())
    facts = known(absorb({}, [f for f in findings if f.how == "stated"]))
    assert decide(Facts(**{**defaults(), **facts})).approach == approach
    assert [fact for fact in DOMAINS if fact not in facts and relevant(fact, facts)] == []  # nothing left to ask
