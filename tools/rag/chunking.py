"""Token-aware chunks with overlap that break at paragraphs first, then sentences, then words.

Tokens are counted with the embedder's own tokenizer (`embedder.count_tokens`): a chunk is only useful if
the embedder reads all of it, and all-MiniLM-L6-v2 silently truncates at 256 WordPiece tokens, about
15-25% fewer words than 256 cl100k tokens hold. For OpenAI embedders the own tokenizer is cl100k anyway;
an embedder without `count_tokens` falls back to cl100k through `tools.tokens.get_encoding`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from tools.rag.loaders import Section

# Bump when chunk boundaries change, so an incremental re-index rebuilds chunks made by older code.
CHUNKER_VERSION = 1
# Charged per gap between packed pieces: "\n\n" is one cl100k token, and WordPiece charges nothing,
# so adding it keeps the sum of piece counts an upper bound of the joined text's count.
_JOIN = 1

Counter = Callable[[Sequence[str]], list[int]]

_PARAGRAPH_GAP = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_GAP = re.compile(r"(?<=[.!?:;])\s+(?=\S)|\n\s*")
_WORD_GAP = re.compile(r"\s+")


@dataclass(frozen=True)
class Chunk:
    """A piece of a section: its text, the section's heading, and its length in the embedder's tokens."""

    text: str
    heading: str
    tokens: int


def token_counter(embedder: object) -> Counter:
    """Return the embedder's own token counter (`count_tokens`), or a cl100k one when it has none."""
    counter = getattr(embedder, "count_tokens", None)
    if counter is not None:
        return counter
    from tools.tokens import get_encoding

    enc = get_encoding("cl100k_base")
    return lambda texts: [len(ids) for ids in enc.encode_ordinary_batch(list(texts))]


def chunk_sections(sections: Sequence[Section], *, max_tokens: int, overlap: int, count: Counter) -> list[Chunk]:
    """Split each section into chunks of at most `max_tokens`, repeating about `overlap` tokens at each cut."""
    if max_tokens < 8 or not 0 <= overlap <= max_tokens // 2:
        raise ValueError(f"need max_tokens >= 8 and 0 <= overlap <= max_tokens/2, got {max_tokens}/{overlap}")
    chunks: list[Chunk] = []
    for section in sections:
        spans = _pack(section.text, max_tokens, overlap, count)
        chunks.extend(Chunk(section.text[a:b], section.heading, n) for a, b, n in spans)
    return _verify(chunks, max_tokens, count)


def _gaps(text: str, start: int, end: int, pattern: re.Pattern) -> list[tuple[int, int]]:
    """Return the non-blank spans of text[start:end] between matches of `pattern`."""
    spans, pos = [], start
    for m in pattern.finditer(text, start, end):
        spans.append(_trim(text, pos, m.start()))
        pos = m.end()
    spans.append(_trim(text, pos, end))
    return [(a, b) for a, b in spans if a < b]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _units(text: str, max_tokens: int, count: Counter) -> list[tuple[int, int, int]]:
    """Return (start, end, tokens) pieces of at most `max_tokens`: paragraphs, else sentences, else word runs."""
    units: list[tuple[int, int, int]] = []
    paragraphs = _gaps(text, 0, len(text), _PARAGRAPH_GAP)
    for (a, b), n in zip(paragraphs, count([text[a:b] for a, b in paragraphs])):
        if n <= max_tokens:
            units.append((a, b, n))
            continue
        sentences = _gaps(text, a, b, _SENTENCE_GAP)
        for (s, e), m in zip(sentences, count([text[s:e] for s, e in sentences])):
            units.extend([(s, e, m)] if m <= max_tokens else _word_runs(text, s, e, max_tokens, count))
    return units


def _word_runs(text: str, start: int, end: int, max_tokens: int, count: Counter) -> list[tuple[int, int, int]]:
    """Cut text[start:end] into the longest word runs that fit, characters when one word is too long."""
    runs = []
    # No token is wider than this many characters in practice, so cuts past it cannot fit: searching
    # only this window keeps a megabyte-long line linear instead of quadratic.
    window = max_tokens * 16
    while start < end:
        stop = min(end, start + window)
        ends = [m.start() for m in _WORD_GAP.finditer(text, start, stop)] + ([end] if stop == end else [])
        best = _longest(ends, lambda cut: count([text[start:cut]])[0] <= max_tokens)
        if best is None:  # a single "word" longer than max_tokens: minified code, base64, a URL
            best = _longest(list(range(start + 1, stop + 1)), lambda cut: count([text[start:cut]])[0] <= max_tokens)
        best = best or start + 1
        runs.append((start, best, count([text[start:best]])[0]))
        start = best
        while start < end and text[start].isspace():
            start += 1
    return runs


