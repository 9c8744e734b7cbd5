"""What each candidate is shown: the eval example's own prompt, plus the system prompt and few-shot examples for
`+prompted` and retrieved passages for `+rag`. The reference answer never enters a prompt.

Few-shot examples come from the train file only, and the eval file must share no prompt with it: a few-shot
example that is also an eval question would hand the prompted candidate the answer.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from tools.dataset.formats import ChatExample
from tools.errors import TunewiseError

if TYPE_CHECKING:
    from tools.rag.search import SearchHit
    from tools.serving.budget import Count


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def prompt_key(example: ChatExample) -> str:
    """Return the prompt without system text, case and spacing: two examples with the same key ask the same thing."""
    return "\x1f".join(
        f"{m['role']}:{_norm(m.get('content') or '')}" for m in example.prompt_messages if m["role"] != "system"
    )


def check_overlap(evals: list[ChatExample], train: list[ChatExample], eval_path: Path, train_path: Path) -> None:
    """Refuse an eval file whose prompts also appear in the train file, naming the first shared pair."""
    seen = {prompt_key(ex): ex.line for ex in train}
    shared = [(ex.line, seen[prompt_key(ex)]) for ex in evals if prompt_key(ex) in seen]
    if shared:
        line, train_line = shared[0]
        raise TunewiseError(
            f"{len(shared)} eval prompt(s) also in the train file (first: {train_path} line {train_line}); a model "
            "that saw an answer in training or as a few-shot example is not being evaluated on held-out data",
            path=str(eval_path),
            line=line,
            hint="re-split with `tunewise split`, which keeps duplicates on one side",
        )


def usable(examples: list[ChatExample]) -> list[ChatExample]:
    """Keep the examples with a user turn to answer and a reference answer to compare with."""
    return [ex for ex in examples if ex.reference.strip() and any(m["role"] == "user" for m in ex.prompt_messages)]


def plain_messages(example: ChatExample) -> list[dict[str, str]]:
    """Return the example's prompt as the data has it, system message included: what the tuned model was trained on."""
    return [{"role": m["role"], "content": m.get("content") or ""} for m in example.prompt_messages]


def data_system_prompt(*pools: list[ChatExample]) -> str | None:
    """Return the data's own system prompt: the most common one in the first pool that has any; None when none has."""
    for pool in pools:
        systems = Counter(m.get("content") or "" for ex in pool for m in ex.messages[:1] if m["role"] == "system")
        systems.pop("", None)
        if systems:
            return systems.most_common(1)[0][0]
    return None


def few_shot_examples(train: list[ChatExample], k: int, seed: int) -> list[list[dict[str, str]]]:
    """Pick `k` train examples (seeded sample, file order), each as its user / assistant turns."""
    pool = usable(train)
    picked = sorted(random.Random(seed).sample(range(len(pool)), min(k, len(pool))))
    out = []
    for i in picked:
        ex = pool[i]
        turns = [
            {"role": m["role"], "content": m.get("content") or ""} for m in ex.prompt_messages if m["role"] != "system"
        ]
        out.append(turns + [{"role": "assistant", "content": ex.reference}])
    return out


def few_shot(train: list[ChatExample], k: int, seed: int) -> list[dict[str, str]]:
    """Pick `k` train examples (seeded sample, file order) as alternating user / assistant turns."""
    return [turn for example in few_shot_examples(train, k, seed) for turn in example]


def prompted(messages: list[dict[str, str]], system: str | None, demos: list[dict[str, str]]) -> list[dict[str, str]]:
    """Build the prompt-engineering baseline: the system prompt, the few-shot turns, then the example's own turns."""
    head = [{"role": "system", "content": system}] if system else []
    return head + demos + [m for m in messages if m["role"] != "system"]


def latest_user(messages: list[dict[str, str]]) -> str:
    """Return the last user message's content, '' when there is none."""
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def with_rag(messages: list[dict[str, str]], hits: Iterable[SearchHit]) -> list[dict[str, str]]:
    """Add the same fenced context block `tunewise serve` builds, so RAG is evaluated as it will be served."""
    from tools.serving.context import with_context

    return with_context(messages, list(hits), None)


def fit_prompt(
    messages: list[dict[str, str]],
    *,
    system: str | None,
    examples: list[list[dict[str, str]]] | None,
    hits: list[SearchHit] | None,
    count: Count | None,
    window: int | None,
    reserve: int,
) -> tuple[list[dict[str, str]], int, int]:
    """Fit a candidate's prompt to its model's window as `tunewise serve` fits a request: the few-shot examples,
    then the passages in rank order. Passages give way first (lowest rank first), then few-shot examples (last
    first); returns (conversation, passages dropped, few-shot examples dropped).
    """
    from tools.serving.budget import fit

    def build(shots: list[list[dict[str, str]]], passages: list[SearchHit] | None) -> list[dict[str, str]]:
        conv = prompted(messages, system, [t for ex in shots for t in ex]) if examples is not None else messages
        return with_rag(conv, passages) if passages is not None else conv

    shots = examples or []
    first = fit(
        lambda used: build(shots, used if hits is not None else None),
        hits or [],
        count=count,
        window=window,
        reserve=reserve,
    )
    if first.prompt_tokens is None or window is None or first.prompt_tokens + reserve <= window or not shots:
        return first.conversation, first.dropped, 0
    second = fit(
        lambda used: build(used, [] if hits is not None else None), shots, count=count, window=window, reserve=reserve
    )
    return second.conversation, len(hits or []), second.dropped
