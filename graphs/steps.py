"""The step runners: everything that turns an approved plan step into a tool call, in one place.

Each runner is a small function that builds the clients its tool needs (tools/clients.py, tools/rag/embedders.py),
calls the tool lazily, and returns the step's typed result. `run_step` guards them with the approval and with a
durable ledger, so killing the process at any point and resuming never starts a spending step twice.

The ledger (RUN_DIR/ledger.json, written atomically) records `started` before a runner is called and `done` with
its result after. On resume a `done` step returns its recorded result without running; a `started` step is called
again with `resume=True`, and its tool continues the same work (training resumes from its newest complete
checkpoint; the OpenAI backend attaches to the job it already created) instead of starting afresh.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from graphs.outcome import key_result
from graphs.protocol import StepFailed, StepFinished, StepProgress, StepStarted
from graphs.state import (
    DeployInputs,
    DeployStepResult,
    EvalStepResult,
    IndexInputs,
    IndexResult,
    Plan,
    PlanStep,
    SplitInputs,
    SplitResult,
    StepResult,
    SynthInputs,
    SynthStepResult,
    TrainInputs,
    TrainStepResult,
    approval_of,
    decision_of,
    result_of,
    results_of,
)
from tools.approval import check
from tools.atomic import write_json, write_text
from tools.defaults import DEFAULT_FINE_TUNE_MODEL, DEFAULT_OPENAI_MODEL, FINISHED_TRAINING
from tools.errors import TunewiseError
from tools.models.spec import ModelSpec, parse_spec
from tools.progress import Progress, Update

if TYPE_CHECKING:
    from tools.machine import Machine
    from tools.privacy.destinations import DataFlow, EndpointPolicy


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Ledger:
    """Which steps of one session started and finished, on disk beside the run's outputs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, Any]]:
        """Return every step's entry ({} before the first step)."""
        try:
            data: dict[str, dict[str, Any]] = json.loads(self.path.read_text("utf-8"))
            return data
        except FileNotFoundError:
            return {}

    def get(self, step: str) -> dict[str, Any] | None:
        """Return one step's entry, or None when it never started."""
        return self.read().get(step)

    def mark(self, step: str, **entry: Any) -> None:
        """Merge `entry` into the step's record and write the ledger atomically."""
        data = self.read()
        data[step] = {**data.get(step, {}), **entry}
        write_json(self.path, data)


@dataclass
class StepContext:
    """What a runner gets: the approved plan, where to write, earlier results, and whether it is resuming."""

    plan: Plan
    step: PlanStep
    run_dir: Path
    plan_file: Path  # the approved plan on disk, which the spending tools check too (`--plan FILE`)
    results: dict[str, StepResult]
    resume: bool
    check_cost: Callable[[float], None]  # raises unless a re-estimated cost is still within the approval
    progress: Progress  # the step's tool reports here; the graph's stream gets each update as a StepProgress
    data_path: str | None
    docs_dir: str | None
    chroma_dir: Path  # where the index step writes its collection
    private: bool = True  # the data must stay in-house: no step may send it to a hosted API

    def again(self, **changes: Any) -> StepContext:
        """Return a copy with `changes` (a resumed run, other earlier results)."""
        return replace(self, **changes)


Runner = Callable[[StepContext], StepResult]