def _longest(cuts: list[int], fits: Callable[[int], bool]) -> int | None:
    """Return the largest cut that fits, by binary search (token counts grow with the cut); None if none fits."""
    lo, hi, best = 0, len(cuts) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(cuts[mid]):
            best, lo = cuts[mid], mid + 1
        else:
            hi = mid - 1
    return best


def _pack(text: str, max_tokens: int, overlap: int, count: Counter) -> list[tuple[int, int, int]]:
    """Greedily pack units into (start, end, tokens) spans, each opening with the previous one's last ~overlap tokens.

    `tokens` is exact for a span of one whole unit and 0 (count it later) for a joined one.
    """
    units = _units(text, max_tokens, count)
    spans: list[tuple[int, int, int]] = []
    i = 0
    carry: tuple[int, int] | None = None  # (start offset, tokens) of the overlap opening the next span
    while i < len(units):
        start, used = carry if carry else (units[i][0], -_JOIN)
        j = i
        while j < len(units) and used + _JOIN + units[j][2] <= max_tokens:
            used += _JOIN + units[j][2]
            j += 1
        if j == i:  # the overlap left no room for the next unit: drop it rather than split the unit
            carry = None
            continue
        spans.append((start, units[j - 1][1], units[i][2] if j == i + 1 and not carry else 0))
        carry = _tail(text, units[i:j], overlap, count) if j < len(units) and overlap else None
        i = j
    return spans


def _tail(text: str, packed: list[tuple[int, int, int]], budget: int, count: Counter) -> tuple[int, int] | None:
    """Return (start, tokens) of the overlap: whole trailing units, else trailing sentences, else trailing words."""
    used, start = -_JOIN, None
    for a, _b, n in reversed(packed):
        if used + _JOIN + n > budget:
            break
        used, start = used + _JOIN + n, a
    if start is not None:
        return start, used
    a, b, _n = packed[-1]
    starts = [s for s, _e in _gaps(text, a, b, _SENTENCE_GAP)[1:]]
    for s, n in zip(starts, count([text[s:b] for s in starts])):  # the earliest start that fits is the longest
        if n <= budget:
            return s, n
    words = [m.end() for m in _WORD_GAP.finditer(text, a, b)]
    # the suffix shrinks as the cut moves right, so search over reversed cuts for the longest fitting one
    cut = _longest(words[::-1], lambda c: count([text[c:b]])[0] <= budget)
    return (cut, count([text[cut:b]])[0]) if cut is not None and cut < b else None


def _verify(chunks: list[Chunk], max_tokens: int, count: Counter) -> list[Chunk]:
    """Count the joined chunks exactly; re-cut the rare one whose joins cost more than charged."""
    unknown = iter(count([c.text for c in chunks if not c.tokens]))
    out = []
    for chunk in chunks:
        n = chunk.tokens or next(unknown)
        if n <= max_tokens:
            out.append(Chunk(chunk.text, chunk.heading, n))
        else:
            out.extend(
                Chunk(chunk.text[a:b], chunk.heading, m)
                for a, b, m in _word_runs(chunk.text, 0, len(chunk.text), max_tokens, count)
            )
    return out


_INSTRUCTION_PATTERNS = [
    r"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(previous|prior|above|earlier|preceding|system)\b[^.\n]{0,30}\b(instructions?|prompts?|rules|directions|guidelines|messages?)\b",
    r"\byou are now (a|an|in|no longer)\b",
    r"\b(new|updated) (system )?instructions?\s*:",
    r"\b(reveal|print|output|repeat|leak)\b[^.\n]{0,30}\b(system prompt|hidden instructions|your instructions)\b",
    r"^\s*(system|assistant|developer)\s*:",
    r"<\|\s*(im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\s*\|?>",
    r"\[/?INST\]|<</?SYS>>",
    r"^#{2,3}\s*(instruction|system|response)\s*:?\s*$",
]
_INSTRUCTIONS = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.IGNORECASE | re.MULTILINE)


def looks_like_instructions(text: str) -> bool:
    """Return True when text reads like orders to a model (prompt injection, chat role markers): it is quoted as data."""
    return _INSTRUCTIONS.search(text) is not None
