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
    """Cluster id per valid example: exact duplicates, near-duplicates and same-prompt examples share one."""
    exact, near = duplicate_pairs(scan)
    uf = UnionFind(len(scan.ex_line))
    for a, b in exact:
        uf.union(a, b)
    for a, b, _ in near:
        uf.union(a, b)
    for a, b in conflicts(scan):
        uf.union(a, b)
    return [uf.find(i) for i in range(len(scan.ex_line))]


def duplicate_pairs(scan: Scan) -> tuple[list[tuple[int, int]], list[tuple[int, int, float]]]:
    """(exact pairs, near pairs with similarity) as example indices, later index second."""
    prompts = np.frombuffer(scan.ex_prompt, dtype=np.int64)
    keys = prompts * _MIX  # one key per (prompt, answer), built in place; int64 arithmetic wraps
    keys += np.frombuffer(scan.ex_answer, dtype=np.int64)
    exact = []
    exact_set = set()
    for group in _groups(keys):
        first = int(group[0])
        for other in group[1:]:
            exact.append((first, int(other)))
            exact_set.add(int(other))
    near: dict[tuple[int, int], float] = {}
    rows = len(scan.ex_minhash) // MINHASHES
    if rows > 1:
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
            members = np.unique(owners)[:MAX_GROUP]
            for pos, a in enumerate(members[:4]):
                for b in members[pos + 1 :]:
                    a_i, b_i = int(a), int(b)
                    if b_i in exact_set or (a_i, b_i) in near or prompts[a_i] == prompts[b_i]:
                        continue  # exact duplicates and same-prompt conflicts are reported as such
                    sim = sketch_similarity(sketch[a_i].tolist(), sketch[b_i].tolist())
                    if sim >= NEAR_DUP_SIMILARITY:
                        near[(a_i, b_i)] = sim
    return exact, [(a, b, s) for (a, b), s in sorted(near.items())]


def conflicts(scan: Scan) -> list[tuple[int, int]]:
    """Pairs of examples with the same prompt but a different answer."""
    prompts = np.frombuffer(scan.ex_prompt, dtype=np.int64)
    answers = np.frombuffer(scan.ex_answer, dtype=np.int64)
    out = []
    for group in _groups(prompts):
        first = int(group[0])
        for other in group[1:]:
            if answers[other] != answers[first]:
                out.append((first, int(other)))
    return out


def findings(scan: Scan, *, price_per_token: float, epochs: int) -> list[Finding]:
    lines = scan.ex_line
    out: list[Finding] = []
    exact, near = duplicate_pairs(scan)
    for a, b in exact:
        out.append(Finding(lines[b], "duplicate", f"exact duplicate of line {lines[a]}; drop it"))
    for a, b, sim in near:
        out.append(Finding(lines[b], "near_duplicate", f"user turns nearly identical to line {lines[a]} (similarity ~{sim:.2f})"))
    for a, b in conflicts(scan):
        out.append(Finding(lines[b], "conflicting_answers", f"same prompt as line {lines[a]} but a different answer; keep the one you want taught"))
    out.extend(_format_findings(scan))
    out.extend(_system_prompt_findings(scan, price_per_token=price_per_token, epochs=epochs))
    return out


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
    if not scan.systems or not scan.valid:
        return []
    count, tokens, first = max(scan.systems.values(), key=lambda v: v[0])
    if count < max(2, scan.valid // 2) or tokens < SYSTEM_PROMPT_TOKENS:
        return []
    cost = count * tokens * epochs * price_per_token
    share = count * tokens / max(scan.tokens_total, 1)
    return [Finding(first, "repeated_system_prompt",
                    f"the same {tokens:,}-token system prompt is in {count:,} examples ({100 * share:.0f}% of all tokens, ~${cost:,.2f} of training); shorten it: the fine-tune learns the behaviour")]
