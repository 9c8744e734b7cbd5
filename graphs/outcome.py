"""What an executed step came to, in words and numbers: the one line a person reads when it finishes, the files it
built, and what it spent. The CLI's live display, the closing summary, `--json`'s report and the demo all read
these, so a step is described once.
"""

from __future__ import annotations

from pathlib import Path

from graphs.state import (
    DeployStepResult,
    EvalStepResult,
    IndexResult,
    PlanStep,
    SplitResult,
    StepResult,
    SynthStepResult,
    TrainStepResult,
)

# The files a person goes to after a run, by the label the summary and `report.files` give them.
FILE_LABELS = ("review", "adapter", "collection", "eval_report", "deployment")


def key_result(name: str, result: StepResult) -> str:
    """Return one line on what the step produced: counts, the loss, the verdict, where it is."""
    if isinstance(result, SynthStepResult):
        c = result.counts
        return (
            f"drafted {c.get('drafted')} → valid {c.get('valid')} → unique {c.get('unique')} → passed the judge "
            f"{c.get('passed_judge')} → accepted {c.get('accepted')}; ${result.cost_usd:.2f}; review: tunewise review "
            f"{result.review_jsonl}"
        )
    if isinstance(result, SplitResult):
        s = result.summary
        if "accepted_drafts" in s:
            return (
                f"{s.get('train_examples')} to train on ({s['seeds']} real + {s['accepted_drafts']} accepted drafts), "
                f"{s.get('eval_examples')} real held out"
            )
        return f"{s.get('train_examples')} to train on, {s.get('eval_examples')} held out"
    if isinstance(result, IndexResult):
        s = result.summary
        return f"{s.get('chunks_total')} chunks from {s.get('files_seen')} files in '{result.collection}'"
    if isinstance(result, TrainStepResult):
        return _trained(result)
    if isinstance(result, EvalStepResult):
        return f"{result.verdict}; report at {Path(result.report_dir) / 'report.html'}"
    if isinstance(result, DeployStepResult):
        return f"deployment at {result.path}"
    return result.message or result.status


def _trained(result: TrainStepResult) -> str:
    s = result.summary
    if result.backend == "openai":
        made = f", model {result.model}" if result.model else ""
        return f"OpenAI job {s.get('job_id') or '?'} {result.status}{made}"
    first, last = s.get("first_loss"), s.get("final_loss")
    if first is not None and last is not None:
        loss = f"loss {first:.2f} → {last:.2f}"
    else:
        loss = f"final loss {last:.2f}" if last is not None else "no loss logged"
    return f"{s.get('steps')}/{s.get('total_steps')} steps on {s.get('device') or '?'}, {loss}, adapter at {result.adapter}"


def files_of(results: dict[str, StepResult]) -> dict[str, str]:
    """Return the files a run built, by label: the adapter, the collection, the eval report, the deployment."""
    out: dict[str, str] = {}
    for result in results.values():
        if isinstance(result, SynthStepResult):
            out["review"] = result.review_html
        elif isinstance(result, TrainStepResult) and result.adapter:
            out["adapter"] = result.adapter
        elif isinstance(result, TrainStepResult) and result.model:
            out["adapter"] = f"openai:{result.model}"
        elif isinstance(result, IndexResult):
            out["collection"] = f"{result.collection} in {result.db}"
        elif isinstance(result, EvalStepResult):
            out["eval_report"] = str(Path(result.report_dir) / "report.html")
        elif isinstance(result, DeployStepResult):
            out["deployment"] = result.path
    return {label: out[label] for label in FILE_LABELS if label in out}


def spent_usd(results: dict[str, StepResult], steps: list[PlanStep]) -> float:
    """Return what the executed steps cost: the bill where a step reports one (OpenAI's billed tokens, the index's
    embedding price), else the price the plan gave the step; a skipped step spent nothing.
    """
    priced: dict[str, float] = {s.step: s.cost_usd for s in steps}
    total = 0.0
    for name, result in results.items():
        if result.status in ("skipped", "unavailable"):
            continue
        billed = _billed(result)
        total += billed if billed is not None else priced.get(name, 0.0)
    return round(total, 2)


def _billed(result: StepResult) -> float | None:
    if isinstance(result, TrainStepResult) and result.backend == "openai":
        s = result.summary
        value = s.get("billed_cost_usd") if s.get("billed_cost_usd") is not None else s.get("estimated_cost_usd")
        return float(value) if value is not None else None
    if isinstance(result, SynthStepResult):
        return result.cost_usd
    if isinstance(result, IndexResult):
        value = result.summary.get("embedding_cost_usd")
        return float(value) if value is not None else None
    return None
