"""Stages 4 and 5: every draft through `validate`'s own checks, then out if it repeats, or nearly repeats, the
held-out split, a training seed or an earlier draft, found by the same LSH that `validate` uses.

The held-out examples, the training seeds and the drafts are scanned as one file, in that order, so "earlier" means
what it means for `validate`: a draft is dropped for resembling anything before it, and nothing real is ever dropped.
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.dataset.scan import STYLES

STYLE_DOMINANCE = 0.9  # the seeds' answers share one shape at least this often: a draft must have it too
# A drafted request this close to a real one (estimated Jaccard of token trigrams, first user turns) is out: below
# validate's 0.75, because a draft that echoes a held-out example inflates the evaluation that decides the plan.
REAL_SIMILARITY = 0.5
_PAIRS = 1 << 18  # pairs compared per numpy batch
MAX_COMPARED = 64  # kept drafts compared per band: a crowded band is already a family the first ones stand for


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
    reals = [_first_user(json.loads(x)) for x in held_out + pool]
    for j, (kind, k, sim) in zip(live, diverse(reals, [_first_user(drafts[j]) for j in live])):
        if kind == "real":
            out[j] = ("unique", f"a near-copy ({sim:.0%}) of {what(k + 1)}'s request")
        elif kind == "draft":
            out[j] = ("unique", f"a near-copy ({sim:.0%}) of draft {live[k] + 1}'s request")
        elif kind == "template":
            out[j] = ("unique", f"the same request as draft {live[k] + 1} with other names or numbers")
    return Screened(out)


def _first_user(record: dict | None) -> str:
    for m in (record or {}).get("messages", []):
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


_NUMBER = re.compile(r"\d[\d.,:/-]*")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+\b")


def skeleton(text: str) -> str:
    """Return a request with its numbers and mid-sentence names blanked: a teacher's template, filled in again and
    again, has one skeleton.
    """
    return " ".join(_NAME.sub("N", _NUMBER.sub("0", text.strip())).lower().split())


def diverse(reals: list[str], drafted: list[str]) -> list[tuple[str | None, int, float]]:
    """Keep drafted requests apart from the real ones and from each other, in order: for each, None when it stays,
    or why not: ("real", i, similarity) near-copies real request i; ("draft", j, similarity) an earlier kept draft
    j; ("template", j, 1.0) is draft j's skeleton filled in with other names or numbers.

    Real requests are compared with every draft (few: the seeds and the held-out split). Drafts are compared with
    the earlier kept drafts that share a band of their sketch (two of the four smallest trigram hashes, as validate's
    LSH), each compared in full: greedy, so a template of a thousand fillings keeps one.
    """
    import numpy as np

    from tools.dataset.quality import BANDS, similarities
    from tools.dataset.scan import EMPTY

    out: list[tuple[str | None, int, float]] = [(None, -1, 0.0)] * len(drafted)
    if not drafted:
        return out
    sketch = _sketch(reals + drafted)
    r = len(reals)
    if r:
        step = max(1, _PAIRS // r)
        for start in range(0, len(drafted), step):
            rows = np.arange(start, min(len(drafted), start + step))
            a: np.ndarray = np.repeat(rows + r, r)
            b = np.tile(np.arange(r), len(rows))
            sim = similarities(sketch, a, b).reshape(len(rows), r)
            for j, k, best in zip(rows.tolist(), sim.argmax(axis=1).tolist(), sim.max(axis=1).tolist()):
                if best >= REAL_SIMILARITY:
                    out[j] = ("real", k, best)
    shapes: dict[str, int] = {skeleton(t): -1 for t in reals}
    kept_in: dict[tuple[int, int], list[int]] = {}
    for j, text in enumerate(drafted):
        if out[j][0] is not None:
            continue
        shape = skeleton(text)
        if shape in shapes and shapes[shape] >= 0:
            out[j] = ("template", shapes[shape], 1.0)
            continue
        row = sketch[r + j]
        keys = [(int(row[a]), int(row[b])) for a, b in BANDS if row[a] != EMPTY and row[b] != EMPTY]
        near = sorted({k for key in keys for k in kept_in.get(key, ())[:MAX_COMPARED]})
        if near:
            sim = similarities(sketch, np.full(len(near), r + j), np.array(near) + r)
            if sim.max() >= REAL_SIMILARITY:
                out[j] = ("draft", near[int(sim.argmax())], float(sim.max()))
                continue
        shapes.setdefault(shape, j)
        for key in keys:
            kept_in.setdefault(key, []).append(j)
    return out


def _sketch(texts: list[str]) -> Any:
    """Return the bottom-k sketch of each text's lower-cased token trigrams (validate's own sketcher)."""
    from tools.dataset.sketch import PAD, sketch_batch
    from tools.tokens import get_encoding

    enc = get_encoding("o200k_base")
    ids, ends = array("I"), array("q")
    for text in texts:
        tokens = enc.encode(" ".join(text.lower().split()), disallowed_special=()) or [PAD]
        ids.extend(tokens + [PAD] * max(0, 3 - len(tokens)))
        ends.append(len(ids))
    return sketch_batch(ids, ends)
