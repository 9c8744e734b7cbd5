"""`tunewise deploy`'s context check: does a typical request (system prompt + k passages + a turn) fit the model?

The request is the one `tunewise serve` will build (tools.serving.context), rendered with the deployment's chat
template and counted with the model's tokenizer, carrying k copies of the collection's largest passage. A request
that cannot fit even one typical passage is refused; one that fits fewer than k gets a warning saying how many.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.errors import TunewiseError
from tools.rag.search import SearchHit
from tools.serving import budget
from tools.serving.context import with_context

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

SAMPLE = 2000  # passages counted in a large collection, plus the longest by characters: the median is stable by then
LONGEST = 20  # the longest passages by characters, where the longest in tokens is


def _passages(collection: Collection) -> list[tuple[str, dict]]:
    total = collection.count()
    rows: list[tuple[str, dict]] = []
    for offset in range(0, total, 1000):
        page = collection.get(include=["documents", "metadatas"], limit=1000, offset=offset)
        rows += [
            (d or "", m or {}) for d, m in zip(page["documents"], page["metadatas"] or [{}] * len(page["documents"]))
        ]
    return rows


def window_of(model_dir: Path, tokenizer: Any) -> int | None:
    """Return the model's context window from its config.json, else its tokenizer's limit; None when neither says."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(model_dir))
    except (OSError, ValueError):
        config = None
    return budget.context_window(config, tokenizer)


def check(
    *,
    tokenizer: Any,
    template: str,
    model_dir: Path,
    system_prompt: str | None,
    collection: Collection,
    k: int,
    model_name: str,
    warnings: list[str],
) -> budget.ContextBudget | None:
    """Compute the deployment's budget (None when the window is unknown or the collection empty); raise for a
    deployment that can never answer with a passage, append a warning to `warnings` when some passages drop.
    """
    window = window_of(model_dir, tokenizer)
    rows = _passages(collection)
    if window is None or not rows:
        return None
    sample = sorted(rows, key=lambda r: len(r[0]), reverse=True)[:LONGEST]
    rest = rows[LONGEST:] if len(rows) > LONGEST else []
    sample += random.Random(0).sample(rest, min(SAMPLE, len(rest)))
    sizes = [len(ids) for ids in tokenizer([t for t, _ in sample], add_special_tokens=False)["input_ids"]]
    largest = max(range(len(sample)), key=sizes.__getitem__)
    typical = sorted(range(len(sample)), key=sizes.__getitem__)[len(sample) // 2]

    def hit(i: int) -> SearchHit:
        text, meta = sample[i]
        return SearchHit(
            id="p",
            source=str(meta.get("source", "")),
            chunk=int(meta.get("chunk", 0) or 0),
            text=text,
            score=0.5,
            injection_warning=bool(meta.get("injection_warning", False)),
        )

    def count(conversation: list[dict]) -> int:
        prompt = tokenizer.apply_chat_template(
            conversation, chat_template=template, tokenize=False, add_generation_prompt=True
        )
        return len(tokenizer(prompt, add_special_tokens=False)["input_ids"])

    question = [{"role": "user", "content": ""}]  # the typical question's tokens are added by budget.plan
    plan = budget.plan(
        count,
        lambda n: with_context(question, [hit(largest)] * n, system_prompt),
        window=window,
        k=k,
        passage_tokens=sizes[largest],
    )
    shown = f"{model_name}'s context is {window} tokens"
    turn = f"a {budget.TYPICAL_QUESTION_TOKENS}-token question and a {plan.answer_tokens}-token answer"
    if plan.base_tokens + plan.answer_tokens > window:
        raise TunewiseError(
            f"{shown}, but the system prompt, the chat template and {turn} already need "
            f"{plan.base_tokens + plan.answer_tokens}: no request could ever be answered",
            hint="shorten --system-prompt-file, or deploy a model with a longer context",
        )
    one_typical = count(with_context(question, [hit(typical)], system_prompt)) + budget.TYPICAL_QUESTION_TOKENS
    fence = count(with_context(question, [hit(typical).model_copy(update={"text": ""})], system_prompt))
    room = max(0, window - fence - budget.TYPICAL_QUESTION_TOKENS - plan.answer_tokens)  # for passages' own text
    if one_typical + plan.answer_tokens > window:
        raise TunewiseError(
            f"{shown}; with the system prompt and {turn}, {room} are left for passages' text (after the fence around them), but a typical "
            f"passage of '{collection.name}' takes {sizes[typical]} (the largest {sizes[largest]}): "
            "answers would never carry a source",
            hint=f"re-index with smaller chunks (`tunewise index DOCS --collection {collection.name} "
            f"--chunk-tokens N`, well under {room} of this model's tokens) or deploy a model with "
            "a longer context",
        )
    if plan.fits_k < k:
        fits = f"-k {plan.fits_k} always fits" if plan.fits_k else "the largest passage does not fit even alone"
        warnings.append(
            f"{shown}: k={k} passages of up to {plan.passage_tokens} tokens need {plan.needed} with the "
            f"system prompt and {turn}, so the lowest-ranked passages will be dropped when they do not "
            f"fit ({fits})"
        )
    return plan
