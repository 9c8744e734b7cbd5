"""JSON-array training files (Alpaca and ShareGPT exports) are read as a stream, with each element's line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.dataset import formats
from tools.dataset.formats import iter_json_array
from tools.errors import TunewiseError

RECORDS = [{"instruction": f"Say {i}", "input": "", "output": "x" * (i * 7) + "\nend"} for i in range(30)]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _expected_lines(text: str) -> list[int]:
    """Where each element starts, found the slow way: the line of each top-level '{'."""
    lines, depth, line, in_string, escape = [], 0, 1, False, False
    for ch in text:
        if in_string:
            escape, in_string = (not escape and ch == "\\"), in_string and (escape or ch != '"')
        elif ch == '"':
            in_string = True
        elif ch == "{":
            if depth == 1:
                lines.append(line)
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        line += ch == "\n"
    return lines


@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 20])
def test_any_chunk_size_gives_the_same_elements_and_lines(tmp_path: Path, chunk: int) -> None:
    text = "\ufeff[\n" + ",\n".join(json.dumps(r, indent=2 if i % 3 else None) for i, r in enumerate(RECORDS)) + "\n]\n"
    got = list(iter_json_array(_write(tmp_path / "a.json", text), with_text=True, chunk=chunk))
    assert [element for _, element, _ in got] == RECORDS
    assert [line for line, _, _ in got] == _expected_lines(text.lstrip("\ufeff"))
    assert [json.loads(raw) for _, _, raw in got] == RECORDS  # each element's own text, as written


def test_numbers_cut_by_a_chunk_are_read_whole(tmp_path: Path) -> None:
    got = list(iter_json_array(_write(tmp_path / "n.json", '[12345678, true, null, -0.5e10, "abcdefg"]'), chunk=3))
    assert [e for _, e in got] == [12345678, True, None, -0.5e10, "abcdefg"]


@pytest.mark.parametrize(
    "text,line,what",
    [
        ('[\n{"a": 1},\n{"a": oops}\n]', 3, "invalid JSON array"),
        ('[\n{"a": 1}\n{"a": 2}\n]', 3, "expected ','"),
        ('[{"a": 1}] trailing', 1, "text after the end"),
        ('[\n{"a": 1},\n{"a": "never closed', 3, "invalid JSON array"),
        ('{"a": 1}', 1, "must hold a JSON array"),
    ],
)
def test_broken_arrays_name_the_line(tmp_path: Path, text: str, line: int, what: str) -> None:
    with pytest.raises(TunewiseError, match=what) as caught:
        list(iter_json_array(_write(tmp_path / "bad.json", text), chunk=4))
    assert caught.value.line == line


def test_empty_array_and_non_utf8(tmp_path: Path) -> None:
    assert list(iter_json_array(_write(tmp_path / "e.json", " [ \n ] \n"))) == []
    bad = tmp_path / "latin.json"
    bad.write_bytes(b'[{"instruction": "caf\xe9", "output": "x"}]')
    with pytest.raises(TunewiseError, match="not UTF-8"):
        list(iter_json_array(bad))


def test_a_long_array_is_detected_and_validated_as_a_stream(tmp_path: Path) -> None:
    from tools.dataset.validate import ValidateInput, run

    records = [  # ~1.3 MB: more than one of the reader's 1 MB chunks
        {"instruction": f"Question {i} about the {i % 7} plan?", "input": "", "output": f"Answer {i}. " + "x" * 90}
        for i in range(8000)
    ]
    path = _write(
        tmp_path / "big.json", "[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n"
    )  # 60+ lines ending in ','
    result = run(ValidateInput(path=path))
    assert path.stat().st_size > formats.ARRAY_CHUNK
    assert result.format == "alpaca" and result.valid_examples == 8000 and result.ok


def test_an_endless_element_stops_at_the_limit(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.json", '[\n{"a": 1},\n{"b": "' + "x" * 1000 + '"}]')
    got = []
    with pytest.raises(TunewiseError, match="runs past") as caught:
        got.extend(iter_json_array(path, chunk=16, max_element_chars=200))
    assert got == [(2, {"a": 1})] and caught.value.line == 3
