"""The plan's risks, in words: what in the data, the approach or the answers could make the plan go wrong."""

from __future__ import annotations

from typing import Any

from graphs.state import AgentState, Plan, TrainInputs, validation_of
from tools.costs.plan_costs import PATHS, TOKENS_PER_EXAMPLE, path_default


def _default_base(path: str | None) -> str:
    """Say what the path's default base is: its licence, context and the day it was chosen (base_models.json)."""
    if path is None or PATHS.get(path, {}).get("provider") != "local":
        return ""
    d = path_default(path)
    return f" (the path's default: {d['licence']}, {d['context_tokens']:,}-token context, chosen {d['chosen']})"


def risks(state: AgentState, plan: Plan, facts: dict[str, Any], examples: int) -> list[str]:
    """List the plan's risks, each with what to do about it."""
    out = []
    if state.get("reader_caveat"):  # the plan rests on a reading the reader could not vouch for: first
        out.append(str(state["reader_caveat"]))
    v = validation_of(state.get("validation"))
    if v and v.errors:
        out.append(
            f"{v.examples - v.valid_examples} examples have errors and are left out; "
            f"run `tunewise validate {v.path}` and fix them"
        )
    if v and v.good_examples < v.valid_examples:
        out.append(
            f"{v.valid_examples - v.good_examples} duplicates or conflicting answers: a model trained on "
            f"them learns to be inconsistent"
        )
    drafts = plan.step("synthesize")
    if drafts is not None:
        inputs_s = drafts.inputs
        same = getattr(inputs_s, "judge", None) == getattr(inputs_s, "teacher", None)
        out.append(
            "drafted examples cannot teach a behaviour your seeds do not show, and copy any mistake in them"
            + (
                "; the teacher also judges its own drafts and shares its blind spots: name another with "
                "--answer judge=SPEC"
                if same
                else ""
            )
            + "; read them in review.html before accepting"
        )
    if (plan.approach in ("fine_tune", "fine_tune_rag") or drafts is not None) and examples < 500:
        out.append(
            "a small dataset over-fits easily: watch the training loss, and if it nears zero, lower epochs or add data"
        )
    if plan.approach == "fine_tune_rag" or facts.get("problem") == "both":
        out.append("fine-tuning does not reliably teach facts: keep the knowledge in retrieval")
    for step in plan.steps:
        if not step.runnable:
            out.append(f"the {step.step} step {step.blocked_by}; it is skipped until then")
    estimate = plan.estimate
    if estimate is not None:  # OpenAI's access on the plan's day, the fine-tune's end of service, multi-GPU memory
        out += [n for n in estimate.notes if "OpenAI" in n or "serves only until" in n or "never" in n or "GiB" in n]
    train = plan.step("train")
    inputs = train.inputs if train is not None else None
    if (
        isinstance(inputs, TrainInputs)
        and inputs.backend != "openai"
        and not (state.get("preset") or {}).get("base_model")
    ):
        chosen = _default_base(plan.fine_tune_path)
        out.append(
            f"training loads {inputs.base_model}{chosen} from the Hugging Face cache or hub; choose another with "
            f"--answer base_model=NAME, or a local folder with --answer base_model=PATH on a machine without either"
        )
    if estimate is not None and estimate.tokens_assumed:
        out.append(f"no training file given, so tokens are assumed at {TOKENS_PER_EXAMPLE} per example")
    for key, step_record in (state.get("steps") or {}).items():
        if step_record["source"] == "assumed":
            out.append(f"step '{key}' was not answered and is {step_record['evidence']}")
    if plan.steps:
        out.append(
            "evaluate on the held-out split against the base and the prompt-engineered model before "
            "deploying: without numbers, you're guessing"
        )
    return out