def run_step(
    name: str,
    plan: Plan,
    state: dict[str, Any],
    runners: dict[str, Runner],
    run_dir: Path,
    chroma_dir: Path,
    emit: Callable[[StepStarted | StepProgress | StepFinished | StepFailed], None],
    *,
    machine: Machine | None = None,
) -> StepResult:
    """Check the approval, consult the ledger, run the step's runner once, and record its result.

    `emit` hears the step's events: StepStarted before the runner, a StepProgress for each update of its tool,
    then StepFinished with the result's status, or StepFailed when the runner raises (the error goes on up).
    A step the plan found needs a GPU does not start on a `machine` without one.
    """
    approval = approval_of(state.get("approval"))
    step = plan.step(name)
    if step is None:
        raise TunewiseError(f"the plan has no '{name}' step")
    plan_json = plan.as_json()
    check(plan_json, approval, step=name, cost_usd=step.cost_usd)
    ledger = Ledger(run_dir / "ledger.json")
    entry = ledger.get(name) or {}
    if entry.get("status") == "done":
        return result_of(name, entry["result"])
    if not step.runnable:
        skipped = StepResult(status="skipped", message=f"{name} {step.blocked_by or 'cannot run'}")
        ledger.mark(name, status="done", result=skipped.model_dump(mode="json"), finished_at=_now())
        return skipped
    resume = entry.get("status") == "started"
    plan_file = run_dir / "plan.json"

    def check_cost(cost: float) -> None:
        check(plan_json, approval, step=name, cost_usd=cost)

    ctx = StepContext(
        plan=plan,
        step=step,
        run_dir=run_dir,
        plan_file=plan_file,
        results=results_of(state.get("executed")),
        resume=resume,
        check_cost=check_cost,
        progress=lambda update: emit(StepProgress(step=name, update=update)),
        data_path=state.get("data_path"),
        docs_dir=state.get("docs_dir"),
        chroma_dir=chroma_dir,
        private=plan_private(plan, state),
    )
    if ctx.private:  # checked as the step runs, under today's settings: before any request
        from tools.privacy.destinations import EndpointPolicy, refuse_hosted

        refuse_hosted(name, step_flows(ctx, EndpointPolicy.from_env()))
    if machine is not None:
        needs_gpu(step, machine, state.get("session"))
    awaits_review(name, ctx, state.get("session"))
    ledger.mark(name, status="started", attempts=entry.get("attempts", 0) + 1, started_at=_now())
    if not plan_file.exists():
        write_json(plan_file, {"plan": plan_json, "approval": approval.model_dump() if approval else None})
    emit(StepStarted(step=name, resuming=resume))
    started = time.perf_counter()
    try:
        result = runners[name](ctx)
    except Exception as exc:  # a Ctrl-C is no failure: the ledger's `started` resumes the step
        if isinstance(exc, TunewiseError):
            emit(StepFailed(step=name, error=str(exc), hint=exc.hint))
        else:
            emit(StepFailed(step=name, error=f"{type(exc).__name__}: {str(exc)[:300]}"))
        raise
    seconds = round(time.perf_counter() - started, 1)
    ledger.mark(name, status="done", result=result.model_dump(mode="json"), finished_at=_now(), seconds=seconds)
    emit(
        StepFinished(
            step=name,
            status=result.status or "done",
            message=result.message,
            seconds=seconds,
            summary=key_result(name, result),
        )
    )
    return result


def needs_gpu(step: PlanStep, machine: Machine, session: str | None) -> None:
    """Refuse to start a step the plan found needs a GPU on a machine without one: approving a plan that trains an
    8B model must not start a job of days on two CPU cores. The finished steps stay done; the session resumes there.
    """
    if step.here is None or not step.here.needs_gpu or machine.has_gpu:
        return
    raise TunewiseError(
        f"the {step.step} step needs a GPU: {step.here.note.removeprefix('needs a GPU: ')}",
        hint=f"run `tunewise resume {session or 'SESSION'} --approve` on a machine with a GPU (same TUNEWISE_HOME, "
        f"data and documents): the finished steps are not run again; or train there with `tunewise train DATA "
        f"--base-model MODEL --output DIR` (`--launcher accelerate` for several GPUs)",
    )


class AwaitingReview(TunewiseError):
    """The run stopped before the split because drafted examples wait for a person (`review` is their file)."""

    def __init__(self, message: str, *, hint: str, review: str) -> None:
        super().__init__(message, hint=hint)
        self.review = review


def awaits_review(name: str, ctx: StepContext, session: str | None) -> None:
    """Stop before the split while drafts wait for a person: only accepted drafts are trained on, and a run that
    went on would train without them. Nothing after the synthesize step starts; the session resumes here.
    """
    drafted = ctx.results.get("synthesize")
    if name != "split" or not isinstance(drafted, SynthStepResult):
        return
    from tools.synthesize.review import counts_of, read_rows

    counts = counts_of(read_rows(Path(drafted.review_jsonl)))
    resume = f"tunewise resume {session or 'SESSION'} --approve"
    if counts["pending"]:
        raise AwaitingReview(
            f"{counts['pending']} drafted examples wait for review ({counts['accepted']} accepted so far): only "
            f"accepted drafts are trained on",
            hint=f"run `tunewise review {drafted.review_jsonl}` (or open {drafted.review_html}), then `{resume}`",
            review=drafted.review_jsonl,
        )
    if not counts["accepted"]:
        raise TunewiseError(
            "no drafted example was accepted, so there is still too little to train on",
            hint=f"change decisions with `tunewise review {drafted.review_jsonl} --all`, or add real examples and "
            f"plan again",
        )


