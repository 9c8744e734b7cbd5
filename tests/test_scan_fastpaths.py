"""The scan's shortcuts give exactly what the plain way gives."""

from __future__ import annotations

import random

from tools.scan import DIGITS_RE, EMAIL_RE, _DIGIT_RUN, _DIGIT_RUN_TABLE, _has_email


def _random_line(rng: random.Random, alphabet: bytes, n: int) -> bytes:
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, n)))


def test_email_from_the_at_sign_finds_what_the_full_pattern_finds():
    rng = random.Random(7)
    alphabet = b"abcZ9.@.@-_%+ \""
    crafted = [b"", b"@", b"@a.bc", b"a@b.cd", b"a@b.c", b"x @b.cd", b"a@@b.cd", b"a@b..cd", b"a@-.cd", b"a@b.cd@",
               b"jane.doe@example.com", b"mail support@acme.example now", b"@@@@x@y.zz", b"a.@b.c.de", b"%@1.aa"]
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
