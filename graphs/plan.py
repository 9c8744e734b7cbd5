"""The costed plan: the recommendation's steps with the tools they call, each priced and timed
(tools/costs/plan_costs.py), the index step sized (tools/rag/index_plan.py), a starter prompt for the approaches
that prompt, and the risks (graphs/risks.py). `total_usd` is what the approval covers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from graphs.risks import risks
from graphs.state import (
    AgentState,
    DataSummary,
    DeployInputs,
    EvalInputs,
    IndexInputs,
    Plan,
    PlanStep,
    SplitInputs,
    StarterPrompt,
    StepName,
    SynthInputs,
    TrainInputs,
    decision_of,
    plan_day,
    recommendation_of,
    validation_of,
)
from tools.costs.plan_costs import (
    PATHS,
    TOKENS_PER_EXAMPLE,
    TrainingEstimate,
    billed_model,
    eval_cost,
    eval_count,
    training_estimate,
)
from tools.costs.this_machine import HereEstimate, eval_here, train_here
from tools.dataset.few_shot import Shot, few_shot
from tools.errors import TunewiseError, UsageError
from tools.machine import Machine
from tools.models.spec import ModelSpec
from tools.privacy.destinations import DataFlow, EndpointPolicy, flow, here, leaves_line
from tools.rag.index_plan import IndexPlan, plan_index
from tools.train.config import LOCAL_BATCH_SIZE, TrainInput

# `--answer KEY=VALUE` settings carried into a step's inputs (a short run, a smaller eval): (step, input, type).
RUN_OPTIONS: dict[str, tuple[str, str, type]] = {
    "drafts": ("synthesize", "n", int),
    "max_steps": ("train", "max_steps", int),
    "lr": ("train", "lr", float),
    "gradient_checkpointing": ("train", "gradient_checkpointing", bool),
    "eval_examples": ("eval", "examples", int),
    "max_new_tokens": ("eval", "max_new_tokens", int),
}
# The tool each step calls, as the plan names it to users and in `--json` (a stable label: the modules live in
# tools/dataset/split.py, tools/rag/index.py, tools/train/ and tools/openai_ft/, tools/evaluation/, tools/deploy/).
STEP_TOOLS = {
    "synthesize": "tools.synthesize",
    "split": "tools.split",
    "index": "tools.index",
    "train": "tools.train / tools.openai_ft",
    "eval": "tools.evaluate",
    "deploy": "tools.deploy",
}
# The local trainer's examples per optimizer step at its defaults (tools/train/config: batch x accumulation).
EFFECTIVE_BATCH = LOCAL_BATCH_SIZE * TrainInput.model_fields["grad_accum"].default
EVAL_NEW_TOKENS = 256  # tools/evaluation/schema.EvalInput.max_new_tokens' default, for the time estimate
APPROACH_STEPS: dict[str, list[StepName]] = {
    "prompt_engineering": ["split", "eval"],
    "rag": ["split", "index", "eval", "deploy"],
    "fine_tune": ["split", "train", "eval", "deploy"],
    "fine_tune_rag": ["split", "index", "train", "eval", "deploy"],
    "collect_more_data": [],
}
MIN_SEEDS = 10  # good examples the synthesize step needs before it is offered: fewer show too little of the task
DRAFTS_PER_MISSING = 2  # drafts made per missing example: about half survive the checks, the judge and a person


def build_plan(
    state: AgentState,
    *,
    embedder: Any | None,
    chroma_dir: Path,
    policy: EndpointPolicy | None = None,
    interviewer_endpoint: str | None = None,
    machine: Machine | None = None,
) -> Plan:
    """Build the plan for the state's recommendation; every number comes from a tool or a named assumption.

    `embedder` counts the documents' chunks with its tokenizer (None: a size-based guess); `chroma_dir` is where
    the index step writes. `policy` classes endpoints (default: OpenAI's); `interviewer_endpoint` is the URL the
    interview's LLM read the answers at (None: they were read on this machine). `machine` is the one the steps
    will run on: each local step says its time there, or that it needs a GPU (None: nothing is said).
    """
    policy = policy or EndpointPolicy()
    rec, decision = recommendation_of(state["recommendation"]), decision_of(state.get("decision"))
    assert rec is not None  # the decide node ran before the plan node
    facts: dict[str, Any] = decision.facts.model_dump() if decision is not None else {}
    private = facts_private(state)
    validation = validation_of(state.get("validation"))
    preset = state.get("preset") or {}
    approach = rec.approach
    path: str | None = rec.fine_tune_path or (decision.path_if_fine_tuning if decision is not None else None)
    examples = validation.good_examples if validation else facts.get("examples", 0)
    held_out = eval_count(examples)
    measured = state.get("measurement") or {}
    if measured.get("held_out"):  # step 1 was measured on held-out examples: the split keeps them held out
        held_out = max(held_out, int(measured["held_out"]))
    names = APPROACH_STEPS[approach]
    collect = decision.collect if decision is not None else None
    drafting = synthesizable(state, validation, collect)
    if approach == "collect_more_data":  # nothing to train yet; the knowledge half can still be indexed
        names = ["index"] if facts.get("problem") == "both" and state.get("docs_dir") else []
        if drafting:  # ... or the few good examples seed drafts a person accepts, and the plan goes on to train
            names = ["synthesize", "split", *names, "train", "eval", "deploy"]
    estimate = None
    trained_on = examples
    if drafting and collect is not None:  # the training run the plan prices is on the examples it will have
        trained_on = max(examples, int(collect["minimum"]))
    if "train" in names and trained_on and path is not None:  # the decision always names a path: Step 5's answer
        tokens = validation.tokens_total if validation else None
        if tokens is not None and trained_on != examples and examples:
            tokens = round(tokens * trained_on / examples)
        estimate = training_estimate(
            path, trained_on, tokens_total=tokens, base_model=preset.get("base_model"), today=plan_day(state)
        )
    starter = None
    if approach == "prompt_engineering" or (approach == "rag" and facts.get("problem") == "both"):
        data = state.get("data_path")
        shots = few_shot(data) if data else []
        starter = starter_prompt(state.get("goal") or "", shots)
    index = None
    if "index" in names:
        collection = preset.get("collection") or f"plan-{state.get('session') or 'docs'}"
        index = plan_index(state.get("docs_dir"), collection, db=chroma_dir, embedder=embedder)
    serving = serving_model(state, private)
    steps = [
        synth_step(state, collect, held_out, private, policy)
        if name == "synthesize"
        else _step(name, state, _runs_as(approach, names), estimate, index, held_out, path, serving)
        for name in names
    ]
    if drafting:  # the split keeps the real examples the synthesize step froze first: drafts are never evaluated on
        split_step = next(s for s in steps if s.step == "split")
        split_step.description = (
            f"train on the seeds plus the drafts you accepted; the {held_out} real examples the synthesize step held "
            f"out first stay the evaluation set"
        )
    train = next((s.inputs for s in steps if isinstance(s.inputs, TrainInputs)), None)
    for step in steps:
        if step.data_flow is None:
            step.data_flow = step_flow(step, serving, policy, rag=index is not None, trained=train)
        if private:
            _keep_in_house(step)
    _chain(steps)
    if machine is not None:
        on_machine(steps, machine, estimate, validation, serving)
    plan = Plan(
        approach=approach,
        fine_tune_path=rec.fine_tune_path,
        rationale=rec.rationale,
        notes=list(decision.notes) if decision is not None else [],
        validation=validation,
        steps=steps,
        risks=[],
        assumptions=[],
        starter_prompt=starter,
        index_plan=index,
        collect=decision.collect if decision is not None else None,
        estimate=estimate,
        total_usd=round(sum(s.cost_usd for s in steps), 2),
        total_hours=round(sum(s.hours for s in steps), 3),
        private=private,
        data_leaves=leaves_line([(s.step, f) for s in steps if s.runnable for f in s.data_flow or []]),
        interview_data_flow=interview_flow(state, interviewer_endpoint, policy),
        machine=machine.describe() if machine is not None else None,
    )
    plan.risks = risks(state, plan, facts, examples)
    return plan


def on_machine(
    steps: list[PlanStep],
    machine: Machine,
    estimate: TrainingEstimate | None,
    validation: DataSummary | None,
    serving: ModelSpec,
) -> None:
    """Say what the local steps mean on `machine`: training (and the eval's generation) there take this long, or
    need a GPU it lacks. A step that runs on this machine's CPU shows its time here in the hours column.
    """
    train = next((s for s in steps if isinstance(s.inputs, TrainInputs)), None)
    local_train = train is not None and isinstance(train.inputs, TrainInputs) and train.inputs.backend != "openai"
    base: str | None = None
    if train is not None and local_train and estimate is not None:
        inputs = train.inputs
        assert isinstance(inputs, TrainInputs)
        base = inputs.base_model or estimate.model
        tokens = estimate.billed_tokens or 0
        if inputs.max_steps and validation is not None and estimate.epochs:  # a short run stops at max_steps
            full = math.ceil(validation.good_examples * estimate.epochs / EFFECTIVE_BATCH)
            tokens = round(tokens * min(1.0, inputs.max_steps / max(1, full)))
        train.here = train_here(machine, base_model=base, trained_tokens=tokens, gpus_needed=estimate.gpus)
        _show_here(train, train.here)
    elif train is None and serving.kind == "hf":
        base = serving.model
    evaluation = next((s for s in steps if isinstance(s.inputs, EvalInputs)), None)
    if evaluation is None or base is None or (train is not None and not local_train):
        return
    inputs = evaluation.inputs
    assert isinstance(inputs, EvalInputs)
    here_eval = eval_here(
        machine,
        base_model=base,
        generations=inputs.examples * len(inputs.candidates),
        new_tokens=inputs.max_new_tokens or EVAL_NEW_TOKENS,
        prompt_tokens=validation.tokens_per_example_mean if validation else TOKENS_PER_EXAMPLE,
    )
    if here_eval is not None:
        evaluation.here = here_eval
        _show_here(evaluation, here_eval)


def _show_here(step: PlanStep, here: HereEstimate) -> None:
    step.description += f"; {here.note}"
    if not here.needs_gpu and here.hours_here is not None:  # it runs here: the wait is this machine's time
        step.hours = here.hours_here


def serving_model(state: AgentState, private: bool) -> ModelSpec:
    """Return the spec of the model a plan that trains nothing prompts, evaluates and serves: the `base_model` the
    person named, else a default chosen by where the data may go (OpenAI's default model only when it may leave;
    the self-hosted path's open base model when it must stay).
    """
    from tools.defaults import DEFAULT_OPENAI_MODEL
    from tools.models.spec import parse_spec

    named = (state.get("preset") or {}).get("base_model")
    if named:  # a bare NAME is a local model; a bad spec is one clear error here, before anything is priced
        return parse_spec(named, bare="hf")
    if not private:
        return ModelSpec.openai(DEFAULT_OPENAI_MODEL)
    return ModelSpec.hf(PATHS["qlora_self_hosted"]["base_model"])


def step_flow(
    step: PlanStep, serving: ModelSpec, policy: EndpointPolicy, *, rag: bool, trained: TrainInputs | None
) -> list[DataFlow]:
    """Return where `step` sends the user's data, as planned (execution checks again with the settings it runs
    under: graphs/steps.step_flows). A plan that trains evaluates and serves the trained model: on OpenAI's
    endpoint for the OpenAI backend, on this machine otherwise; a plan that trains nothing uses `serving`.
    """
    inputs = step.inputs
    target: ModelSpec | None = serving  # the model the eval and deploy steps send to; None: one on this machine
    if trained is not None:
        target = ModelSpec.openai(trained.model or "") if trained.backend == "openai" else None
    if isinstance(inputs, SplitInputs):
        return [here("the training examples")]
    if isinstance(inputs, IndexInputs):
        return [here("the documents")]  # embedded by the local MiniLM
    if isinstance(inputs, TrainInputs):
        if inputs.backend == "openai":
            return [flow(ModelSpec.openai(inputs.model or ""), "the training examples", policy)]
        return [here("the training examples")]
    if isinstance(inputs, EvalInputs):
        what = f"the held-out examples{' and the passages retrieved for them' if rag else ''}"
        model = inputs.model or target
    else:
        assert isinstance(inputs, DeployInputs)
        what = f"every question{' and its retrieved passages' if rag else ''} at serve time"
        model = inputs.model or target
    return [flow(model, what, policy) if model else here(what)]


def _runs_as(approach: str, names: list[StepName]) -> str:
    """Return the approach whose steps the plan runs: collecting by drafting goes on to fine-tune (with RAG when
    it also indexes).
    """
    if approach == "collect_more_data" and "train" in names:
        return "fine_tune_rag" if "index" in names else "fine_tune"
    return approach


def synthesizable(state: AgentState, validation: DataSummary | None, collect: dict[str, Any] | None) -> bool:
    """Tell whether the plan can draft the missing examples: more are needed, the --data file holds at least
    MIN_SEEDS good ones, and they are good data (drafts modelled on unreviewed or wrong examples copy their faults).
    """
    return (
        collect is not None
        and not collect.get("quality")
        and validation is not None
        and validation.good_examples >= MIN_SEEDS
        and bool(state.get("data_path"))
    )


def synth_step(
    state: AgentState, collect: dict[str, Any] | None, held_out: int, private: bool, policy: EndpointPolicy
) -> PlanStep:
    """Plan the synthesize step: drafts for the missing examples, priced on the seeds by tools/synthesize (the
    same bound the run checks), with the teacher and judge named by `--answer teacher=SPEC judge=SPEC`, else the
    default OpenAI model where the data may leave; a private plan with no local teacher is blocked, saying so.
    """
    from tools.defaults import DEFAULT_OPENAI_MODEL
    from tools.synthesize.run import estimate as synth_price
    from tools.synthesize.schema import SynthInput

    assert collect is not None  # planned only for collect_more_data
    preset = state.get("preset") or {}
    validation = validation_of(state.get("validation"))
    good = validation.good_examples if validation else 0
    missing = max(1, int(collect["minimum"]) - good)
    n = int(run_options(preset, "synthesize").get("n") or missing * DRAFTS_PER_MISSING)
    teacher = preset.get("teacher") or (None if private else f"openai:{DEFAULT_OPENAI_MODEL}")
    judge = preset.get("judge") or teacher
    data = state.get("data_path")
    inputs = SynthInputs(seeds=data, n=n, missing=missing, teacher=teacher, judge=judge, held_out=held_out)
    step = PlanStep(step="synthesize", tool=STEP_TOOLS["synthesize"], inputs=inputs, description="")
    if teacher is None or judge is None:
        step.runnable = False
        step.blocked_by = (
            "the data must stay in-house, so drafting needs a local teacher: --answer "
            "teacher=openai:MODEL@http://HOST:PORT/v1 (vLLM, Ollama) or teacher=hf:PATH"
        )
        step.data_flow = [here("the training seeds")]
        step.description = (
            f"draft {n} examples from your {good} good ones ({missing} more are needed to reach "
            f"{collect['minimum']}) with a local teacher"
        )
        return step
    step.data_flow = [flow(teacher, "the training seeds", policy), flow(judge, "the drafts and two seeds", policy)]
    hosted = [f for f in step.data_flow if f.leaves]
    if private and hosted:
        step.runnable = False
        step.blocked_by = (
            f"would send {hosted[0].what} to {hosted[0].endpoint}, but the data must stay in-house: name a local "
            f"teacher and judge (--answer teacher=openai:MODEL@http://HOST:PORT/v1 or teacher=hf:PATH)"
        )
    seeds = Path(str(data))
    drafted = seeds.with_name("synthesized.jsonl")  # where the run writes is its own; the price writes nothing
    bound = synth_price(SynthInput(seeds=seeds, n=n, teacher=teacher, judge=judge, out=drafted, held_out=held_out))
    step.cost_usd = bound.total_usd
    step.description = (
        f"draft {n} examples from your {good} good ones with {teacher}, judged by {judge} ({missing} more are needed "
        f"to reach {collect['minimum']}); only the drafts you accept in `tunewise review` are trained on, and "
        f"evaluation stays on {held_out} real held-out examples"
    )
    return step


def _keep_in_house(step: PlanStep) -> None:
    """Block a step of a private plan that would send data to a hosted API: it needs a local model instead."""
    hosted = [f for f in step.data_flow or [] if f.leaves]
    if hosted and step.runnable:
        step.runnable = False
        step.blocked_by = (
            f"would send {hosted[0].what} to {hosted[0].endpoint}, but the data must stay in-house: needs a local "
            f"model (--answer base_model=PATH) or an in-house endpoint (--answer base_model=openai:MODEL@URL)"
        )


def interview_flow(state: AgentState, endpoint: str | None, policy: EndpointPolicy) -> list[DataFlow]:
    """Return where the interview sent what it read: the goal and answers (to its LLM, if any) and the training
    file (validated on this machine).
    """
    talk = "the goal and your answers"
    out = [flow(ModelSpec.openai("interviewer", base_url=endpoint), talk, policy) if endpoint else here(talk)]
    if state.get("data_path"):
        out.append(here("the training file (tunewise validate)"))
    return out


def _step(
    name: StepName,
    state: AgentState,
    approach: str,
    estimate: TrainingEstimate | None,
    index: IndexPlan | None,
    held_out: int,
    path: str | None,
    serving: ModelSpec,
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
        if not tuned:  # the prompt-engineered path is judged on the model it prompts, and will serve
            evaluated.model = str(serving)
        evaluated = evaluated.model_copy(update=run_options(preset, "eval"))
        measured = state.get("measurement") or {}
        if measured.get("target") is not None:  # step 1's numbers: the eval says how much of the gap training closed
            evaluated = evaluated.model_copy(update={"target": measured["target"], "metric": measured["metric"]})
        scored = min(held_out, evaluated.examples)  # --answer eval_examples=N scores fewer of them
        validation = validation_of(state.get("validation"))
        per_example = validation.tokens_per_example_mean if validation else None
        step = PlanStep(
            step=name,
            tool=tool,
            cost_usd=eval_cost(path if tuned else None, per_example, scored, prompted=billed_model(serving)),
            inputs=evaluated,
            description=f"score {scored if data else 'the'} held-out examples: the result against the base "
            f"model and the prompt-engineered one" + ("" if tuned else f", on {serving}"),
        )
        return _needs(step, data, "--data FILE")
    tuned = "train" in APPROACH_STEPS[approach]
    spread = estimate.gpus if tuned and estimate is not None and path and PATHS[path].get("launcher") else None
    return PlanStep(
        step=name,
        tool=tool,
        inputs=DeployInputs(model=None if tuned else str(serving), tensor_parallel=spread),
        description="write the deployment folder (model, collection, system prompt) for `tunewise serve`"
        + ("" if tuned else f", serving {serving}"),
    )


def facts_private(state: AgentState) -> bool:
    """Tell whether the decision's facts say the data must stay in-house (the default when nobody said)."""
    decision = decision_of(state.get("decision"))
    return decision.facts.private if decision is not None else True


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
        raise UsageError(
            f"--answer {key}={value!r} is not {wanted}",
            hint=f"e.g. --answer {key}={'false' if kind is bool else 40 if kind is int else 0.005}",
        ) from None
    if number <= 0:
        raise UsageError(f"--answer {key}={value!r} must be above 0", hint=f"e.g. --answer {key}=40")
    return number


def run_options(preset: dict[str, str], step: str) -> dict[str, int | float | bool]:
    """Return the step's inputs that `--answer` settings replace."""
    return {
        name: run_option(key, preset[key])
        for key, (where, name, _) in RUN_OPTIONS.items()
        if where == step and key in preset
    }


def _chain(steps: list[PlanStep]) -> None:
    """Block deploy when train or index cannot run: it ships what they make. Block every step after a synthesize
    step that cannot run: they would train on too few examples.
    """
    drafts = next((s for s in steps if s.step == "synthesize"), None)
    if drafts is not None and not drafts.runnable:
        for step in steps:
            if step.step != "synthesize" and step.runnable:
                step.runnable = False
                step.blocked_by = "needs the synthesize step first: it makes the examples the later steps train on"
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
