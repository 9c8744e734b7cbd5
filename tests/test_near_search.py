"""validate's banded near-duplicate search: numpy verification equal to the one-pair estimate, templates reported
once, and no silent horizon."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from tools.dataset import quality, scan
from tools.dataset.sketch import EMPTY, MINHASHES
from tools.dataset.validate import ValidateInput, run


def _chat(user: str, answer: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]})


def test_batch_similarities_equal_the_pairwise_estimate() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(300):  # small hash ranges so that rows share values; some rows padded with EMPTY
        filled = int(rng.integers(0, MINHASHES + 1))
        values = np.unique(rng.integers(0, 40, size=filled * 2).astype(np.uint32))[:filled]
        rows.append(np.concatenate((values, np.full(MINHASHES - len(values), EMPTY, dtype=np.uint32))))
    sketch = np.stack(rows)
    a, b = rng.integers(0, 300, size=2000), rng.integers(0, 300, size=2000)
    got = quality.similarities(sketch, a, b)
    want = [quality.sketch_similarity(sketch[i].tolist(), sketch[j].tolist()) for i, j in zip(a, b)]
    assert np.allclose(got, want)


def test_components_join_every_chain() -> None:
    rng = random.Random(5)
    n = 500
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(300)] + [(k, k + 1) for k in range(100, 160)]
    label = quality._components(n, np.array([e[0] for e in edges]), np.array([e[1] for e in edges]))
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for x, y in edges:
        rx, ry = find(x), find(y)
        parent[max(rx, ry)] = min(rx, ry)
    assert label.tolist() == [find(i) for i in range(n)]  # each label is its component's smallest member


def _support_log(path: Path, n: int) -> Path:
    rng = random.Random(1)
    lines = []
    for i in range(n):
        if i % 2:
            user = (
                f"Hi, my order #{rng.randint(100000, 999999)} for a {rng.choice(['kettle', 'toaster'])} has not arrived "
                f"yet. The tracking page still says it left the warehouse on {rng.choice(['Monday', 'Friday'])}. "
                "Can you tell me where it is? Thanks."
            )
        else:
            user = f"Question {i}: what does setting {i * 7919 % 10007} on panel {i * 104729 % 1009} change?"
        lines.append(_chat(user, f"Answer {i}."))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_template_is_one_finding_that_names_its_first_line(tmp_path: Path) -> None:
    result = run(ValidateInput(path=_support_log(tmp_path / "logs.jsonl", 400)))
    templates = [w for w in result.warnings if w.code == "template"]
    assert len(templates) == 1 and result.warning_counts["template"] == 1
    assert templates[0].line == 2 and "examples share this user turn's wording" in templates[0].message
    assert result.near_duplicates_searched == 400 and result.near_duplicate_horizon is None


def test_a_horizon_is_reported_not_silent(tmp_path: Path, monkeypatch) -> None:
    story = (
        "My espresso machine from order {n} leaks water from the group head after every shot, and the drip tray "
        "overflows within a day. I descaled it last {day} as the manual says. Is this covered by the warranty?"
    )
    lines = [_chat(f"Request {i} about item {i * 3}", f"Reply {i}") for i in range(100)]
    lines[5] = _chat(story.format(n=4411, day="week"), "Yes.")
    lines[90] = _chat(story.format(n=4411, day="month"), "Yes, covered.")
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n")
    found = run(ValidateInput(path=path))
    assert [(w.line, w.code) for w in found.warnings if w.code == "near_duplicate"] == [(91, "near_duplicate")]
    limited = run(ValidateInput(path=path), limits=scan.ScanLimits(near_dup_limit=50))
    assert (limited.near_duplicates_searched, limited.near_duplicate_horizon) == (50, 51)
    assert "near_duplicate" not in limited.warning_counts
