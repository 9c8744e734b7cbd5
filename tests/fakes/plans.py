"""Typed plans and step results for the step runners' tests: only what a test names, the rest neutral."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphs.state import (
    DeployInputs,
    EvalInputs,
    IndexResult,
    Plan,
    PlanStep,
    SplitResult,
    StarterPrompt,
    TrainInputs,
    TrainStepResult,
)


def plan_with(*steps: PlanStep, starter: str | None = None, approach: str = "fine_tune") -> Plan:
    """A plan of `steps`, priced at their own costs."""
    return Plan(
        approach=approach,  # type: ignore[arg-type]
        fine_tune_path=None,
        rationale="a test plan",
        notes=[],
        validation=None,
        steps=list(steps),
        risks=[],
        assumptions=[],
        starter_prompt=StarterPrompt(system=starter, few_shot=[]) if starter else None,
        index_plan=None,
        collect=None,
        total_usd=round(sum(s.cost_usd for s in steps), 2),
        total_hours=0.0,
    )


def train_step(base_model: str | Path | None, *, cost_usd: float = 0.0, backend: str = "hf", **extra: Any) -> PlanStep:
    inputs = TrainInputs(backend=backend, model=None, gpu=None, base_model=str(base_model), option="test", **extra)
    return PlanStep(step="train", tool="tools.train", cost_usd=cost_usd, inputs=inputs)


def eval_step(examples: int = 4, **extra: Any) -> PlanStep:
    return PlanStep(
        step="eval", tool="tools.evaluate", inputs=EvalInputs(examples=examples, candidates=["tuned"], **extra)
    )


def deploy_step() -> PlanStep:
    return PlanStep(step="deploy", tool="tools.deploy", inputs=DeployInputs())


def split_done(train: str | Path, eval_file: str | Path | None = None) -> SplitResult:
    return SplitResult(status="done", train=str(train), eval=str(eval_file or train), summary={})


def trained(adapter: str | Path, status: str = "succeeded") -> TrainStepResult:
    return TrainStepResult(
        status=status, backend="hf", adapter=str(adapter), run_dir=str(Path(adapter).parent), summary={}
    )


def indexed(collection: str, db: str | Path) -> IndexResult:
    return IndexResult(status="done", collection=collection, db=str(db), summary={})
