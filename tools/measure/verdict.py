"""Step 1's answer from a score the prompt reached and the score the person needs, one rule for every reader.

The person's own words ("it gets 88% and we need 90%", agent/interviewer/scores.py) and a measurement
(`tunewise measure`, tools/measure/prompt.py) answer the same question, so they use the same closeness: before,
the words called 86% against an 88% target close enough while a measurement of the same 86% on a large sample,
its interval ending at 87.5%, called it short.
"""

from __future__ import annotations

from typing import Literal

MARGIN = 0.01  # within a point of the target counts as reaching it: measurements that close are noise
# A prompt short of its target is still close enough for step 1 when reaching the target means fixing less than this
# share of the errors it makes today: 88% against a 90% target fixes a sixth of them, a better prompt's job; 94%
# against 98% fixes two thirds, which prompting rarely does. A flat margin in points cannot tell these apart. On two
# sets written blind under different briefs, a quarter reads 64 of 82 goal texts (tests/data/authors: "close to their
# own target") and 81 of 82 score texts (tests/data/scores) as their writers did; within a point, 50 and 81.
CLOSE = 0.25

Verdict = Literal["good_enough", "fell_short"]


def errors_to_fix(reached: float, needed: float) -> float:
    """Return the share of a prompt's errors that must go for `reached` to become `needed` (0 when it is there)."""
    return 0.0 if reached >= needed else (needed - reached) / (1.0 - reached)


def verdict(reached: float, needed: float) -> Verdict:
    """Return step 1's answer (scores higher-is-better, 0 to 1): good enough when the prompt reaches the target, or
    is close to it (CLOSE: less than a quarter of its errors to fix); fell short otherwise.
    """
    if reached >= needed - MARGIN:
        return "good_enough"
    return "good_enough" if errors_to_fix(reached, needed) < CLOSE else "fell_short"