def plan_private(plan: Plan, state: dict[str, Any]) -> bool:
    """Tell whether the plan's data must stay in-house: the plan says so, or (a plan made before it recorded
    this) the decision's facts do; unsaid, it must.
    """
    if plan.private is not None:
        return plan.private
    decision = decision_of(state.get("decision"))
    return decision.facts.private if decision is not None else True


def step_flows(ctx: StepContext, policy: EndpointPolicy) -> list[DataFlow]:
    """Return where the step will send the user's data, from the specs it is about to use (not the plan's words)."""
    from tools.privacy.destinations import flow, here

    name, inputs = ctx.step.step, ctx.step.inputs
    if isinstance(inputs, SynthInputs):
        return [
            flow(inputs.teacher, "the training seeds", policy) if inputs.teacher else here("the training seeds"),
            flow(inputs.judge, "the drafts and two seeds", policy) if inputs.judge else here("the drafts"),
        ]
    if name == "train" and isinstance(inputs, TrainInputs) and inputs.backend == "openai":
        return [flow(ModelSpec.openai(inputs.model or DEFAULT_FINE_TUNE_MODEL), "the training examples", policy)]
    if name == "eval":
        return [flow(spec, "the held-out examples", policy) for _, spec in candidate_specs(ctx)]
    if name == "deploy":
        model = deploy_model(ctx)
        return [flow(model, "every question and its retrieved passages at serve time", policy)] if model else []
    return [here(f"the {name} step's data")]


# ---- synthesize, split and index -------------------------------------------------------------------------------


def synthesize(ctx: StepContext) -> StepResult:
    """Draft the missing examples (tools/synthesize) under RUN_DIR/data, within the approved price; a person then
    reviews them before the split.
    """
    from tools.builders import generator_loader
    from tools.synthesize.run import estimate, run
    from tools.synthesize.schema import SynthInput

    inputs = ctx.step.inputs
    assert isinstance(inputs, SynthInputs)
    if ctx.data_path is None or inputs.teacher is None:
        raise TunewiseError("the synthesize step has no seeds or no teacher", hint="pass --data FILE")
    inp = SynthInput(
        seeds=Path(ctx.data_path),
        n=inputs.n,
        teacher=inputs.teacher,
        judge=inputs.judge,
        docs=Path(ctx.docs_dir) if ctx.docs_dir else None,
        out=ctx.run_dir / "data" / "synthesized.jsonl",
        held_out=inputs.held_out,
    )
    bound = estimate(inp)
    ctx.check_cost(bound.total_usd)  # re-priced under today's catalogue: still within the approval
    result = run(inp, load=generator_loader(), approved_usd=ctx.step.cost_usd, progress=ctx.progress)
    return SynthStepResult(
        status="done",
        out=result.out,
        review_jsonl=result.review_jsonl,
        review_html=result.review_html,
        held_out_file=result.held_out_file,
        counts=result.counts.model_dump(),
        pending=result.pending,
        cost_usd=result.cost_usd,
        message="; ".join(result.notes) or None,
    )


def split(ctx: StepContext) -> StepResult:
    """Keep the plan's held-out examples aside (tools/dataset/split.py) under RUN_DIR/data. After a synthesize step
    the held-out examples are the real ones it froze first, and training gets the seeds plus the accepted drafts.
    """
    from tools.dataset.split import SplitInput, run

    inputs = ctx.step.inputs
    assert isinstance(inputs, SplitInputs)
    if ctx.data_path is None:
        raise TunewiseError("the split step has no training file", hint="pass --data FILE")
    out = ctx.run_dir / "data"
    drafted = ctx.results.get("synthesize")
    if isinstance(drafted, SynthStepResult):
        return _split_drafted(drafted, out)
    result = run(SplitInput(path=Path(ctx.data_path), eval=inputs.eval, out=out), embedder=None)
    return SplitResult(
        status="done",
        train=str(out / "train.jsonl"),
        eval=str(out / "eval.jsonl"),
        summary=result.model_dump(mode="json"),
    )


