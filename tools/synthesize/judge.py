"""Stage 6: the judge scores each remaining draft 1-5 against a rubric built from the seeds (their opening and
closing lines, their lists or JSON, their length), with two seeds shown as the standard.
"""

from __future__ import annotations

import json
import re

from prompts import render
from tools.synthesize.seeds import Seed, Shape

JUDGE_NEW_TOKENS = 200


def judge_conversation(request: str, answer: str, shape: Shape, examples: list[Seed]) -> list[dict]:
    """Return the judge's conversation for one draft."""
    shown = "\n\n".join(f"[request]\n{s.request}\n[answer]\n{s.answer}" for s in examples[:2])
    prompt = render(
        "synth_judge",
        format_rules=shape.format_rules,
        length_rule=shape.length_rule,
        examples=shown,
        request=request,
        answer=answer,
    )
    return [{"role": "user", "content": prompt}]


def parse_score(text: str) -> tuple[int | None, str]:
    """Read the judge's {"score", "reason"}; an unreadable reply scores None (it does not pass) and says so."""
    match = re.search(r"\{.*\}", text, re.S)
    if match:
        try:
            data = json.loads(match.group(0))
        except ValueError:
            data = None
        if isinstance(data, dict):
            score = data.get("score")
            reason = str(data.get("reason") or "").strip()
            if isinstance(score, (int, float)) and not isinstance(score, bool) and 1 <= score <= 5:
                return int(round(score)), reason or "no reason given"
    return None, "the judge's reply was not a score: " + (" ".join(text.split())[:120] or "(empty)")
