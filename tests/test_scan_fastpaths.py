"""The scan's shortcuts give exactly what the plain way gives: the PII pre-checks and the answer cache."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tools.dataset.scan import _DIGIT_RUN, _DIGIT_RUN_TABLE, DIGITS_RE, EMAIL_RE, _has_email


def _random_line(rng: random.Random, alphabet: bytes, n: int) -> bytes:
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, n)))


def test_email_from_the_at_sign_finds_what_the_full_pattern_finds():
    rng = random.Random(7)
    alphabet = b'abcZ9.@.@-_%+ "'
    crafted = [
        b"",
        b"@",
        b"@a.bc",
        b"a@b.cd",
        b"a@b.c",
        b"x @b.cd",
        b"a@@b.cd",
        b"a@b..cd",
        b"a@-.cd",
        b"a@b.cd@",
        b"jane.doe@example.com",
        b"mail support@acme.example now",
        b"@@@@x@y.zz",
        b"a.@b.c.de",
        b"%@1.aa",
    ]
    lines = crafted + [_random_line(rng, alphabet, 40) for _ in range(20_000)]
    found = 0
    for raw in lines:
        expected = EMAIL_RE.search(raw) is not None
        assert _has_email(raw) is expected, raw
        found += expected
    assert 100 < found < len(lines) - 100  # both answers were exercised


def test_digit_run_precheck_never_skips_a_line_with_a_number():
    rng = random.Random(11)
    alphabet = b"0123456789 ().-x"
    crafted = [b"+1 (415) 555-0100", b"4111 1111 1111 1111", b"order #123456 on 3-5 days", b"12345678 9", b"1" * 10]
    matched = 0
    for raw in crafted + [_random_line(rng, alphabet, 40) for _ in range(20_000)]:
        if DIGITS_RE.search(raw):
            matched += 1
            assert _DIGIT_RUN in raw.translate(_DIGIT_RUN_TABLE), raw
    assert matched > 100


def _repetitive_file(path: Path) -> Path:
    """Canned answers over and over (as support logs have), in every style, with weights, tool calls and turns."""
    rng = random.Random(3)
    answers = [
        "Thanks, we are on it.",
        "1. Open Settings.\n2. Press Reset.",
        "- check the cable\n- restart",
        '{"status": "refunded"}',
        "THANKS, we are  on it.",
        "Sorry to hear that! " * 30,
    ]
    lines = []
    for i in range(400):
        answer = rng.choice(answers)
        messages = [
            {"role": "system", "content": "You are Acme's support agent."},
            {"role": "user", "content": f"Ticket {rng.randint(1, 60)}: my order is late."},
        ]
        if i % 7 == 0:  # an earlier assistant turn, not trained on, then the final answer
            messages += [
                {"role": "assistant", "content": rng.choice(answers), "weight": 0},
                {"role": "user", "content": "And?"},
            ]
        if i % 11 == 0:  # the same answer text with a tool call: its tokens count on top of the cached text's
            messages += [
                {
                    "role": "assistant",
                    "content": answer,
                    "tool_calls": [
                        {"id": f"c{i}", "type": "function", "function": {"name": "refund", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": f"c{i}", "content": "ok"},
            ]
        messages.append({"role": "assistant", "content": answer})
        lines.append(json.dumps({"messages": messages}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_answer_cache_changes_nothing_in_the_result(tmp_path):
    from tools.dataset.scan import Measurer, Scan, ScanConfig, ScanLimits
    from tools.dataset.validate import ValidateInput, run
    from tools.tokens import get_encoding

    path = _repetitive_file(tmp_path / "canned.jsonl")

    def result(**limits):
        return run(ValidateInput(path=path, model="gpt-4o", workers=1), limits=ScanLimits(**limits)).model_dump()

    uncached = result(answer_cache_chars=-1)  # nothing is ever cached: every answer encoded afresh
    assert result() == uncached
    assert result(answer_cache=3) == uncached  # full every few answers: the keep-the-repeated path runs often
    rests = ScanLimits(answer_cache=2, answer_cache_rest=3)  # a fill without a hit rests the cache for 3 answers
    assert result(answer_cache=2, answer_cache_rest=3) == uncached

    cfg = ScanConfig(fmt="chat", encoding_name="o200k_base", max_example_tokens=65536, hosted=True, limits=rests)
    measure = Measurer(get_encoding("o200k_base"), cfg, Scan())
    for i in range(40):  # every answer new: each fill finds no repeat, so the cache rests, then comes back
        measure([{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"answer number {i}"}], i + 1)
    measure.finish()
    assert measure.rests >= 2 and measure.answer_cache  # it rested more than once, and it was filled again between
    assert uncached["valid_examples"] == 400 and uncached["warning_counts"].get("duplicate")


def test_answer_cache_hits_repeated_answers():
    from tools.dataset.scan import Measurer, Scan, ScanConfig
    from tools.tokens import get_encoding

    enc = get_encoding("o200k_base")
    calls = []

    class Counting:
        def encode_ordinary(self, text):
            calls.append(text)
            return enc.encode_ordinary(text)

    cfg = ScanConfig(fmt="chat", encoding_name="o200k_base", max_example_tokens=65536, hosted=True)
    scan = Scan()
    measure = Measurer(Counting(), cfg, scan)
    for i in range(100):
        measure(
            [
                {"role": "user", "content": f"where is order {i}?"},
                {"role": "assistant", "content": "1. Open the tracking link.\n2. Wait a day."},
            ],
            i + 1,
        )
    measure.finish()
    assert calls.count("1. Open the tracking link.\n2. Wait a day.") == 1
    assert len(set(scan.ex_answer_tokens)) == 1 and set(scan.ex_style) == {1} and len(set(scan.ex_answer)) == 1
