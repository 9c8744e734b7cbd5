"""Did fine-tuning earn its cost? The gap-closure on the held-out examples step 1 was measured on.

(prompted - base) / (tuned - base) is the share of the tuned model's gain over the base that prompting alone
already had: near 1, the prompt did the work; near 0, only training moved the metric. With the person's target, the
tuned model's distance to it says whether the goal is met. The metric is the one step 1 was judged on (or the first
of tools/measure's order the run measured); the scores are `tunewise eval`'s means and intervals, not recomputed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from tools.evaluation.schema import CandidateResult

# The metric step 1 and the gap-closure are judged on, first found: the judge's rubric, a schema, labels, JSON,
# the format, similarity (tools/measure/prompt.py measures on the same one).
METRIC_ORDER = ("judge", "schema_validity", "label_accuracy", "json_validity", "format_adherence", "similarity")


class Gap(BaseModel):
    """The three candidates on one metric, the prompt's share of the tuned gain, and the target's distance."""

    model_config = ConfigDict(frozen=True)
    metric: str
    base: float
    prompted: float
    tuned: float
    prompt_share: float | None  # None when tuning gained nothing over the base (no gain to share)
    target: float | None
    tuned_to_target: float | None  # points (of 100) the tuned model is above (+) or below (-) the target
    earned: bool  # tuned beat prompted beyond both intervals, and reached the target where one was given
    sentence: str


def gap_closure(
    candidates: list[CandidateResult], *, metric: str | None = None, target: float | None = None
) -> Gap | None:
    """Return the gap-closure of `tuned` over `base` and `prompted`; None unless all three were evaluated."""
    by = {c.name: c.metrics for c in candidates}
    if not {"tuned", "base", "prompted"} <= by.keys():
        return None
    names = [metric] if metric else list(METRIC_ORDER)
    chosen = next((m for m in names if all(by[c].get(m) and by[c][m].mean is not None for c in by)), None)
    if chosen is None:
        return None
    t, b, p = (by[name][chosen] for name in ("tuned", "base", "prompted"))
    assert t.mean is not None and b.mean is not None and p.mean is not None  # chosen for having all three
    gain = t.mean - b.mean
    share = round((p.mean - b.mean) / gain, 3) if abs(gain) > 1e-9 else None
    to_target = round((t.mean - target) * 100, 1) if target is not None else None
    beyond = t.low is not None and p.high is not None and t.low > p.high
    earned = beyond and (to_target is None or to_target >= 0)
    said = (
        f"on {chosen.replace('_', ' ')}, base {b.mean:.0%}, prompted {p.mean:.0%}, tuned {t.mean:.0%}: "
        + (
            f"prompting had {share:.0%} of the tuned gain"
            if share is not None
            else "tuning gained nothing over the base"
        )
        + (
            f"; the tuned model is {abs(to_target):g} points {'above' if to_target >= 0 else 'below'} the "
            f"{target:.0%} target"
            if to_target is not None and target is not None
            else ""
        )  # fmt: skip
        + ("; fine-tuning earned its cost" if earned else "; fine-tuning has not shown it earned its cost")
    )
    return Gap(
        metric=chosen,
        base=b.mean,
        prompted=p.mean,
        tuned=t.mean,
        prompt_share=share,
        target=target,
        tuned_to_target=to_target,
        earned=earned,
        sentence=said,
    )
