"""The costed plan: the recommendation's steps with the tools they call, each priced and timed
(tools/costs/plan_costs.py), the index step sized (tools/rag/index_plan.py), a starter prompt for the approaches
that prompt, and the risks (graphs/risks.py). `total_usd` is what the approval covers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphs.risks import risks
from graphs.state import (
    AgentState,
    DeployInputs,
    EvalInputs,
    IndexInputs,
    Plan,
    PlanStep,
    SplitInputs,
    StarterPrompt,
    StepName,
    TrainInputs,
    validation_of,
)
from tools.costs.plan_costs import PATHS, TrainingEstimate, eval_cost, eval_count, training_estimate
from tools.dataset.few_shot import Shot, few_shot
from tools.errors import TunewiseError
from tools.rag.index_plan import IndexPlan, plan_index

# `--answer KEY=VALUE` settings carried into a step's inputs (a short run, a smaller eval): (step, input, type).
RUN_OPTIONS: dict[str, tuple[str, str, type]] = {
    "max_steps": ("train", "max_steps", int),
    "lr": ("train", "lr", float),
    "gradient_checkpointing": ("train", "gradient_checkpointing", bool),
    "eval_examples": ("eval", "examples", int),
    "max_new_tokens": ("eval", "max_new_tokens", int),
}
# The tool each step calls, as the plan names it to users and in `--json` (a stable label: the modules live in
# tools/dataset/split.py, tools/rag/index.py, tools/train/ and tools/openai_ft/, tools/evaluation/, tools/deploy/).
STEP_TOOLS = {
    "split": "tools.split",
    "index": "tools.index",
    "train": "tools.train / tools.openai_ft",
    "eval": "tools.evaluate",
    "deploy": "tools.deploy",
}
APPROACH_STEPS: dict[str, list[StepName]] = {
    "prompt_engineering": ["split", "eval"],
    "rag": ["split", "index", "eval", "deploy"],
    "fine_tune": ["split", "train", "eval", "deploy"],
    "fine_tune_rag": ["split", "index", "train", "eval", "deploy"],
    "collect_more_data": [],
}


def build_plan(state: AgentState, *, embedder: Any | None, chroma_dir: Path) -> Plan:
    """Build the plan for the state's recommendation; every number comes from a tool or a named assumption.

    `embedder` counts the documents' chunks with its tokenizer (None: a size-based guess); `chroma_dir` is where
    the index step writes.
    """
    rec, decision = state["recommendation"], state.get("decision") or {}
    facts = decision.get("facts") or {}
    validation = validation_of(state.get("validation"))
    preset = state.get("preset") or {}
    approach = rec["approach"]
    path: str | None = rec["fine_tune_path"] or decision.get("path_if_fine_tuning")
    examples = validation.good_examples if validation else facts.get("examples", 0)
    held_out = eval_count(examples)
    names = APPROACH_STEPS[approach]
    if approach == "collect_more_data":  # nothing to train yet; the knowledge half can still be indexed
        names = ["index"] if facts.get("problem") == "both" and state.get("docs_dir") else []
    estimate = None
    if "train" in names and examples and path is not None:  # the decision always names a path: Step 5's answer
        tokens = validation.tokens_total if validation else None
        estimate = training_estimate(path, examples, tokens_total=tokens, base_model=preset.get("base_model"))
    starter = None
    if approach == "prompt_engineering" or (approach == "rag" and facts.get("problem") == "both"):
        data = state.get("data_path")
        shots = few_shot(data) if data else []
        starter = starter_prompt(state.get("goal") or "", shots)
    index = None
    if "index" in names:
        collection = preset.get("collection") or f"plan-{state.get('session') or 'docs'}"
        index = plan_index(state.get("docs_dir"), collection, db=chroma_dir, embedder=embedder)
    steps = [_step(name, state, approach, estimate, index, held_out, path) for name in names]
    _chain(steps)
    plan = Plan(
        approach=approach,
        fine_tune_path=rec["fine_tune_path"],
        rationale=rec["rationale"],
        notes=list(decision.get("notes") or []),
        validation=validation,
        steps=steps,
        risks=[],
        assumptions=[],
        starter_prompt=starter,
        index_plan=index,
        collect=decision.get("collect"),
        estimate=estimate,
        total_usd=round(sum(s.cost_usd for s in steps), 2),
        total_hours=round(sum(s.hours for s in steps), 3),
    )
    plan.risks = risks(state, plan, facts, examples)
    return plan


def _step(
    name: StepName,
    state: AgentState,
    approach: str,
    estimate: TrainingEstimate | None,
    index: IndexPlan | None,
    held_out: int,
    path: str | None,
) -> PlanStep:
    """Price and describe one step of the plan."""
    data, docs, preset = state.get("data_path"), state.get("docs_dir"), state.get("preset") or {}
    tool = STEP_TOOLS[name]
    if name == "split":
        described = (
            f"keep {held_out} examples aside for evaluation, near-duplicates on one side"
            if data
            else "keep examples aside for evaluation, once there are some (--data FILE)"
        )
        step = PlanStep(step=name, tool=tool, inputs=SplitInputs(path=data, eval=held_out), description=described)
        return _needs(step, data, "--data FILE")
    if name == "index":
        assert index is not None  # planned whenever the approach indexes
        step = PlanStep(
            step=name,
            tool=tool,
            hours=index.hours,
            inputs=IndexInputs(paths=[docs] if docs else [], collection=index.collection),
            description=f"index {index.files} files (~{index.estimated_chunks} chunks) into Chroma with the local "
            f"MiniLM embedder: no API cost",
        )
        return _needs(step, docs, "--docs DIR")
    if name == "train":
        if estimate is None or path is None:
            raise TunewiseError("the train step needs an estimate: no examples to train on")
        spec = PATHS[path]
        inputs = TrainInputs(
            backend=spec["backend"],
            model=spec.get("model"),
            gpu=estimate.gpu,
            base_model=preset.get("base_model") or spec.get("base_model"),
            option=estimate.option,
        )
        described = estimate.summary
        if spec.get("launcher"):
            n = estimate.gpus
            inputs = inputs.model_copy(update={"launcher": spec["launcher"], "processes": n, "gpus": n})
            described += f" ({n} process{'es' if n > 1 else ''} through accelerate launch)"
        inputs = inputs.model_copy(update=run_options(preset, "train"))
        step = PlanStep(
            step=name,
            tool=tool,
            cost_usd=estimate.training_cost_usd or 0.0,
            hours=estimate.training_hours or 0.0,
            inputs=inputs,
            description=described,
        )
        return _needs(step, data, "--data FILE")
    if name == "eval":
        tuned = "train" in APPROACH_STEPS[approach]
        evaluated = EvalInputs(
            examples=held_out, candidates=["tuned", "base", "prompted"] if tuned else ["base", "prompted"]
        )
        if not tuned:  # the prompt-engineered path is judged on the model it prompts
            from tools.defaults import DEFAULT_OPENAI_MODEL

            evaluated.model = f"openai:{DEFAULT_OPENAI_MODEL}"
        evaluated = evaluated.model_copy(update=run_options(preset, "eval"))
        scored = min(held_out, evaluated.examples)  # --answer eval_examples=N scores fewer of them
        validation = validation_of(state.get("validation"))
        per_example = validation.tokens_per_example_mean if validation else None
        step = PlanStep(
            step=name,
            tool=tool,
            cost_usd=eval_cost(path if tuned else None, per_example, scored),
            inputs=evaluated,
            description=f"score {scored if data else 'the'} held-out examples: the result against the base "
            f"model and the prompt-engineered one",
        )
        return _needs(step, data, "--data FILE")
    return PlanStep(
        step=name,
        tool=tool,
        inputs=DeployInputs(),
        description="write the deployment folder (model, collection, system prompt) for `tunewise serve`",
    )


def run_option(key: str, value: str) -> int | float | bool:
    """Read one `--answer` run setting from its text; a bad value is one clear error."""
    kind = RUN_OPTIONS[key][2]
    text = str(value).strip().lower()
    number: int | float
    try:
        if kind is bool:
            if text not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                raise ValueError(text)
            return text in ("true", "yes", "on", "1")
        number = kind(text)
    except ValueError:
        wanted = {bool: "true or false", int: "a whole number", float: "a number"}[kind]
        raise TunewiseError(
            f"--answer {key}={value!r} is not {wanted}",
            hint=f"e.g. --answer {key}={'false' if kind is bool else 40 if kind is int else 0.005}",
            exit_code=2,
        ) from None
    if number <= 0:
        raise TunewiseError(f"--answer {key}={value!r} must be above 0", hint=f"e.g. --answer {key}=40", exit_code=2)
    return number


def run_options(preset: dict[str, str], step: str) -> dict[str, int | float | bool]:
    """Return the step's inputs that `--answer` settings replace."""
    return {
        name: run_option(key, preset[key])
        for key, (where, name, _) in RUN_OPTIONS.items()
        if where == step and key in preset
    }


def _chain(steps: list[PlanStep]) -> None:
    """Block deploy when train or index cannot run: it ships what they make."""
    blocked = [s.step for s in steps if not s.runnable and s.step in ("train", "index")]
    for step in steps:
        if step.step == "deploy" and blocked:
            step.runnable = False
            step.blocked_by = f"needs the {' and '.join(blocked)} step{'s' if len(blocked) > 1 else ''} first"


def _needs(step: PlanStep, value: Any, flag: str) -> PlanStep:
    """Mark `step` as blocked until `flag` gives it `value`."""
    if not value:
        step.runnable = False
        step.blocked_by = f"needs {flag}"
    return step


def starter_prompt(goal: str, examples: list[Shot]) -> StarterPrompt:
    """Write the starter system prompt for `goal` (prompts/starter_system_prompt.md) with few-shot `examples`."""
    from prompts import render

    return StarterPrompt(
        system=render("starter_system_prompt", goal=goal.strip() or "answer the way the examples do"), few_shot=examples
    )


__all__ = ["APPROACH_STEPS", "RUN_OPTIONS", "STEP_TOOLS", "build_plan", "run_option", "run_options"]
