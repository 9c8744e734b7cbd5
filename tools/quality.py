"""Cross-example findings of `tunewise validate`: duplicates, near-duplicates, conflicting answers, inconsistent
format, wildly varying lengths and a costly repeated system prompt. Works on the scan's integer sketches with numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.scan import EMPTY, MINHASHES, STYLES, Scan

NEAR_DUP_SIMILARITY = 0.75  # estimated Jaccard of user-turn token trigrams; light edits of one request land above
MAX_GROUP = 64  # compare a large bucket's members with its first few only: keeps the pass linear
FORMAT_DOMINANCE = 0.9
SYSTEM_PROMPT_TOKENS = 200
_MIX = np.int64(0x9E3779B97F4A7C15 - 2**64)  # an odd 64-bit constant: combines two hashes into one key


@dataclass(frozen=True)
class Finding:
    line: int
    code: str
    message: str


def _groups(keys: np.ndarray):
    """Yield index arrays (ascending) of entries sharing a key, for groups of two or more.

    Sorting the values finds the repeated keys several times faster than an argsort of them all, and only the
    entries holding a repeated key (few, in real data) are argsorted. Temporaries stay near 17 bytes a key: on a
    1 GB file (1.8 million examples) this is what keeps `validate` under its memory budget."""
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


def sketch_similarity(a_row, b_row) -> float:
    """Bottom-k estimate of the Jaccard similarity of two sketched sets (exact when both had fewer than k shingles)."""
    a = set(a_row)
    a.discard(EMPTY)
    b = set(b_row)
    b.discard(EMPTY)
    union = sorted(a | b)[:MINHASHES]
    return sum(1 for h in union if h in a and h in b) / len(union) if union else 1.0


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def related_groups(scan: Scan) -> list[int]:
    """Cluster id per valid example: exact duplicates, near-duplicates and same-prompt examples share one.

    Exact duplicates share their prompt, so the prompt groups hold them as well as the conflicting answers."""
    uf = UnionFind(len(scan.ex_line))
    for group in _groups(_prompts(scan)):
        first = int(group[0])
        for other in group[1:].tolist():
            uf.union(first, other)
    for a, b, _ in near_pairs(scan, _repeats(scan)):
        uf.union(a, b)
    return [uf.find(i) for i in range(len(scan.ex_line))]


def _prompts(scan: Scan) -> np.ndarray:
    return np.frombuffer(scan.ex_prompt, dtype=np.int64)


def exact_groups(scan: Scan):
    """Index arrays of examples with the same prompt and answer (case and whitespace ignored)."""
    keys = _prompts(scan) * _MIX  # one key per (prompt, answer), built in place; int64 arithmetic wraps
    keys += np.frombuffer(scan.ex_answer, dtype=np.int64)
    yield from _groups(keys)


def _repeats(scan: Scan) -> np.ndarray:
    """True for each example that repeats an earlier one exactly."""
    mask = np.zeros(len(scan.ex_line), dtype=bool)
    for group in exact_groups(scan):
        mask[group[1:]] = True
    return mask


def _earliest(groups, n: int, cap: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """From (first, laters) groups: the `cap` (first, later) pairs with the lowest later index, and a mask of
    every later one."""
    first_of = np.full(n, -1, dtype=np.int64)
    for first, later in groups:
        first_of[later] = first
    mask = first_of >= 0
    later = np.flatnonzero(mask)[:cap]
    return list(zip(first_of[later].tolist(), later.tolist())), mask


def near_pairs(scan: Scan, repeats: np.ndarray) -> list[tuple[int, int, float]]:
    """(earlier, later, similarity) for user turns that are nearly the same but not the same prompt."""
    prompts = _prompts(scan)
    near: dict[tuple[int, int], float] = {}
    rows = len(scan.ex_minhash) // MINHASHES
    if rows < 2:
        return []
    sketch = np.frombuffer(scan.ex_minhash, dtype=np.int64).reshape(rows, MINHASHES)
    # Candidates share two of their four smallest shingle hashes, in any positions: near-duplicates almost
    # always do, while texts that merely share a common phrase ("how do I") rarely share two of them.
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    keys = np.empty(rows * len(pairs), dtype=np.int64)  # block k holds pair k's key for every row
    for k, (i, j) in enumerate(pairs):
        block = keys[k * rows : (k + 1) * rows]
        np.multiply(sketch[:, i], _MIX, out=block)
        block += sketch[:, j]
    for group in _groups(keys):
        owners = group % rows
        if sketch[owners[0], 0] == EMPTY:
            continue  # no user text at all: nothing to compare
        members = np.unique(owners)[:MAX_GROUP].tolist()
        for pos, a in enumerate(members[:4]):
            for b in members[pos + 1 :]:
                if repeats[b] or (a, b) in near or prompts[a] == prompts[b]:
                    continue  # exact duplicates and same-prompt conflicts are reported as such
                sim = sketch_similarity(sketch[a].tolist(), sketch[b].tolist())
                if sim >= NEAR_DUP_SIMILARITY:
                    near[(a, b)] = sim
    return [(a, b, s) for (a, b), s in sorted(near.items())]


def conflict_groups(scan: Scan):
    """(first, later examples) with the first one's prompt but a different answer."""
    answers = np.frombuffer(scan.ex_answer, dtype=np.int64)
    for group in _groups(_prompts(scan)):
        others = group[1:][answers[group[1:]] != answers[group[0]]]
        if len(others):
            yield int(group[0]), others


