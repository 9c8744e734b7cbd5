"""What a synthesis costs before it runs: the teacher's and the judge's tokens, priced from the dated catalogue.

An `openai:MODEL` spec on OpenAI's own endpoint bills per token; a local model or another endpoint (vLLM, Ollama)
bills nothing here (its GPU time is the user's own). The bound is deliberately high: every call at its full length,
the judge on every draft, and a margin, because the approval must cover what the run can spend.
"""

from __future__ import annotations

import datetime as dt
import math

from pydantic import BaseModel

from tools.synthesize.seeds import SHOTS, SHOWN_PER_CALL, Seed

INSTRUCTION_TOKENS = 350  # the drafting and judging prompts' own words
DOC_TOKENS = 400  # a document excerpt shown to a drafting call
JUDGE_REPLY_TOKENS = 60
MARGIN = 1.25  # the drafts run longer than the seeds by up to this much


class SynthPrice(BaseModel):
    """The bound on a run's bill: tokens per stage and their USD."""

    teacher_usd: float
    judge_usd: float
    total_usd: float
    teacher_billed: str | None
    judge_billed: str | None
    calls: int
    tokens_in: int
    tokens_out: int


def prices(spec: str) -> tuple[float, float, str | None]:
    """Return (USD per 1M prompt tokens, per 1M completion tokens, the model billed) for a spec; 0 when unbilled."""
    from tools.costs.catalog import openai_catalog
    from tools.costs.openai_access import refuse_retired
    from tools.costs.plan_costs import billed_model
    from tools.models.spec import parse_spec

    billed = billed_model(parse_spec(spec))
    if billed is None:
        return 0.0, 0.0, None
    refuse_retired(openai_catalog(), billed, dt.date.today())  # a shut-down model: one line, before any call
    info = openai_catalog().model(billed)
    return info.base.input, info.base.output, billed


def answer_tokens_cap(seeds: list[Seed]) -> int:
    """Return the longest answer the teacher may write: twice the seeds' longest, within 256-2048 tokens."""
    longest = max((_tokens(s.answer) for s in seeds), default=128)
    return max(256, min(2048, 2 * longest))


def _tokens(text: str) -> int:
    from tools.tokens import get_encoding

    return len(get_encoding("o200k_base").encode(text, disallowed_special=()))


def price(seeds: list[Seed], n: int, per_call: int, *, teacher: str, judge: str, docs: bool) -> SynthPrice:
    """Bound the bill of drafting `n` examples from `seeds` with `teacher` and scoring them with `judge`."""
    req = sum(_tokens(s.request) for s in seeds) / max(1, len(seeds))
    ans = sum(_tokens(s.answer) for s in seeds) / max(1, len(seeds))
    system = max((_tokens(s.messages[0]["content"]) for s in seeds if s.messages[0]["role"] == "system"), default=0)
    calls = math.ceil(n / per_call)
    draft_in = calls * (INSTRUCTION_TOKENS + SHOWN_PER_CALL * req + (DOC_TOKENS if docs else 0))
    draft_out = n * (req + 5) * MARGIN
    answer_in = n * (system + SHOTS * (req + ans) + req * MARGIN)
    answer_out = n * ans * MARGIN
    judge_in = n * (INSTRUCTION_TOKENS + 2 * (req + ans) + (req + ans) * MARGIN)
    judge_out = n * JUDGE_REPLY_TOKENS
    t_in, t_out, t_billed = prices(teacher)
    j_in, j_out, j_billed = prices(judge)
    teacher_usd = ((draft_in + answer_in) * t_in + (draft_out + answer_out) * t_out) / 1e6
    judge_usd = (judge_in * j_in + judge_out * j_out) / 1e6
    return SynthPrice(
        teacher_usd=_up(teacher_usd),
        judge_usd=_up(judge_usd),
        total_usd=_up(teacher_usd + judge_usd),
        teacher_billed=t_billed,
        judge_billed=j_billed,
        calls=calls + 2 * n,
        tokens_in=round(draft_in + answer_in + judge_in),
        tokens_out=round(draft_out + answer_out + judge_out),
    )


def _up(usd: float) -> float:
    """Round up to the cent: a bound rounded down could be exceeded by the run it approved."""
    return math.ceil(usd * 100 - 1e-9) / 100