def _split_drafted(drafted: SynthStepResult, out: Path) -> StepResult:
    """Rebuild the training file from the final review, and keep the frozen real held-out examples as eval."""
    from tools.synthesize.review import manifest, read_rows, write_training

    review = Path(drafted.review_jsonl)
    rows = read_rows(review)
    accepted = write_training(Path(drafted.out), Path(manifest(review.parent)["result"]["train_seeds_file"]), rows)
    train, held = Path(drafted.out).read_text("utf-8"), Path(drafted.held_out_file).read_text("utf-8")
    write_text(out / "train.jsonl", train)
    write_text(out / "eval.jsonl", held)
    count = sum(1 for line in train.splitlines() if line.strip())
    return SplitResult(
        status="done",
        train=str(out / "train.jsonl"),
        eval=str(out / "eval.jsonl"),
        summary={
            "train_examples": count,
            "eval_examples": sum(1 for line in held.splitlines() if line.strip()),
            "accepted_drafts": accepted,
            "seeds": count - accepted,
            "eval_is_real": True,
        },
    )


def index(ctx: StepContext) -> StepResult:
    """Index the plan's documents into Chroma with the local embedder (tools/rag/index.py)."""
    from tools.clients import get_chroma_client
    from tools.rag.embedders import get_embedder
    from tools.rag.index import IndexInput, run

    inputs = ctx.step.inputs
    assert isinstance(inputs, IndexInputs)
    db = ctx.chroma_dir
    result = run(
        IndexInput(paths=[Path(p) for p in inputs.paths], collection=inputs.collection, db=db),
        client=get_chroma_client(db),
        embedder=get_embedder("local"),
        progress=ctx.progress,
    )
    return IndexResult(status="done", collection=result.collection, db=str(db), summary=result.model_dump(mode="json"))


# ---- train -----------------------------------------------------------------------------------------------------


def train(ctx: StepContext) -> StepResult:
    """Fine-tune on the split's training file: on OpenAI, or locally (in N processes on the 70B paths)."""
    inputs = ctx.step.inputs
    assert isinstance(inputs, TrainInputs)
    data = ctx.results.get("split")
    train_file = Path(data.train if isinstance(data, SplitResult) else ctx.data_path or "")
    eval_file = Path(data.eval) if isinstance(data, SplitResult) else None
    out = ctx.run_dir / "train"
    if inputs.backend == "openai":
        from tools.clients import get_openai_client
        from tools.openai_ft.finetune import OpenAITrainInput, prepare, run

        job = OpenAITrainInput(
            data=train_file, model=inputs.model or DEFAULT_FINE_TUNE_MODEL, eval_file=eval_file, output=out
        )
        prepared = prepare(job)
        ctx.check_cost(prepared.estimated_cost_usd)  # the real file's price, checked before anything is uploaded
        result = run(
            job,
            client=get_openai_client(max_retries=0),
            prepared=prepared,
            progress=ctx.progress,
        )
        return TrainStepResult(
            status=result.status,
            backend="openai",
            model=result.fine_tuned_model,
            run_dir=str(out),
            summary=result.model_dump(mode="json"),
        )
    from tools.train.config import TrainInput
    from tools.train.run import run as train_local

    settings = {
        k: getattr(inputs, k) for k in ("max_steps", "lr", "gradient_checkpointing") if getattr(inputs, k) is not None
    }
    inp = TrainInput(
        data=train_file,
        backend=inputs.backend,
        base_model=inputs.base_model,
        output=out,
        eval_file=eval_file,
        resume=ctx.resume and (out / "checkpoints").is_dir(),
        **settings,
    )
    if inputs.launcher == "accelerate":  # the 70B paths: one process per GPU the plan priced
        from tools.train import launcher
        from tools.train.preflight import preflight

        launcher.check(inp, inputs.processes or 1)
        preflight(inp)  # the data and the run folder, before any process starts
        local = launcher.run(inp, processes=inputs.processes, progress=ctx.progress)
    else:
        local = train_local(inp, progress=ctx.progress)
    return TrainStepResult(
        status=local.status,
        backend=inputs.backend,
        adapter=str(out / "adapter"),
        run_dir=str(out),
        summary=local.model_dump(mode="json"),
    )


