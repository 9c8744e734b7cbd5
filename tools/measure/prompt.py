"""Step 1 measured, not asked: how far a prompt gets on the person's own examples, before anything is trained.

The held-out split is the one the plan's split step will make (same file, same size, same seed: `tunewise split`
is deterministic), and the sample is its first N examples, so the examples measured here are never trained on and
are scored again after training. `tunewise eval` does the scoring (base and base+prompted, few-shot from the
training split, its metrics and bootstrap intervals): no metric has a second copy here.

A finished measurement is kept in OUT/measurement.json with the hash of its inputs; running the same one again
returns it without generating (or paying) again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.errors import UsageError
from tools.measure.verdict import Verdict, errors_to_fix
from tools.measure.verdict import verdict as close_enough
from tools.progress import Progress, silent

MIN_EXAMPLES = 20  # fewer held-out examples give an interval too wide to decide anything with


class MeasureInput(BaseModel):
    """One measurement: the training file, the model and how many held-out examples, where to write, the target."""

    model_config = ConfigDict(extra="forbid")
    data: Path
    model: str = Field(description="Model spec as `tunewise eval` reads it (openai:MODEL[@URL], hf:PATH).")
    held_out: int = Field(ge=1, description="The plan's held-out size: the split step will keep the same examples.")
    examples: int = Field(default=50, ge=1, description="How many of the held-out examples to score.")
    target: float | None = Field(default=None, ge=0, le=1, description="The person's target on the metric, 0-1.")
    max_new_tokens: int = Field(default=256, ge=1)
    out: Path


class Measurement(BaseModel):
    """What step 1 measured: the metric, base and prompted scores, the prompted score's 95% interval, the target."""

    model_config = ConfigDict(frozen=True)
    metric: str
    base: float
    prompted: float
    interval: tuple[float, float]
    target: float | None
    examples: int
    cost_usd: float
    model: str
    verdict: Verdict | None = Field(
        description="good_enough: the target lies inside the interval or below it, or the prompt is close to it (at most "
        "5 points short, with at most half of its errors left to fix); None without a target."
    )
    short_by: float | None = Field(default=None, description="Points (of 100) the prompted score is below the target.")
    held_out: int = Field(description="The held-out size the sample came from: the plan's split keeps the same.")
    report_dir: str

    def sentence(self) -> str:
        """Say the measurement in one sentence, as the rationale and the five-step table quote it."""
        lo, hi = self.interval
        said = (
            f"measured on {self.examples} held-out examples: the prompted {self.model} scores {self.prompted:.0%} "
            f"{self.metric.replace('_', ' ')} (95% interval {lo:.0%}-{hi:.0%}; the base model {self.base:.0%})"
        )
        if self.target is None:
            return said + "; no target was given"
        if self.verdict == "good_enough" and not self.short_by:
            return said + f", which reaches the {self.target:.0%} target"
        short = f", {self.short_by:g} points short of the {self.target:.0%} target"
        if self.verdict == "fell_short":
            return said + short
        if self.interval[1] >= self.target:
            return said + short + ", within its interval"
        share = errors_to_fix(self.prompted, self.target)
        return said + short + f": {share:.0%} of its errors to fix, close enough for a better prompt"


def judge(prompted: float, high: float, target: float | None) -> tuple[Verdict | None, float | None]:
    """Return step 1's verdict and the points the prompted score is short of the target (None without a target).

    Good enough when the target lies inside the interval (the sample cannot tell them apart), or when the prompt is
    close to it in the sense the goal's own words are read in (tools/measure/verdict.py: at most 5 points short, with
    at most half of its errors left to fix): a large sample's tight interval says a prompt is short, not that a better one cannot close it.
    """
    if target is None:
        return None, None
    said = "good_enough" if target <= high else close_enough(prompted, target)
    return said, max(0.0, round((target - prompted) * 100, 1))


def billed(model: str) -> str | None:
    """Return the OpenAI model a spec (as text) bills for; None for a local model or another endpoint."""
    from tools.costs.plan_costs import billed_model
    from tools.models.spec import parse_spec

    return billed_model(parse_spec(model))


def price(inp: MeasureInput, tokens_per_example: float | None) -> float:
    """Return the OpenAI bill in USD of scoring base and prompted on the sample (0 for a local model or endpoint)."""
    from tools.costs.plan_costs import eval_cost

    return eval_cost(None, tokens_per_example, inp.examples, prompted=billed(inp.model))


def _key(inp: MeasureInput) -> str:
    data = hashlib.sha256(inp.data.read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps([data, inp.model_dump(mode="json", exclude={"out"})]).encode()).hexdigest()


def run(
    inp: MeasureInput, *, load: Any, embedder: Any, cost_usd: float = 0.0, progress: Progress | None = None
) -> Measurement:
    """Split as the plan will, score base and prompted on the sample with `tunewise eval`, and judge the target."""
    from tools.atomic import write_json, write_text
    from tools.dataset.split import SplitInput
    from tools.dataset.split import run as split
    from tools.evaluation.evaluate import run as evaluate
    from tools.evaluation.gap import METRIC_ORDER
    from tools.evaluation.schema import EvalInput

    progress = progress or silent
    record = inp.out / "measurement.json"
    key = _key(inp)
    if record.is_file():
        done = json.loads(record.read_text("utf-8"))
        if done.get("key") == key:  # the same measurement, finished: nothing is generated or paid again
            return Measurement.model_validate(done["measurement"])
    parts = split(SplitInput(path=inp.data, eval=inp.held_out, out=inp.out / "split"), embedder=None)
    lines = Path(parts.eval_path).read_text("utf-8").splitlines()
    sample = [line for line in lines if line.strip()][: inp.examples]
    if len(sample) < min(MIN_EXAMPLES, inp.examples):
        raise UsageError(
            f"only {len(sample)} held-out examples to measure on; step 1 needs at least {MIN_EXAMPLES}",
            hint="add examples to --data, or answer step 1 yourself",
            path=str(inp.data),
        )
    write_text(inp.out / "sample.jsonl", "\n".join(sample) + "\n")
    result = evaluate(
        EvalInput(
            eval_file=inp.out / "sample.jsonl",
            candidates=[f"base={inp.model}", f"prompted={inp.model}+prompted"],
            train_file=Path(parts.train_path),
            max_new_tokens=inp.max_new_tokens,
            out=inp.out / "eval",
            cache_dir=inp.out / "replies",  # a killed measurement pays for no reply twice
        ),
        load=load,
        retriever=None,
        embedder=embedder,
        progress=progress,
    )
    by = {c.name: c.metrics for c in result.candidates}
    metric = next((m for m in METRIC_ORDER if (by["prompted"].get(m) and by["prompted"][m].mean is not None)), None)
    if metric is None:
        raise UsageError("the evaluation measured no metric step 1 can be judged on", path=str(inp.out / "eval"))
    got, base = by["prompted"][metric], by["base"][metric]
    assert got.mean is not None  # picked above for having one
    lo = got.low if got.low is not None else got.mean
    hi = got.high if got.high is not None else got.mean
    verdict, short_by = judge(got.mean, hi, inp.target)
    measured = Measurement(
        metric=metric,
        base=round(base.mean or 0.0, 4),
        prompted=round(got.mean, 4),
        interval=(round(lo, 4), round(hi, 4)),
        target=inp.target,
        examples=len(sample),
        cost_usd=cost_usd,
        model=inp.model,
        verdict=verdict,
        short_by=short_by,
        held_out=inp.held_out,
        report_dir=result.report_dir,
    )
    write_json(record, {"key": key, "measurement": measured.model_dump(mode="json")})
    return measured
