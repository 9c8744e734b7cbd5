"""validate's batch sketches and its forked second scanner: same answers as one process, clear errors when it dies."""

from __future__ import annotations

import json
import os
import signal
from array import array
from pathlib import Path

import numpy as np
import pytest

from tools.dataset import quality
from tools.dataset.parallel_scan import ForkedScan
from tools.dataset.scan import Scan, ScanConfig, scan_range
from tools.dataset.sketch import EMPTY, MINHASHES, PAD, sketch_batch
from tools.dataset.validate import ValidateInput, run
from tools.errors import TunewiseError

CFG = ScanConfig(fmt="chat", encoding_name="o200k_base", max_example_tokens=65_536, hosted=True)


def _batch(token_lists: list[list[int]]) -> np.ndarray:
    tokens, ends = array("I"), array("q")
    for toks in token_lists:
        if 0 < len(toks) < 3:
            toks = toks + [PAD] * (3 - len(toks))
        tokens.extend(toks)
        ends.append(len(tokens))
    return sketch_batch(tokens, ends)


def test_a_sketch_depends_on_its_example_alone() -> None:
    rng = np.random.default_rng(0)
    texts = [rng.integers(0, 200_000, size=int(n)).tolist() for n in rng.integers(0, 60, size=200)]
    together = _batch(texts)
    for i in (0, 7, 199):
        assert together[i].tolist() == _batch([texts[i]])[0].tolist()
    row = together[int(np.argmax([len(t) for t in texts]))]
    assert row.tolist() == sorted(row.tolist()) and EMPTY not in row.tolist()  # 16 smallest, ascending


def test_short_empty_and_repeated_texts() -> None:
    rows = _batch([[], [5], [5, 6], [1, 2, 3, 1, 2, 3, 1, 2, 3], [9, 9, 9, 9]])
    assert rows[0].tolist() == [EMPTY] * MINHASHES  # no user text: nothing to compare
    assert rows[1][0] != EMPTY and rows[1][1] == EMPTY and rows[1][0] != rows[2][0]
    assert sum(v != EMPTY for v in rows[3].tolist()) == 3  # 123, 231, 312: each distinct trigram once
    assert sum(v != EMPTY for v in rows[4].tolist()) == 1


def _chat(user: str, answer: str) -> str:
    return json.dumps({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]})


def test_near_duplicates_are_found_across_the_two_scanners(tmp_path: Path) -> None:
    story = (
        "My espresso machine from order {n} leaks water from the group head after every shot, and the drip tray "
        "overflows within a day. I descaled it last {day} as the manual says. Is this covered by the warranty?"
    )
    lines = [
        _chat(f"Question {i}: how do I change setting {i * 13} on device {i * 7}?", f"Answer {i}.") for i in range(600)
    ]
    lines[10] = _chat(story.format(n=4411, day="week"), "Yes, it is covered.")
    lines[580] = _chat(story.format(n=4411, day="month"), "Yes, covered; we will send a courier.")
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n")
    one, two = (run(ValidateInput(path=path, workers=w)) for w in (1, 2))
    assert one.model_dump() == two.model_dump()
    assert [(w.line, w.code) for w in two.warnings if w.code == "near_duplicate"] == [(581, "near_duplicate")]


def test_the_merged_scan_keeps_line_numbers_and_sketch_rows(tmp_path: Path) -> None:
    lines = [_chat(f"Request {i} about item {i * 3}", f"Reply {i}") for i in range(400)]
    path = tmp_path / "d.jsonl"
    path.write_text("\n\n".join(lines) + "\n")  # blank lines between: line numbers differ from example numbers
    size = path.stat().st_size
    alone = scan_range(str(path), 0, size, CFG)
    middle = path.read_bytes().index(b"\n", size // 2) + 1
    child = ForkedScan.start(str(path), middle, size, CFG)
    merged = scan_range(str(path), 0, middle, CFG)
    child.merge_into(merged, CFG.limits.near_dup_limit)
    for name in (
        "ex_line",
        "ex_tokens",
        "ex_answer_tokens",
        "ex_prompt",
        "ex_answer",
        "ex_style",
        "ex_system",
        "ex_system_tokens",
        "ex_minhash",
    ):
        assert getattr(merged, name) == getattr(alone, name), name
    assert (merged.lines, merged.valid, merged.tokens_total) == (alone.lines, alone.valid, alone.tokens_total)
    assert merged.ex_line[-1] == 799 and quality.findings(merged, price_per_token=0.0, epochs=3) == ([], {})


def test_a_scanner_that_dies_is_one_clear_error(tmp_path: Path) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)  # the child blocks opening it, so it is surely still running when it is killed
    child = ForkedScan.start(str(fifo), 0, 1 << 20, CFG)
    os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(TunewiseError, match="killed by signal 9"):
        child.merge_into(Scan(), CFG.limits.near_dup_limit)
    assert child.pid == 0 and child.fd == -1