# ---- eval ------------------------------------------------------------------------------------------------------


def candidate_specs(ctx: StepContext) -> list[tuple[str, ModelSpec]]:
    """Return the plan's candidates by name: the trained model, its base, and the base prompt-engineered (+rag when
    indexed).
    """
    trained = ctx.results.get("train")
    train_step = ctx.plan.step("train")
    inputs = train_step.inputs if train_step is not None else None
    tuned = None
    if isinstance(inputs, TrainInputs) and inputs.backend == "openai":
        base = ModelSpec.openai(inputs.model or DEFAULT_FINE_TUNE_MODEL)
        if isinstance(trained, TrainStepResult) and trained.model:
            tuned = ModelSpec.openai(trained.model)
    elif isinstance(inputs, TrainInputs) and inputs.base_model:
        base = ModelSpec.hf(inputs.base_model)
        if isinstance(trained, TrainStepResult) and trained.adapter and trained.status in FINISHED_TRAINING:
            tuned = ModelSpec.hf(inputs.base_model, adapter=trained.adapter)
    else:  # nothing to train (the prompt-engineering plan): the base is the plan's API model
        base = _prompted_model(ctx.plan)
    rag = isinstance(ctx.results.get("index"), IndexResult)
    out = ([("tuned", tuned)] + ([("tuned_rag", tuned.adding(rag=True))] if rag else [])) if tuned else []
    prompted = base.adding(prompted=True)
    out += [("base", base), ("prompted", prompted)]
    return out + ([("prompted_rag", prompted.adding(rag=True))] if rag else [])


def eval_candidates(ctx: StepContext) -> list[str]:
    """Return the plan's candidates as `tunewise eval` takes them: NAME=SPEC."""
    return [f"{name}={spec}" for name, spec in candidate_specs(ctx)]


def _prompted_model(plan: Plan) -> ModelSpec:
    """Return the model spec a plan that trains nothing prompts and serves: its deploy or eval step's model (OpenAI's
    default only in plans made before either named one; a private plan refuses it at execution).
    """
    for name in ("deploy", "eval"):
        step = plan.step(name)
        model = getattr(step.inputs, "model", None) if step is not None else None
        if model:
            return parse_spec(str(model))  # the plan keeps its specs as the text the person could have typed
    return ModelSpec.openai(DEFAULT_OPENAI_MODEL)


def evaluate(ctx: StepContext) -> StepResult:
    """Score the split's held-out file: the trained model against its base and the prompted base."""
    from tools.builders import generator_loader, retriever_for
    from tools.evaluation.evaluate import run
    from tools.evaluation.schema import EvalInput
    from tools.rag.embedders import get_embedder

    split = ctx.results.get("split")
    candidates = eval_candidates(ctx)
    if not isinstance(split, SplitResult) or not split.eval or not candidates:
        return StepResult(
            status="skipped",
            message="evaluation skipped: no held-out split; run `tunewise eval "
            "--eval-file EVAL --candidate NAME=SPEC ...` by hand",
        )
    out = ctx.run_dir / "eval"
    inputs = ctx.step.inputs
    if ctx.resume and (out / "report.json").is_file():  # finished before the interruption: nothing to redo
        done = json.loads((out / "report.json").read_text("utf-8"))
        return EvalStepResult(status="done", verdict=done["verdict"], winner=done["winner"], report_dir=str(out))
    system = None
    if ctx.plan.starter_prompt is not None:
        system = out / "system_prompt.md"
        write_text(system, ctx.plan.starter_prompt.system)
    index = ctx.results.get("index")
    collection = index.collection if isinstance(index, IndexResult) else None
    inp = EvalInput(
        eval_file=Path(split.eval),
        train_file=Path(split.train) if split.train else None,
        candidates=candidates,
        system_prompt_file=system,
        out=out,
        collection=collection,
        max_examples=getattr(inputs, "examples", None),
        max_new_tokens=getattr(inputs, "max_new_tokens", None) or 256,
        target=getattr(inputs, "target", None),
        target_metric=getattr(inputs, "metric", None),
    )
    result = run(
        inp,
        load=generator_loader(),
        retriever=retriever_for(index.collection, Path(index.db)) if isinstance(index, IndexResult) else None,
        embedder=get_embedder("local"),
        progress=ctx.progress,
    )
    return EvalStepResult(
        status="done",
        verdict=result.verdict,
        winner=result.winner,
        report_dir=str(out),
        summary=result.model_dump(mode="json"),
    )


