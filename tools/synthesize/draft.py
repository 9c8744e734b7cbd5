"""Stages 2 and 3: the teacher drafts new requests from the seeds' topics (and the documents), then answers each in
the seeds' format, with seeds as worked examples. Every conversation is built from fixed inputs (the seeds file,
the call's number, the run's seed), so a run again asks the same questions and the kept replies answer them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from prompts import render
from tools.synthesize.seeds import SHOTS, Seed, shown

MAX_REQUEST_CHARS = 4000
DOC_EXCERPT_CHARS = 1500
DOC_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".html", ".htm", ".pdf", ".jsonl")


@dataclass(frozen=True)
class Request:
    """One drafted request: its text, the seeds its call was shown, and the hash of the prompt that drafted it."""

    text: str
    seed_ids: tuple[int, ...]
    prompt_hash: str
    call: int


def excerpts(docs: Path | None) -> list[str]:
    """Return the documents' sections as short excerpts, in a fixed order ([] without documents)."""
    if docs is None:
        return []
    from tools.rag.loaders import SkipFile, load

    files = [docs] if docs.is_file() else sorted(p for p in docs.rglob("*") if p.suffix.lower() in DOC_SUFFIXES)
    out = []
    for path in files:
        try:
            sections = load(path)
        except SkipFile:
            continue
        for section in sections:
            text = f"{section.heading}\n{section.text}".strip()
            if len(text.split()) >= 20:
                out.append(text[:DOC_EXCERPT_CHARS])
    return out


def request_calls(
    seeds: list[Seed], n: int, per_call: int, docs: list[str], seed: int
) -> list[tuple[list[dict], list[Seed]]]:
    """Return one (conversation, seeds shown) per drafting call, enough calls for `n` requests."""
    calls = []
    words = [_words(d) for d in docs]
    held = Counter(w for ws in words for w in ws)  # how many excerpts hold each word: counted once, not per call
    rarity = {w: math.log(len(words) / k) for w, k in held.items()}
    used: dict[int, int] = {}
    for call in range((n + per_call - 1) // per_call):
        picked = shown(seeds, call, seed)
        topic = picked[0].topic if picked and picked[0].topic else None
        own = [s for s in picked if s.topic == topic] if topic else picked  # the call's topic, not its extras
        doc = docs[_relevant(own, words, rarity, used)] if docs else None
        prompt = render(
            "synth_requests",
            count=min(per_call, n - call * per_call),
            topic_line=f", several of them about {topic.replace('_', ' ')}" if topic else "",
            docs_block=(
                f"\nReference text the requests may draw on (the users may ask about it):\n<<<reference>>>\n{doc}\n"
                "<<<end reference>>>\n"
                if doc
                else ""
            ),
            seeds="\n".join(f"{i + 1}. {json.dumps(s.request, ensure_ascii=False)}" for i, s in enumerate(picked)),
        )
        calls.append(([{"role": "user", "content": prompt}], picked))
    return calls


def _words(text: str) -> set[str]:
    """Return the words of four letters or more a text uses: what an excerpt and a call's seeds are matched on."""
    return set(re.findall(r"[a-z]{4,}", text.lower()))


def _relevant(picked: list[Seed], words: list[set[str]], rarity: dict[str, float], used: dict[int, int]) -> int:
    """Return the excerpt whose rarer words the requests a call is shown use most (each shared word weighted by its
    `rarity`, the log of how few excerpts hold it), the least used first among equals, so the calls spread over the
    documents that bear on their seeds' topics.
    """
    asked = _words(" ".join(s.request for s in picked))

    def score(i: int) -> float:
        return sum(rarity[w] for w in asked & words[i]) / (1 + used.get(i, 0))

    best = max(range(len(words)), key=lambda i: (score(i), -i))
    used[best] = used.get(best, 0) + 1
    return best


def parse_requests(text: str) -> list[str]:
    """Read the teacher's JSON array of requests; anything else gives none (a nonsense reply drafts nothing)."""
    body = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    start, end = body.find("["), body.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        items = json.loads(body[start : end + 1])
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("request") or item.get("content") or item.get("text")
        if isinstance(item, str) and item.strip() and len(item) <= MAX_REQUEST_CHARS:
            out.append(item.strip())
    return out


def prompt_hash(conversation: list[dict]) -> str:
    """Return a short hash of the prompt a draft came from: the same prompt, the same hash."""
    return hashlib.sha256(json.dumps(conversation, sort_keys=True).encode()).hexdigest()[:12]


def answer_conversation(request: str, shots: list[Seed], system: str | None) -> list[dict]:
    """Return the conversation that drafts an answer: the seeds' system prompt, worked examples, then the request."""
    convo: list[dict] = [{"role": "system", "content": system}] if system else []
    for s in shots[:SHOTS]:
        convo += [{"role": "user", "content": s.request}, {"role": "assistant", "content": s.answer}]
    return convo + [{"role": "user", "content": request}]


def draft_row(request: str, answer: str, system: str | None) -> dict:
    """Return a drafted example in the seeds' chat format."""
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": [*messages, {"role": "user", "content": request}, {"role": "assistant", "content": answer}]}
