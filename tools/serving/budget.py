"""Fit a request into the model's context window: system prompt, ranked passages, the conversation, then the answer.

The passages are the only part that may give way: they are dropped lowest rank first until the rendered prompt and
the answer's tokens fit. Everything here takes the passages already ranked and a `count` function (rendered
conversation -> prompt tokens), so it does not care how passages were retrieved or how a model renders a prompt.
`tunewise serve` fits every request with it, `tunewise eval` every +rag/+prompted candidate, and `tunewise deploy`
checks a typical request against the window before anything is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

# A typical turn, for the deploy-time check: a question of a sentence or two, and an answer of a short paragraph.
TYPICAL_QUESTION_TOKENS = 64
TYPICAL_ANSWER_TOKENS = 256
# An answer without max_tokens gets at most this share of the window reserved, so passages still get room.
DEFAULT_ANSWER_SHARE = 4
UNBOUNDED = 1_000_000  # tokenizers without a limit report model_max_length as ~1e30

Count = Callable[[list[dict]], int]


@dataclass(frozen=True)
class Fit:
    """A request fitted to the window: the conversation to send, the passages in it, and how many were dropped."""

    conversation: list[dict]
    used: list
    dropped: int
    prompt_tokens: int | None


def context_window(config: object = None, tokenizer: object = None) -> int | None:
    """Return the model's window in tokens: config.max_position_embeddings (or its text config's), else the tokenizer's limit."""
    for cfg in (config, getattr(config, "text_config", None)):
        value = getattr(cfg, "max_position_embeddings", None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < UNBOUNDED else None


def answer_reserve(window: int | None, asked: int | None, default: int) -> int:
    """Return the tokens kept for the answer: what the request asked for, else the default, capped at a share of the window."""
    if asked is not None:
        return asked
    return default if window is None else max(1, min(default, window // DEFAULT_ANSWER_SHARE))


def fit(
    build: Callable[[list], list[dict]], ranked: Sequence, *, count: Count | None, window: int | None, reserve: int
) -> Fit:
    """Keep the longest prefix of `ranked` whose conversation, `build(prefix)`, leaves `reserve` tokens in `window`.

    With no window or no counter, nothing is dropped. When even no passage fits, the conversation without passages
    comes back with its count, and the caller decides (the server answers 400, as OpenAI does).
    """
    ranked = list(ranked)
    if count is None or window is None:
        return Fit(build(ranked), ranked, 0, None)
    tokens: dict[int, int] = {}

    def fits(n: int) -> bool:
        tokens[n] = count(build(ranked[:n]))
        return tokens[n] + reserve <= window

    if fits(len(ranked)):  # the usual case: one render
        keep = len(ranked)
    else:  # more passages never take fewer tokens: find the largest prefix that fits by bisection
        low, high = 0, len(ranked)  # fits(high) is False; fits(low) is unknown for 0
        if not fits(0):
            return Fit(build([]), [], len(ranked), tokens[0])
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if fits(mid) else (low, mid)
        keep = low
    return Fit(build(ranked[:keep]), ranked[:keep], len(ranked) - keep, tokens[keep])


class ContextBudget(BaseModel):
    """What a typical request needs from the model's window, as `tunewise deploy` computed it."""

    model_config = ConfigDict(frozen=True)

    window: int = Field(description="The model's context window in tokens.")
    k: int = Field(description="Passages retrieved per request.")
    passage_tokens: int = Field(description="The collection's largest passage, in the model's tokens.")
    base_tokens: int = Field(description="The system prompt, the template and a typical question, with no passage.")
    answer_tokens: int = Field(description="Tokens kept for a typical answer.")
    needed: int = Field(description="Prompt with k of the largest passages, plus the answer.")
    fits_k: int = Field(description="How many of the largest passages always fit (k when nothing is ever dropped).")


def plan(
    count: Count, build: Callable[[int], list[dict]], *, window: int, k: int, passage_tokens: int
) -> ContextBudget:
    """Compute the deploy-time budget: `build(n)` is a typical request carrying n of the collection's largest passages."""
    answer = answer_reserve(window, None, TYPICAL_ANSWER_TOKENS)
    need = {n: count(build(n)) + TYPICAL_QUESTION_TOKENS + answer for n in (0, k)}
    fits_k = k
    if need[k] > window:
        fits_k = 0
        for n in range(1, k):
            if count(build(n)) + TYPICAL_QUESTION_TOKENS + answer > window:
                break
            fits_k = n
    return ContextBudget(
        window=window,
        k=k,
        passage_tokens=passage_tokens,
        base_tokens=need[0] - answer,
        answer_tokens=answer,
        needed=need[k],
        fits_k=fits_k,
    )
