"""`tunewise validate`: every error code from a crafted file, every format, and the inputs that must not crash it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tools.dataset.validate import ValidateInput, run

runner = CliRunner()


def chat(user: str, answer: str, system: str | None = "You are Acme's support agent.") -> dict:
    msgs = [{"role": "system", "content": system}] if system else []
    return {"messages": msgs + [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def good_examples(n: int = 12) -> list[dict]:
    topics = [
        "password reset",
        "refund status",
        "shipping delay",
        "invoice copy",
        "login loop",
        "card declined",
        "address change",
        "plan upgrade",
        "cancel order",
        "missing parcel",
        "damaged item",
        "gift card",
        "two factor",
        "email change",
        "late delivery",
        "promo code",
    ]
    return [
        chat(
            f"Customer {i} asks about the {topics[i % len(topics)]} on ticket {1000 + i * 7}, opened {i + 2} days ago.",
            f"Hello! Here is how to fix the {topics[i % len(topics)]}.\n1. Open Settings.\n2. Follow the steps.\nBest, Acme",
        )
        for i in range(n)
    ]


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def validate(path: Path, **kw):
    return run(ValidateInput(path=path, **kw))


def codes(result, severity: str = "errors") -> set[str]:
    return {i.code for i in getattr(result, severity)}


BAD_LINES = {
    "data_type": ["[1, 2, 3]", {"messages": ["not an object"]}],
    "missing_messages_list": [{"messages": []}, {"messages": "hello"}],
    "message_missing_key": [
        {"messages": [{"content": "no role"}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]},
    ],
    "message_unrecognized_key": [
        {"messages": [{"role": "user", "content": "hi", "mood": "happy"}, {"role": "assistant", "content": "x"}]}
    ],
    "unrecognized_role": [{"messages": [{"role": "customer", "content": "hi"}, {"role": "assistant", "content": "x"}]}],
    "missing_content": [
        {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "x"}]},
    ],
    "example_missing_assistant_message": [{"messages": [{"role": "user", "content": "hi"}]}],
    "invalid_json": ['{"messages": [', "not json at all"],
    "invalid_weight": [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "weight": 2}]},
        {"messages": [{"role": "user", "content": "hi", "weight": 1}, {"role": "assistant", "content": "x"}]},
    ],
    "tool_call_mismatch": [
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c2", "content": "sunny"},
                {"role": "assistant", "content": "Sunny."},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{not json"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                {"role": "assistant", "content": "Sunny."},
            ]
        },
    ],
    "special_token": [chat("hi <|endoftext|> there", "ok"), chat("hi", "answer <|im_start|>")],
    "secret": [
        chat("my key is sk-proj-abcdefghijklmnopqrstuvwxyz123456", "thanks"),
        chat("AKIAIOSFODNN7EXAMPLE is our key", "noted"),
        chat("token ghp_" + "a1B2" * 9 + " works", "ok"),
        chat("github_pat_" + "x" * 30, "ok"),
        chat("slack xoxb-123456789012-abcdef", "ok"),
        chat("maps AIza" + "Sy0-_" * 7, "ok"),
        chat("-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "ok"),
    ],
}


@pytest.mark.parametrize("code", sorted(BAD_LINES))
def test_each_error_code_is_reported_on_its_line(tmp_path: Path, code: str) -> None:
    good = good_examples(12)
    path = write_jsonl(tmp_path / "data.jsonl", good[:5] + BAD_LINES[code] + good[5:])
    result = validate(path)
    bad_lines = set(range(6, 6 + len(BAD_LINES[code])))
    found = {i.line for i in result.errors if i.code == code}
    assert found == bad_lines, result.errors
    assert result.valid_examples == 12
    assert not result.ok


def test_too_many_tokens_uses_the_models_limit(tmp_path: Path) -> None:
    long = " ".join(f"word{i}" for i in range(9000))  # ~18k tokens: over gpt-3.5-turbo's 16,385, under gpt-4.1's 65,536
    path = write_jsonl(tmp_path / "d.jsonl", good_examples(11) + [chat(long, "ok")])
    assert "too_many_tokens" in codes(validate(path, model="gpt-3.5-turbo"))
    assert "too_many_tokens" not in codes(validate(path, model="gpt-4.1"))


def test_too_few_examples(tmp_path: Path) -> None:
    result = validate(write_jsonl(tmp_path / "d.jsonl", good_examples(9)))
    assert codes(result) == {"too_few_examples"}
    assert codes(validate(write_jsonl(tmp_path / "e.jsonl", good_examples(10)))) == set()


def test_secrets_are_warnings_for_local_training(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", good_examples(12) + BAD_LINES["secret"])
    assert "secret" in codes(validate(path, hosted=False), "warnings")
    assert "secret" not in codes(validate(path, hosted=False))


def test_token_counts_match_the_cookbook_formula(tmp_path: Path) -> None:
    from tools.tokens import get_encoding

    enc = get_encoding("o200k_base")
    examples = good_examples(12)
    result = validate(write_jsonl(tmp_path / "d.jsonl", examples))
    expected_total = sum(3 + sum(4 + len(enc.encode(m["content"])) for m in ex["messages"]) for ex in examples)
    expected_trained = sum(len(enc.encode(ex["messages"][-1]["content"])) for ex in examples)
    assert result.tokens.total == expected_total
    assert result.tokens.trained == expected_trained
    assert result.tokens.per_example.min <= result.tokens.per_example.p50 <= result.tokens.per_example.max
    # gpt-4.1-mini trains at $5.00 / 1M tokens; 12 examples -> auto epochs = 100 // 12 = 8
    assert result.epochs == 8
    assert result.estimated_training_cost_usd == pytest.approx(expected_total * 8 * 5.00 / 1e6, abs=1e-4)


def test_weight_zero_assistant_turns_are_not_trained(tmp_path: Path) -> None:
    ex = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "bad answer", "weight": 0},
            {"role": "user", "content": "again"},
            {"role": "assistant", "content": "good answer", "weight": 1},
        ]
    }
    r = validate(write_jsonl(tmp_path / "d.jsonl", [ex] * 1 + good_examples(11)))
    r0 = validate(write_jsonl(tmp_path / "e.jsonl", good_examples(11)))
    from tools.tokens import get_encoding

    assert r.tokens.trained - r0.tokens.trained == len(get_encoding("o200k_base").encode("good answer"))


FORMATS = {
    "preference": [
        {
            "input": {"messages": [{"role": "user", "content": f"Question {i} about item {i * 13}?"}]},
            "preferred_output": [{"role": "assistant", "content": f"Clear answer {i}."}],
            "non_preferred_output": [{"role": "assistant", "content": f"Vague answer {i}."}],
        }
        for i in range(12)
    ],
    "alpaca": [
        {
            "instruction": f"Summarise ticket {i * 31}",
            "input": f"Customer wrote about order {i}.",
            "output": f"Order {i} issue.",
        }
        for i in range(12)
    ],
    "sharegpt": [
        {
            "conversations": [
                {"from": "human", "value": f"Where is parcel {i * 17}?"},
                {"from": "gpt", "value": f"Parcel {i} is on its way."},
            ]
        }
        for i in range(12)
    ],
    "chat": good_examples(12),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_format_is_detected_and_valid(tmp_path: Path, fmt: str) -> None:
    result = validate(write_jsonl(tmp_path / "d.jsonl", FORMATS[fmt]))
    assert result.format == fmt
    assert result.ok, result.errors
    assert result.valid_examples == 12 and result.tokens.total > 0


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt"])
def test_json_array_files_report_element_lines(tmp_path: Path, fmt: str) -> None:
    records = FORMATS[fmt][:]
    records.insert(
        3,
        {"instruction": "x"} if fmt == "alpaca" else {"conversations": [{"from": "human", "value": "only a question"}]},
    )
    path = tmp_path / "d.json"
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
    result = validate(path)
    assert result.format == fmt
    assert [e.line for e in result.errors] == [5]


def test_format_mismatch_and_forced_format(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", good_examples(11) + [FORMATS["alpaca"][0]])
    assert [(e.line, e.code) for e in validate(path).errors] == [(12, "data_type")]
    forced = validate(write_jsonl(tmp_path / "e.jsonl", good_examples(12)), format="alpaca")
    assert forced.valid_examples == 0


def test_quality_warnings(tmp_path: Path) -> None:
    base = good_examples(14)
    story = (
        "Hello, I ordered the blue standing desk last Tuesday and the tracking page has said label created ever since. "
        "My team moves into the new office on Monday and I need it assembled by then. Can you tell me where it is?"
    )
    base[1] = chat(story, base[1]["messages"][-1]["content"])
    near = chat(story.replace("last Tuesday", "last Wednesday"), base[1]["messages"][-1]["content"] + " Thanks!")
    conflict = chat(base[2]["messages"][1]["content"], "A completely different answer in prose.")
    prose = [
        chat(f"Different question number {i} about widgets and gadgets?", f"Plain prose answer {i} without steps.")
        for i in range(4)
    ]
    pii = chat("Reach me at jane.doe@example.com or +1 (415) 555-0100, card 4111 1111 1111 1111", "Thanks")
    path = write_jsonl(tmp_path / "d.jsonl", base + [base[0], near, conflict, pii] + prose)
    result = validate(path)
    warned = {(w.line, w.code) for w in result.warnings}
    assert (15, "duplicate") in warned
    assert (16, "near_duplicate") in warned
    assert (17, "conflicting_answers") in warned
    pii_messages = [w.message for w in result.warnings if w.line == 18 and w.code == "pii"]
    assert len(pii_messages) == 3 and any("card" in m for m in pii_messages) and any("phone" in m for m in pii_messages)
    assert "inconsistent_format" in codes(result, "warnings")
    assert result.ok


def test_duplicates_ignore_case_and_whitespace(tmp_path: Path) -> None:
    base = good_examples(12)
    twin = chat(
        "  " + base[3]["messages"][1]["content"].upper().replace(" ", "\n  "), base[3]["messages"][2]["content"].lower()
    )
    result = validate(write_jsonl(tmp_path / "d.jsonl", base + [twin]))
    assert [(w.line, w.code) for w in result.warnings if w.code == "duplicate"] == [(13, "duplicate")]


def test_findings_past_the_cap_are_counted_not_listed(tmp_path: Path) -> None:
    base = good_examples(12)
    result = validate(write_jsonl(tmp_path / "d.jsonl", base * 5), max_issues=10)
    assert result.warning_counts["duplicate"] == 48 and len(result.warnings) == 10
    assert [w.line for w in result.warnings][:3] == [13, 14, 15] and result.ok


def test_json_nested_too_deeply_is_an_error_on_its_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", good_examples(11) + ["[" * 200_000 + "]" * 200_000] + good_examples(2))
    result = validate(path)
    assert [(e.line, e.code) for e in result.errors] == [(12, "invalid_json")]
    assert "nested" in result.errors[0].message and result.valid_examples == 13


def test_the_most_common_system_prompt_is_found_among_unique_ones(tmp_path: Path) -> None:
    system = " ".join(f"Rule {i}: always be polite and precise about topic {i}." for i in range(40))
    unique = [chat(f"Question {i}?", f"Answer {i}.", system=f"You help customer number {i}.") for i in range(10)]
    repeated = [chat(f"Other question {i}?", f"Other answer {i}.", system=system) for i in range(12)]
    result = validate(write_jsonl(tmp_path / "d.jsonl", unique + repeated))
    found = [w for w in result.warnings if w.code == "repeated_system_prompt"]
    assert len(found) == 1 and found[0].line == 11 and "12 examples" in found[0].message


def test_repeated_long_system_prompt_is_flagged_with_its_cost(tmp_path: Path) -> None:
    system = " ".join(f"Rule {i}: always be polite and precise about topic {i}." for i in range(40))
    records = [chat(f"Question {i} about order {i * 11}?", f"Answer {i}.", system=system) for i in range(12)]
    result = validate(write_jsonl(tmp_path / "d.jsonl", records))
    msg = next(w.message for w in result.warnings if w.code == "repeated_system_prompt")
    assert "12 examples" in msg and "$" in msg


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n\n\n",
        b"\x00\xff\xfe binary junk \x80\x81\n" * 3,
        b"\xef\xbb\xbf" + json.dumps(good_examples(1)[0]).encode() + b"\r\n",
        b'{"messages": [{"role": "user", "content": "\xe9t\xe9"}, {"role": "assistant", "content": "x"}]}\n',
    ],
)
def test_odd_files_end_in_a_report_not_a_crash(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(content)
    result = runner.invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["errors"], report


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    lines = [json.dumps(e) for e in good_examples(12)]
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    result = validate(path)
    assert result.ok and result.valid_examples == 12


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    body = [json.dumps(e).encode() for e in good_examples(12)]
    body.insert(2, '{"messages": [{"role": "user", "content": "caf\xe9"}]}'.encode("latin-1"))
    path.write_bytes(b"\n".join(body) + b"\n")
    err = [e for e in validate(path).errors if e.code == "invalid_json"]
    assert [e.line for e in err] == [3] and "UTF-8" in err[0].message


def test_a_50mb_line_is_reported_without_crashing(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    huge = chat("x " * (25 * 1024 * 1024), "ok")
    write_jsonl(path, good_examples(11) + [huge])
    result = validate(path, model="gpt-4.1")
    assert [(e.line, e.code) for e in result.errors] == [(12, "too_many_tokens")]


@pytest.mark.parametrize("target", ["missing.jsonl", "."])
def test_missing_file_and_directory_are_one_line(tmp_path: Path, target: str) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / target)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cli_json_shape_and_exit_codes(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["validate", str(write_jsonl(tmp_path / "ok.jsonl", good_examples(12))), "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    for key in (
        "path",
        "format",
        "model",
        "examples",
        "valid_examples",
        "errors",
        "warnings",
        "tokens",
        "estimated_training_cost_usd",
    ):
        assert key in report
    assert set(report["tokens"]) >= {"total", "trained", "per_example"}
    assert set(report["tokens"]["per_example"]) == {"min", "mean", "p50", "p95", "max"}
    bad = runner.invoke(
        app, ["validate", str(write_jsonl(tmp_path / "bad.jsonl", good_examples(12) + ["{oops"])), "--json"]
    )
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["errors"] == [
        {"line": 13, "code": "invalid_json", "message": json.loads(bad.stdout)["errors"][0]["message"]}
    ]
    human = runner.invoke(app, ["validate", str(tmp_path / "bad.jsonl")])
    assert "invalid_json" in human.stdout and "13" in human.stdout


def test_two_processes_agree_with_one(tmp_path: Path) -> None:
    records = good_examples(300) + ["{broken"] + good_examples(300)[:5]
    path = write_jsonl(tmp_path / "d.jsonl", records)
    one, two = validate(path, workers=1), validate(path, workers=2)
    assert one.model_dump() == two.model_dump()


def test_a_pipe_is_validated_whole_and_split_refuses_it_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write_jsonl(tmp_path / "d.jsonl", good_examples(30))
    data = path.read_bytes()
    got = subprocess.run(
        [sys.executable, "-m", "agent.cli", "validate", "/dev/stdin", "--json"],
        input=data,
        capture_output=True,
        timeout=120,
    )
    assert got.returncode == 0, got.stderr
    report = json.loads(got.stdout)
    assert report["path"] == "/dev/stdin" and report["valid_examples"] == 30 and not report["errors"]
    refused = subprocess.run(
        [sys.executable, "-m", "agent.cli", "split", "/dev/stdin", "--eval", "5", "--out", str(tmp_path / "out")],
        input=data,
        capture_output=True,
        timeout=120,
    )
    assert refused.returncode != 0 and b"Traceback" not in refused.stderr
    assert b"not a regular file" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    device = runner.invoke(app, ["validate", "/dev/zero"])  # endless: refused, not copied until the disk is full
    assert device.exit_code == 1 and "neither a regular file nor a pipe" in device.stderr


def test_a_number_too_long_to_read_is_an_error_on_its_line(tmp_path: Path) -> None:
    """json refuses integers over 4,300 digits with a plain ValueError: one error line, not a crash."""
    huge = (
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "n": '
        + "9" * 5000
        + "}"
    )
    result = validate(write_jsonl(tmp_path / "d.jsonl", good_examples(11) + [huge] + good_examples(2)))
    assert [(e.line, e.code) for e in result.errors] == [(12, "invalid_json")]
    assert "shorten the number" in result.errors[0].message and result.valid_examples == 13