# ---- deploy ----------------------------------------------------------------------------------------------------


def deploy_model(ctx: StepContext) -> ModelSpec | None:
    """Return the model spec to deploy: the trained one, or for a plan that trains nothing, the model it prompts."""
    train_step = ctx.plan.step("train")
    trained = ctx.results.get("train")
    if train_step is None:
        return _prompted_model(ctx.plan)
    inputs = train_step.inputs
    assert isinstance(inputs, TrainInputs)
    if not isinstance(trained, TrainStepResult):
        return None
    if inputs.backend == "openai":
        return ModelSpec.openai(trained.model) if trained.model else None
    if trained.adapter and trained.status in FINISHED_TRAINING and inputs.base_model:
        return ModelSpec.hf(inputs.base_model, adapter=trained.adapter)
    return None


def deploy_system_prompt(ctx: StepContext, tuned: bool) -> str | None:
    """Return the deployment's system prompt: a tuned model keeps the one it was trained with; otherwise the
    plan's starter prompt, if any.
    """
    split = ctx.results.get("split")
    train_file = split.train if isinstance(split, SplitResult) else ctx.data_path
    if tuned and train_file and Path(train_file).is_file():
        from tools.dataset.formats import load_examples
        from tools.evaluation.candidate_prompts import data_system_prompt

        found = data_system_prompt(load_examples(Path(train_file)))
        if found:
            return str(found)
    return ctx.plan.starter_prompt.system if ctx.plan.starter_prompt is not None else None


def deploy(ctx: StepContext) -> StepResult:
    """Write RUN_DIR/deployment from the plan's trained model and collection; skip, saying why, when either is
    missing.
    """
    from tools.clients import get_chroma_client
    from tools.deploy.deploy import DeployInput, load_deployment, run

    index = ctx.results.get("index")
    model = deploy_model(ctx)
    if not isinstance(index, IndexResult) or not index.collection or not index.db or model is None:
        missing = (
            "no collection was indexed"
            if not isinstance(index, IndexResult) or not index.collection
            else "the index step recorded no Chroma folder"
            if not index.db
            else "no trained model to ship"
        )
        return StepResult(
            status="skipped",
            message=f"deploy skipped: {missing}; run `tunewise deploy --model SPEC --collection NAME` by hand",
        )
    out = ctx.run_dir / "deployment"
    if ctx.resume and (out / "deployment.json").is_file():  # finished before the interruption: the folder is whole
        done = load_deployment(out)
        return DeployStepResult(
            status="done",
            path=str(out),
            name=done.name,
            model=done.spec,
            collection=done.retrieval.collection,
            content_hash=done.content_hash,
        )
    prompt_file = None
    text = deploy_system_prompt(ctx, ctx.plan.step("train") is not None)
    if text:
        prompt_file = ctx.run_dir / "deploy_system_prompt.md"
        write_text(prompt_file, text)
    db = Path(index.db)  # the index runner records the Chroma folder it wrote
    ctx.progress(Update(message=f"packaging {model} with '{index.collection}'"))
    result = run(
        DeployInput(
            model=str(model),
            collection=index.collection,
            db=db,
            system_prompt_file=prompt_file,
            out=out,
            private=ctx.private,
            tensor_parallel=ctx.step.inputs.tensor_parallel if isinstance(ctx.step.inputs, DeployInputs) else None,
        ),
        client=get_chroma_client(db),
        progress=ctx.progress,
    )
    return DeployStepResult(
        status="done",
        path=result.out,
        name=result.name,
        model=str(model),
        collection=result.collection,
        content_hash=result.content_hash,
        serve=result.serve_command,
        summary=result.model_dump(mode="json"),
    )


RUNNERS: dict[str, Runner] = {
    "synthesize": synthesize,
    "split": split,
    "index": index,
    "train": train,
    "eval": evaluate,
    "deploy": deploy,
}
