"""The optional LLM judge: every pair of candidates, per example, in a random order, graded against the reference.

A judge model prefers whichever answer it reads first (or second) often enough to swing a close comparison, so
each pair's order is drawn at random (seeded); over many examples that bias falls equally on both sides. A
candidate's per-example score is its mean over its pairings: 1 a win, 0.5 a tie, 0 a loss.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from typing import TYPE_CHECKING

from prompts import render
from tools.progress import Progress, Update, silent

if TYPE_CHECKING:
    from tools.serving.clients import Generator

_WINNER = re.compile(r'"winner"\s*:\s*"(A|B|tie)"', re.I)


def parse_verdict(text: str) -> str | None:
    """Read 'A', 'B' or 'tie' from the judge's reply; None when it gave none."""
    try:
        value = json.loads(text.strip())
        found = str(value.get("winner", "")) if isinstance(value, dict) else ""
    except ValueError:
        match = _WINNER.search(text)
        found = match.group(1) if match else ""
    found = found.strip()
    return "tie" if found.lower() == "tie" else (found.upper() if found.upper() in ("A", "B") else None)


def judge(
    questions: list[str],
    references: list[str],
    outputs: dict[str, list[str]],
    generator: Generator,
    *,
    seed: int = 0,
    max_new_tokens: int = 200,
    progress: Progress | None = None,
) -> tuple[dict[str, list[float]], int]:
    """Have `generator` judge every pair of candidates on every example; return per-example win rates for every
    candidate, and how many judge replies could not be read (counted as ties). `progress` hears the comparisons
    judged (stage "judge").
    """
    progress = progress or silent
    names = list(outputs)
    rng = random.Random(seed)
    jobs = []  # (example, first shown, second shown)
    for i in range(len(questions)):
        for a, b in itertools.combinations(names, 2):
            jobs.append((i, a, b) if rng.random() < 0.5 else (i, b, a))
    prompts = [
        [
            {
                "role": "user",
                "content": render(
                    "judge",
                    question=questions[i],
                    reference=references[i],
                    answer_a=outputs[a][i],
                    answer_b=outputs[b][i],
                ),
            }
        ]
        for i, a, b in jobs
    ]
    replies = []
    for start in range(0, len(prompts), 16):
        replies += generator.generate(prompts[start : start + 16], max_new_tokens=max_new_tokens, temperature=0.0)
        progress(Update(stage="judge", done=min(start + 16, len(prompts)), total=len(prompts), unit="comparisons"))
    points: dict[str, list[list[float]]] = {name: [[] for _ in questions] for name in names}
    unreadable = 0
    for (i, first, second), reply in zip(jobs, replies):
        said = parse_verdict(reply.text)
        unreadable += said is None
        share = {"A": 1.0, "B": 0.0}.get(said or "tie", 0.5)
        points[first][i].append(share)
        points[second][i].append(1.0 - share)
    return {name: [sum(p) / len(p) for p in per] for name, per in points.items()}, unreadable
