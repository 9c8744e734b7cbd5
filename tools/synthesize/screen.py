"""Stages 4 and 5: every draft through `validate`'s own checks, then out if it repeats, or nearly repeats, the
held-out split, a training seed or an earlier draft, found by the same LSH that `validate` uses.

The held-out examples, the training seeds and the drafts are scanned as one file, in that order, so "earlier" means
what it means for `validate`: a draft is dropped for resembling anything before it, and nothing real is ever dropped.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from pathlib import Path

from tools.dataset.scan import STYLES

STYLE_DOMINANCE = 0.9  # the seeds' answers share one shape at least this often: a draft must have it too
# A drafted request this close to a real one (estimated Jaccard of token trigrams, first user turns) is out: below
# validate's 0.75, because a draft that echoes a held-out example inflates the evaluation that decides the plan.
REAL_SIMILARITY = 0.5
_PAIRS = 1 << 18  # pairs compared per numpy batch


@dataclass(frozen=True)
class Screened:
    """Each draft's fate: None when it stays, else the stage that dropped it ('valid' or 'unique') and why."""

    dropped: list[tuple[str, str] | None]


def screen(held_out: list[str], pool: list[str], drafts: list[dict | None], work: Path) -> Screened:
    """Check and de-duplicate `drafts` (None: a draft already known bad) against the real examples before them."""
    from tools.dataset import quality
    from tools.dataset.validate import ValidateInput, collect

    first_draft = len(held_out) + len(pool) + 1  # 1-based line of the first draft in the scanned file
    lines = held_out + pool + [json.dumps(d, ensure_ascii=False) if d else "{}" for d in drafts]
    path = work / "screen.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    _, scan = collect(ValidateInput(path=path, max_issues=max(1000, 4 * len(lines))))
    errors: dict[int, str] = {}
    for line, severity, code, message in scan.issues:
        if severity == "error":
            errors.setdefault(line, f"{code}: {message}")
    index_of = {line: i for i, line in enumerate(scan.ex_line)}
    seed_styles = [scan.ex_style[index_of[n]] for n in range(len(held_out) + 1, first_draft) if n in index_of]
    common = max(set(seed_styles), key=seed_styles.count) if seed_styles else None
    strict_style = common is not None and seed_styles.count(common) >= STYLE_DOMINANCE * len(seed_styles)

    def what(line: int) -> str:
        if line <= len(held_out):
            return f"held-out example {line}"
        if line < first_draft:
            return f"training seed {line - len(held_out)}"
        return f"draft {line - first_draft + 1}"

    out: list[tuple[str, str] | None] = []
    for j, draft in enumerate(drafts):
        line = first_draft + j
        if draft is None:
            out.append(("valid", "no usable reply from the teacher"))
        elif line in errors or line not in index_of:
            out.append(("valid", errors.get(line, "not a usable example")))
        elif strict_style and scan.ex_style[index_of[line]] != common:
            assert common is not None
            out.append(
                ("valid", f"format: answers in {STYLES[scan.ex_style[index_of[line]]]}, the seeds in {STYLES[common]}")
            )
        else:
            out.append(None)
    # exact: the same request (everything before the answer) as anything earlier
    seen: dict[int, int] = {}
    for i, line in enumerate(scan.ex_line):
        prompt = scan.ex_prompt[i]
        if prompt in seen and line >= first_draft and out[line - first_draft] is None:
            out[line - first_draft] = ("unique", f"the same request as {what(seen[prompt])}")
        seen.setdefault(prompt, line)
    for a, b, sim in quality.near_pairs(scan):
        la, lb = scan.ex_line[a], scan.ex_line[b]
        later, earlier = max(la, lb), min(la, lb)
        if later >= first_draft and out[later - first_draft] is None:
            out[later - first_draft] = ("unique", f"a near-duplicate ({sim:.0%}) of {what(earlier)}")
    path.unlink()
    live = [j for j, fate in enumerate(out) if fate is None]
    near = echoes([_first_user(json.loads(x)) for x in held_out + pool], [_first_user(drafts[j]) for j in live])
    for j, (k, sim) in zip(live, near):
        if k is not None:
            out[j] = ("unique", f"a near-copy ({sim:.0%}) of {what(k + 1)}'s request")
    return Screened(out)


def _first_user(record: dict | None) -> str:
    for m in (record or {}).get("messages", []):
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


def echoes(reals: list[str], drafted: list[str]) -> list[tuple[int | None, float]]:
    """Return, for each drafted request, the real request it echoes (index, similarity), or (None, best)."""
    import numpy as np

    from tools.dataset.quality import similarities
    from tools.dataset.sketch import PAD, sketch_batch
    from tools.tokens import get_encoding

    if not reals or not drafted:
        return [(None, 0.0)] * len(drafted)
    enc = get_encoding("o200k_base")
    ids, ends = array("I"), array("q")
    for text in reals + drafted:
        tokens = enc.encode(" ".join(text.lower().split()), disallowed_special=()) or [PAD]
        ids.extend(tokens + [PAD] * max(0, 3 - len(tokens)))
        ends.append(len(ids))
    sketch = sketch_batch(ids, ends)
    r, d = len(reals), len(drafted)
    best = np.zeros(d)
    which: np.ndarray = np.full(d, -1, dtype=np.int64)
    step = max(1, _PAIRS // r)
    for start in range(0, d, step):
        rows = np.arange(start, min(d, start + step))
        a: np.ndarray = np.repeat(rows + r, r)
        b = np.tile(np.arange(r), len(rows))
        sim = similarities(sketch, a, b).reshape(len(rows), r)
        best[rows] = sim.max(axis=1)
        which[rows] = sim.argmax(axis=1)
    return [(int(k) if s >= REAL_SIMILARITY else None, float(s)) for k, s in zip(which, best)]
