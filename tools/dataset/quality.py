"""Cross-example findings of `tunewise validate`: duplicates, near-duplicates, conflicting answers, inconsistent
format, wildly varying lengths and a costly repeated system prompt. Works on the scan's integer sketches with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from tools.dataset.scan import EMPTY, MINHASHES, STYLES, Scan

NEAR_DUP_SIMILARITY = 0.75  # estimated Jaccard of user-turn token trigrams; light edits of one request land above
MAX_GROUP = 64  # compare a large bucket's members with its first few only: keeps the pass linear
FORMAT_DOMINANCE = 0.9
SYSTEM_PROMPT_TOKENS = 200
_MIX = np.int64(0x9E3779B97F4A7C15 - 2**64)  # an odd 64-bit constant: combines two hashes into one key


@dataclass(frozen=True)
class Finding:
    """One cross-example warning: the line it is reported on, its code and its message."""

    line: int
    code: str
    message: str


def _groups(keys: np.ndarray) -> Iterator[np.ndarray]:
    """Yield index arrays (ascending) of entries sharing a key, for groups of two or more.

    Sorting the values finds the repeated keys several times faster than an argsort of them all, and only the
    entries holding a repeated key (few, in real data) are argsorted. Temporaries stay near 17 bytes a key: on a
    1 GB file (1.8 million examples) this is what keeps `validate` under its memory budget.
    """
    if len(keys) < 2:
        return
    ordered = np.sort(keys)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    del ordered
    if not len(repeated):
        return
    slot = np.searchsorted(repeated, keys)
    np.minimum(slot, len(repeated) - 1, out=slot)
    members = np.flatnonzero(repeated[slot] == keys)
    del slot
    order = members[np.argsort(keys[members], kind="stable")]
    starts = np.flatnonzero(np.r_[True, np.diff(keys[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    for a, b in zip(starts, ends):
        yield order[a:b]


def sketch_similarity(a_row: Iterable[int], b_row: Iterable[int]) -> float:
    """Return the bottom-k estimate of the Jaccard similarity of two sketched sets (exact when both had fewer than
    k shingles).
    """
    a = set(a_row)
    a.discard(EMPTY)
    b = set(b_row)
    b.discard(EMPTY)
    union = sorted(a | b)[:MINHASHES]
    return sum(1 for h in union if h in a and h in b) / len(union) if union else 1.0


def similarities(sketch: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return `sketch_similarity` of rows a[i] and b[i] for every i, in numpy: one sort of each pair's 32 hashes.

    In the sorted pair a value held by both rows sits next to its twin; the union's k smallest are the first k
    distinct values, so a pair's shared count is the twins whose distinct rank is at most k.
    """
    both = np.concatenate((sketch[a], sketch[b]), axis=1)
    both.sort(axis=1)
    new = np.empty(both.shape, dtype=bool)
    new[:, 0] = True
    np.not_equal(both[:, 1:], both[:, :-1], out=new[:, 1:])
    valid = both != EMPTY
    rank = np.cumsum(new, axis=1, dtype=np.int8)
    shared = np.count_nonzero(~new & valid & (rank <= MINHASHES), axis=1)
    union = np.minimum(np.count_nonzero(new & valid, axis=1), MINHASHES)
    return np.where(union > 0, shared / np.maximum(union, 1), 1.0)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the connected-component label (its smallest member) per node of the graph with edges a[i]-b[i], in numpy:
    label propagation with pointer jumping, a few passes over the edges whatever their number.
    """
    label: np.ndarray = np.arange(n, dtype=np.int64)
    if not len(a):
        return label
    while True:
        low = np.minimum(label[a], label[b])
        before = label.copy()
        np.minimum.at(label, a, low)
        np.minimum.at(label, b, low)
        while True:  # point every node at its label's label until they settle
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
        if np.array_equal(label, before):
            return label


def related_groups(scan: Scan) -> np.ndarray:
    """Return a cluster id per valid example: exact duplicates, near-duplicates and same-prompt examples share one.

    Exact duplicates share their prompt, so the prompt groups hold them as well as the conflicting answers.
    """
    prompts = _prompts(scan)
    order, starts = _prompt_runs(prompts)
    same = order[starts][np.cumsum(starts) - 1]  # each example joined to the first one with its prompt
    near = near_search(scan)
    return _components(len(prompts), np.concatenate((same, near.a)), np.concatenate((order, near.b)))


def _prompt_runs(prompts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (the examples ordered by prompt, stably; True where a run of one prompt starts in that order)."""
    order = np.argsort(prompts, kind="stable")
    ordered = prompts[order]
    starts: np.ndarray = np.ones(len(order), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    return order, starts


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    values.sort()
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _prompts(scan: Scan) -> np.ndarray:
    return np.frombuffer(scan.ex_prompt, dtype=np.int64)


def exact_groups(scan: Scan) -> Iterator[np.ndarray]:
    """Yield index arrays of examples with the same prompt and answer (case and whitespace ignored)."""
    keys = _prompts(scan) * _MIX  # one key per (prompt, answer), built in place; int64 arithmetic wraps
    keys += np.frombuffer(scan.ex_answer, dtype=np.int64)
    yield from _groups(keys)


def _earliest(groups: Iterable[tuple[int, np.ndarray]], n: int, cap: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Return, from (first, laters) groups, the `cap` (first, later) pairs with the lowest later index, and a mask of
    every later one.
    """
    first_of: np.ndarray = np.full(n, -1, dtype=np.int64)
    for first, later in groups:
        first_of[later] = first
    mask = first_of >= 0
    later = np.flatnonzero(mask)[:cap]
    return list(zip(first_of[later].tolist(), later.tolist())), mask


@dataclass(frozen=True)
class NearSearch:
    """Near-duplicate pairs (earlier example a[i], later b[i], estimated similarity sim[i]), ordered by (a, b);
    the templates: (first example, examples sharing its wording) for each over-full bucket, largest first; and how
    many examples, from the first, were searched.
    """

    a: np.ndarray
    b: np.ndarray
    sim: np.ndarray
    templates: list[tuple[int, int]]
    searched: int


# Bands: a candidate pair shares two of its four smallest shingle hashes, in any positions. Near-duplicates
# almost always do, while texts that merely share a common phrase ("how do I") rarely share two of them.
BANDS = tuple((i, j) for i in range(4) for j in range(i + 1, 4))
ANCHORS = 4  # each bucket member is verified against the bucket's first few members
_VERIFY_BATCH = 1 << 15  # pairs verified per numpy batch: ~10 MB of temporaries
_PART_ENTRIES = 1 << 20  # band keys sorted at once, up to PARTS parts
PARTS = 16
TEMPLATE_SIMILARITY = 0.3
TEMPLATE_BUCKETS = 400
_LOW32 = np.uint64(0xFFFFFFFF)


def near_search(scan: Scan) -> NearSearch:
    """Find near-duplicate user turns by banded LSH over the sketches, linear in the examples whatever their shape.

    Each band's key puts examples into buckets; the members of a bucket are verified against its first ANCHORS
    members, up to MAX_GROUP members. A bucket with more is a template: the same request written again and again
    with other numbers or names. It is reported as that, once, rather than as a quadratic number of pairs.
    Only the first example of each prompt is searched: a later one has the same user turns, and is reported as a
    duplicate or a conflicting answer instead.
    """
    rows = len(scan.ex_minhash) // MINHASHES
    empty = NearSearch(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), [], rows)
    if rows < 2:
        return empty
    sketch = np.frombuffer(scan.ex_minhash, dtype=np.uint32).reshape(rows, MINHASHES)
    order, starts = _prompt_runs(_prompts(scan)[:rows])
    first = np.sort(order[starts])
    del order, starts
    members = first[sketch[first, 0] != EMPTY]  # no user text: nothing to compare
    del first
    if len(members) < 2:
        return empty
    owner_bits = np.uint64(max(1, int(len(members) - 1).bit_length()))
    owner_mask = (np.uint64(1) << owner_bits) - np.uint64(1)
    candidates: np.ndarray = np.zeros(0, dtype=np.uint64)  # earlier << 32 | later, example indices
    templates: dict[int, int] = {}
    # The keys of all bands share one key space (two of the four smallest, in any positions). They are sorted in
    # at most PARTS parts, by the first hash of the pair, so that a bucket lies in one part and a part's arrays
    # stay near 25 MB at the sketch limit; the number of parts is bounded, so the work stays linear.
    parts = min(PARTS, 1 + len(BANDS) * len(members) // _PART_ENTRIES)
    # The part of each member's first three hashes (a band's first hash is one of them), 255 for none.
    firsts = sketch[members, :3]
    part_of = ((firsts * np.uint32(0x9E3779B1)) >> np.uint32(24)).astype(np.uint8) % np.uint8(parts)
    part_of[firsts == EMPTY] = 255
    del firsts
    for part in range(parts):
        keys = []
        for i, j in BANDS:
            live = np.flatnonzero(part_of[:, i] == part)
            rows_live = members[live]
            # The two hashes mixed into the key's high bits, the member's position in the low ones: one sort of
            # the keys groups the buckets with their members in file order. A collision of two buckets' mixed
            # hashes only adds candidates, which the verification drops.
            key = (sketch[rows_live, i].astype(np.uint64) << np.uint64(32)) | sketch[rows_live, j]
            key *= np.uint64(0x9E3779B97F4A7C15)
            key >>= owner_bits
            key <<= owner_bits
            key |= live.astype(np.uint64)
            keys.append(key)
            del rows_live, live
        key = np.concatenate(keys)
        del keys
        key.sort()
        # a member whose text has under four shingles holds the same key in several bands: keep it once
        key = key[np.r_[True, key[1:] != key[:-1]]]
        owner = (key & owner_mask).astype(np.int32)  # int32 indices: a part's temporaries are half as large
        key >>= owner_bits
        opens: np.ndarray = np.ones(len(key), dtype=bool)
        np.not_equal(key[1:], key[:-1], out=opens[1:])
        del key
        starts = np.flatnonzero(opens).astype(np.int32)
        sizes: np.ndarray = np.diff(np.append(starts, len(opens)))
        bucket = np.cumsum(opens, dtype=np.int32) - 1
        del opens
        pos = np.arange(len(bucket), dtype=np.int32) - starts[bucket]
        for anchor, size in zip(starts[sizes > MAX_GROUP].tolist(), sizes[sizes > MAX_GROUP].tolist()):
            first_example = int(members[owner[anchor]])
            templates[first_example] = max(size, templates.get(first_example, 0))
        found = [candidates]
        for k in range(ANCHORS):
            later = np.flatnonzero((pos > k) & (pos < MAX_GROUP))
            a = members[owner[starts[bucket[later]] + k]].astype(np.uint64)
            b = members[owner[later]].astype(np.uint64)
            found.append((a << np.uint64(32)) | b)
        candidates = _sorted_unique(np.concatenate(found))
        del owner, bucket, pos, found
    a = (candidates >> np.uint64(32)).astype(np.int64)
    b = (candidates & _LOW32).astype(np.int64)
    del candidates
    sim = np.concatenate(
        [
            similarities(sketch, a[k : k + _VERIFY_BATCH], b[k : k + _VERIFY_BATCH])
            for k in range(0, len(a), _VERIFY_BATCH)
        ]
        or [np.zeros(0)]
    )
    near = sim >= NEAR_DUP_SIMILARITY - 1e-9
    return NearSearch(a[near], b[near], sim[near], _template_families(sketch, templates), rows)


def _template_families(sketch: np.ndarray, templates: dict[int, int]) -> list[tuple[int, int]]:
    """Return one (first example, examples) per template: over-full buckets whose first examples share a third of
    their wording are one request written with other details (a product, a greeting), so they are reported once, by
    the largest bucket. Only the largest TEMPLATE_BUCKETS buckets are compared, two by two.
    """
    ranked = sorted(templates.items(), key=lambda item: (-item[1], item[0]))[:TEMPLATE_BUCKETS]
    if not ranked:
        return []
    anchors = np.array([first for first, _ in ranked], dtype=np.int64)
    i, j = np.triu_indices(len(anchors), 1)
    close = similarities(sketch, anchors[i], anchors[j]) >= TEMPLATE_SIMILARITY
    family = _components(len(anchors), i[close], j[close])
    return [ranked[k] for k in np.flatnonzero(family == np.arange(len(anchors))).tolist()]


def near_pairs(scan: Scan) -> list[tuple[int, int, float]]:
    """Return (earlier, later, similarity) for user turns that are nearly the same but not the same prompt."""
    found = near_search(scan)
    return list(zip(found.a.tolist(), found.b.tolist(), found.sim.tolist()))


def conflicts(scan: Scan) -> np.ndarray:
    """Return, per example, the first example with its prompt when their answers differ, else -1: one stable sort of the
    prompts, where a loop over each prompt's group cost a Python step per repeated prompt.
    """
    answers = np.frombuffer(scan.ex_answer, dtype=np.int64)
    order, starts = _prompt_runs(_prompts(scan))
    first = order[starts][np.cumsum(starts) - 1]  # by position in `order`: the earliest example with that prompt
    clash = answers[order] != answers[first]
    first_of: np.ndarray = np.full(len(answers), -1, dtype=np.int64)
    first_of[order[clash]] = first[clash]
    return first_of


def findings(
    scan: Scan, *, price_per_token: float, epochs: int, cap: int = 1000
) -> tuple[list[Finding], dict[str, int]]:
    """Return (findings, how many of each code there are): the first `cap` of each code by line are spelled out,
    all are counted. A file concatenated to itself holds a duplicate per example; a message for each of millions
    would take more memory than the whole scan.
    """
    lines = scan.ex_line
    n = len(lines)
    out: list[Finding] = []
    counts: dict[str, int] = {}
    dups, repeats = _earliest(((int(g[0]), g[1:]) for g in exact_groups(scan)), n, cap)
    counts["duplicate"] = int(repeats.sum())
    for a, b in dups:
        out.append(Finding(lines[b], "duplicate", f"exact duplicate of line {lines[a]}; drop it"))
    near = near_search(scan)
    counts["near_duplicate"] = len(near.a)
    for k in np.argsort(near.b, kind="stable")[:cap].tolist():
        out.append(
            Finding(
                lines[int(near.b[k])],
                "near_duplicate",
                f"user turns nearly identical to line {lines[int(near.a[k])]} (similarity ~{near.sim[k]:.2f})",
            )
        )
    counts["template"] = len(near.templates)
    for first, size in near.templates[:cap]:
        out.append(
            Finding(
                lines[first],
                "template",
                f"{size:,} examples share this user turn's wording: one request repeated with other details. "
                f"The model learns it {size:,} times; keep a varied few. Near-duplicates among them were "
                f"checked against the first {MAX_GROUP} of them",
            )
        )
    first_of = conflicts(scan)
    later = np.flatnonzero(first_of >= 0)
    clashes = list(zip(first_of[later[:cap]].tolist(), later[:cap].tolist()))
    counts["conflicting_answers"] = len(later)
    for a, b in clashes:
        out.append(
            Finding(
                lines[b],
                "conflicting_answers",
                f"same prompt as line {lines[a]} but a different answer; keep the one you want taught",
            )
        )
    for finding in _format_findings(scan) + _system_prompt_findings(
        scan, price_per_token=price_per_token, epochs=epochs
    ):
        counts[finding.code] = counts.get(finding.code, 0) + 1
        out.append(finding)
    return out, {code: total for code, total in counts.items() if total}


def _format_findings(scan: Scan) -> list[Finding]:
    n = len(scan.ex_style)
    if n < 10:
        return []
    styles = np.frombuffer(scan.ex_style, dtype=np.int8)
    counts = np.bincount(styles, minlength=len(STYLES))
    out = []
    dominant = int(np.argmax(counts))
    if counts[dominant] / n < FORMAT_DOMINANCE:
        shares = ", ".join(
            f"{100 * c / n:.0f}% {STYLES[i]}" for i, c in sorted(enumerate(counts), key=lambda x: -x[1]) if c
        )
        minority = int(np.flatnonzero(styles != dominant)[0])
        out.append(
            Finding(
                scan.ex_line[minority],
                "inconsistent_format",
                f"assistant answers mix formats ({shares}); e.g. this line is {STYLES[styles[minority]]} while most are {STYLES[dominant]}. Inconsistent examples teach inconsistency",
            )
        )
    lengths = np.frombuffer(scan.ex_answer_tokens, dtype=np.int32)
    p5, p95 = np.percentile(lengths, [5, 95])
    if p95 >= 50 and p95 > 10 * max(p5, 1):
        longest = int(np.argmax(lengths))
        out.append(
            Finding(
                scan.ex_line[longest],
                "length_variance",
                f"answer lengths vary wildly (5th percentile {p5:.0f} tokens, 95th {p95:.0f}); this line has the longest ({lengths[longest]})",
            )
        )
    return out


def _system_prompt_findings(scan: Scan, *, price_per_token: float, epochs: int) -> list[Finding]:
    keys = np.frombuffer(scan.ex_system, dtype=np.int64)
    if not len(keys):
        return []
    n = len(keys)
    if keys[0] != 0 and (keys == keys[0]).all():  # the usual file: one prompt everywhere
        top, count = 0, n
    else:
        # Only a prompt in at least half the examples matters, and in sorted order such a run of equal values
        # always covers one of the (up to) four middle positions: a partition finds them without a full sort.
        mid = (n - 1) // 2
        kth = sorted({max(0, mid - 1), mid, n // 2, min(n - 1, n // 2 + 1)})
        candidates = set(np.partition(keys, kth)[kth].tolist()) - {0}  # 0: no system prompt
        if not candidates:
            return []
        count, value = max((int(np.count_nonzero(keys == c)), c) for c in candidates)
        top = int(np.argmax(keys == value))
    tokens = scan.ex_system_tokens[top]
    if count < max(2, scan.valid // 2) or tokens < SYSTEM_PROMPT_TOKENS:
        return []
    cost = count * tokens * epochs * price_per_token
    share = count * tokens / max(scan.tokens_total, 1)
    return [
        Finding(
            scan.ex_line[top],
            "repeated_system_prompt",
            f"the same {tokens:,}-token system prompt is in {count:,} examples ({100 * share:.0f}% of all tokens, ~${cost:,.2f} of training); shorten it: the fine-tune learns the behaviour",
        )
    ]
