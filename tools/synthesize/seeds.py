"""The seeds as the teacher and the judge see them: their requests, answers, topics, system prompt and shape."""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

from tools.dataset.formats import ChatExample, load_examples

SHOWN_PER_CALL = 6  # seeds shown to one drafting call: enough to show the range, few enough to not copy
SHOTS = 3  # seeds shown as worked examples before each answer is drafted


@dataclass(frozen=True)
class Seed:
    """One training seed: its line in the seeds file, its first request, its answer and its topic (if labelled)."""

    id: int
    request: str
    answer: str
    topic: str | None
    messages: list[dict]


def load_seeds(train_file: Path, seeds_file: Path) -> list[Seed]:
    """Read the training part of the seeds, each named by its line in the original seeds file."""
    lines: dict[str, int] = {}
    for example in load_examples(seeds_file):
        lines.setdefault(_key(example), example.line)
    out = []
    for example in load_examples(train_file):
        topic = example.metadata.get("topic")
        out.append(
            Seed(
                id=lines.get(_key(example), example.line),
                request=example.first_user,
                answer=example.reference,
                topic=str(topic) if topic is not None else None,
                messages=[{"role": m["role"], "content": m.get("content") or ""} for m in example.messages],
            )
        )
    return out


def _key(example: ChatExample) -> str:
    return json.dumps(example.messages, sort_keys=True, ensure_ascii=False)


def system_prompt(seeds: list[Seed]) -> str | None:
    """Return the system prompt at least half the seeds open with: the drafts carry it too."""
    found = [s.messages[0]["content"] for s in seeds if s.messages and s.messages[0]["role"] == "system"]
    if not found:
        return None
    common = max(set(found), key=found.count)
    return common if found.count(common) * 2 >= len(seeds) else None


def shown(seeds: list[Seed], call: int, seed: int) -> list[Seed]:
    """Return the seeds one drafting call is shown: its topic's (when the seeds are labelled), then others.

    Calls walk the topics in a shuffled order, so N drafts spread over every topic instead of circling one seed.
    """
    rng = random.Random(f"{seed}:{call}")
    topics = sorted({s.topic for s in seeds if s.topic is not None})
    if topics:
        order = topics[:]
        random.Random(seed).shuffle(order)
        topic = order[call % len(order)]
        own = [s for s in seeds if s.topic == topic]
        rest = [s for s in seeds if s.topic != topic]
        picked = rng.sample(own, min(len(own), SHOWN_PER_CALL // 2))
        picked += rng.sample(rest, min(len(rest), SHOWN_PER_CALL - len(picked)))
        return picked
    return rng.sample(seeds, min(len(seeds), SHOWN_PER_CALL))


@dataclass(frozen=True)
class Shape:
    """What the seeds' answers look like, in words for the judge's rubric."""

    format_rules: str
    length_rule: str
    words_low: int
    words_high: int


def shape(seeds: list[Seed]) -> Shape:
    """Describe the seeds' answers: their opening and closing lines when most share one, lists, JSON, length."""
    answers = [s.answer.strip() for s in seeds if s.answer.strip()]
    rules = []
    firsts = [a.splitlines()[0].split()[0] if a.split() else "" for a in answers]
    lasts = [a.splitlines()[-1].strip() for a in answers]
    common_first = max(set(firsts), key=firsts.count) if firsts else ""
    common_last = max(set(lasts), key=lasts.count) if lasts else ""
    if common_first and firsts.count(common_first) >= 0.8 * len(answers):
        rules.append(f'it opens with "{common_first} ..." as the examples do')
    if common_last and lasts.count(common_last) >= 0.8 * len(answers):
        rules.append(f'it ends with "{common_last}"')
    numbered = sum(1 for a in answers if any(line.strip()[:2] in ("1.", "1)") for line in a.splitlines()))
    bullets = sum(1 for a in answers if any(line.strip()[:2] in ("- ", "* ", "• ") for line in a.splitlines()))
    json_like = sum(1 for a in answers if a[:1] in "{[" and a[-1:] in "}]")
    if json_like >= 0.8 * len(answers):
        rules.append("it is one JSON value with the examples' keys")
    elif numbered >= 0.8 * len(answers):
        rules.append("it gives numbered steps")
    elif bullets >= 0.8 * len(answers):
        rules.append("it uses bullet points")
    words = sorted(len(a.split()) for a in answers) or [0]
    low = words[len(words) // 10]
    high = words[min(len(words) - 1, (len(words) * 9) // 10)]
    median = int(statistics.median(words))
    return Shape(
        format_rules="; ".join(rules) + "." if rules else "the same shape as the examples' answers.",
        length_rule=f"the examples' answers run {low}-{high} words, {median} in the middle",
        words_low=low,
        words_high=high,
    )