def findings(scan: Scan, *, price_per_token: float, epochs: int, cap: int = 1000) -> tuple[list[Finding], dict[str, int]]:
    """(findings, how many of each code there are): the first `cap` of each code by line are spelled out, all
    are counted. A file concatenated to itself holds a duplicate per example; a message for each of millions
    would take more memory than the whole scan."""
    lines = scan.ex_line
    n = len(lines)
    out: list[Finding] = []
    counts: dict[str, int] = {}
    dups, repeats = _earliest(((int(g[0]), g[1:]) for g in exact_groups(scan)), n, cap)
    counts["duplicate"] = int(repeats.sum())
    for a, b in dups:
        out.append(Finding(lines[b], "duplicate", f"exact duplicate of line {lines[a]}; drop it"))
    near = near_pairs(scan, repeats)
    counts["near_duplicate"] = len(near)
    for a, b, sim in sorted(near, key=lambda pair: pair[1])[:cap]:
        out.append(Finding(lines[b], "near_duplicate", f"user turns nearly identical to line {lines[a]} (similarity ~{sim:.2f})"))
    clashes, clashing = _earliest(conflict_groups(scan), n, cap)
    counts["conflicting_answers"] = int(clashing.sum())
    for a, b in clashes:
        out.append(Finding(lines[b], "conflicting_answers", f"same prompt as line {lines[a]} but a different answer; keep the one you want taught"))
    for finding in _format_findings(scan) + _system_prompt_findings(scan, price_per_token=price_per_token, epochs=epochs):
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
        shares = ", ".join(f"{100 * c / n:.0f}% {STYLES[i]}" for i, c in sorted(enumerate(counts), key=lambda x: -x[1]) if c)
        minority = int(np.flatnonzero(styles != dominant)[0])
        out.append(Finding(scan.ex_line[minority], "inconsistent_format",
                           f"assistant answers mix formats ({shares}); e.g. this line is {STYLES[styles[minority]]} while most are {STYLES[dominant]}. Inconsistent examples teach inconsistency"))
    lengths = np.frombuffer(scan.ex_answer_tokens, dtype=np.int32)
    p5, p95 = np.percentile(lengths, [5, 95])
    if p95 >= 50 and p95 > 10 * max(p5, 1):
        longest = int(np.argmax(lengths))
        out.append(Finding(scan.ex_line[longest], "length_variance",
                           f"answer lengths vary wildly (5th percentile {p5:.0f} tokens, 95th {p95:.0f}); this line has the longest ({lengths[longest]})"))
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
    return [Finding(scan.ex_line[top], "repeated_system_prompt",
                    f"the same {tokens:,}-token system prompt is in {count:,} examples ({100 * share:.0f}% of all tokens, ~${cost:,.2f} of training); shorten it: the fine-tune learns the behaviour")]
