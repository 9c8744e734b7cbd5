"""Execution: each approved step is a small function that calls its tool lazily, guarded by the approval and by
a durable ledger, so killing the process at any point and resuming never starts a spending step twice.

The ledger (RUN_DIR/ledger.json, written atomically) records `started` before a runner is called and `done`
with its result after. On resume a `done` step returns its recorded result without running; a `started` step
is called again with `resume=True`, and its tool continues the same work (training resumes from its newest
complete checkpoint; the OpenAI backend attaches to the job it already created) instead of starting afresh.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tools.approval import Approval, check
from tools.atomic import write_json
from tools.errors import TunewiseError


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Ledger:
    """Which steps of one session started and finished, on disk beside the run's outputs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return {}

    def get(self, step: str) -> dict | None:
        return self.read().get(step)

    def mark(self, step: str, **entry: Any) -> None:
        data = self.read()
        data[step] = {**data.get(step, {}), **entry}
        write_json(self.path, data)


@dataclass
class StepContext:
    """What a runner gets: the approved plan, where to write, earlier results, and whether it is resuming."""

    plan: dict
    step: dict
    run_dir: Path
    plan_file: Path  # the approved plan on disk, which the spending tools check too (`--plan FILE`)
    results: dict[str, dict]
    resume: bool
    check_cost: Callable[[float], None]  # raises unless a re-estimated cost is still within the approval
    progress: Callable[[dict], None]
    data_path: str | None
    docs_dir: str | None


def run_step(
    name: str,
    state: dict,
    runners: dict[str, Callable[[StepContext], dict]],
    run_dir: Path,
    progress: Callable[[dict], None],
) -> dict:
    """Check the approval, consult the ledger, run the step's runner once, and record its result."""
    plan, raw = state["plan"], state.get("approval")
    step = next(s for s in plan["steps"] if s["step"] == name)
    approval = Approval(**raw) if raw else None
    check(plan, approval, step=name, cost_usd=step["cost_usd"])
    ledger = Ledger(run_dir / "ledger.json")
    entry = ledger.get(name) or {}
    if entry.get("status") == "done":
        return entry["result"]
    if not step.get("runnable", True):
        result = {"status": "skipped", "message": f"{name} {step.get('blocked_by', 'cannot run')}"}
        ledger.mark(name, status="done", result=result, finished_at=_now())
        return result
    resume = entry.get("status") == "started"
    ledger.mark(name, status="started", attempts=entry.get("attempts", 0) + 1, started_at=_now())
    plan_file = run_dir / "plan.json"
    if not plan_file.exists():
        write_json(plan_file, {"plan": plan, "approval": raw})

    def check_cost(cost: float) -> None:
        check(plan, approval, step=name, cost_usd=cost)

    ctx = StepContext(
        plan=plan,
        step=step,
        run_dir=run_dir,
        plan_file=plan_file,
        results=dict(state.get("executed") or {}),
        resume=resume,
        check_cost=check_cost,
        progress=progress,
        data_path=state.get("data_path"),
        docs_dir=state.get("docs_dir"),
    )
    progress({"event": "step", "step": name, "status": "resuming" if resume else "running"})
    result = runners[name](ctx)
    ledger.mark(name, status="done", result=result, finished_at=_now())
    progress({"event": "step", "step": name, "status": result.get("status", "done")})
    return result


# ---- the runners: one small function per step, each importing its tool only when it runs --------------------


def split(ctx: StepContext) -> dict:
    from tools.dataset.split import SplitInput, run

    out = ctx.run_dir / "data"
    result = run(SplitInput(path=Path(ctx.data_path), eval=ctx.step["inputs"]["eval"], out=out))
    return {
        "status": "done",
        "train": str(out / "train.jsonl"),
        "eval": str(out / "eval.jsonl"),
        "summary": result.model_dump(mode="json"),
    }


def index(ctx: StepContext) -> dict:
    from tools.clients import get_chroma_client
    from tools.rag.embedders import get_embedder
    from tools.rag.index import IndexInput, run
    from tools.settings import get_settings

    db = get_settings().chroma_dir
    inputs = ctx.step["inputs"]
    result = run(
        IndexInput(paths=[Path(p) for p in inputs["paths"]], collection=inputs["collection"], db=db),
        client=get_chroma_client(db),
        embedder=get_embedder("local"),
        progress=lambda done, total: ctx.progress({"event": "progress", "step": "index", "done": done, "total": total}),
    )
    return {"status": "done", "collection": result.collection, "db": str(db), "summary": result.model_dump(mode="json")}


def train(ctx: StepContext) -> dict:
    inputs = ctx.step["inputs"]
    data = ctx.results.get("split", {})
    train_file = Path(data.get("train") or ctx.data_path)
    eval_file = Path(data["eval"]) if data.get("eval") else None
    out = ctx.run_dir / "train"
    if inputs["backend"] == "openai":
        from tools.clients import get_openai_client
        from tools.openai_ft.finetune import OpenAITrainInput, prepare, run

        inp = OpenAITrainInput(data=train_file, model=inputs["model"], eval_file=eval_file, output=out)
        prepared = prepare(inp)
        ctx.check_cost(prepared.estimated_cost_usd)  # the real file's price, checked before anything is uploaded
        result = run(
            inp,
            client=get_openai_client(max_retries=0),
            prepared=prepared,
            progress=lambda p: ctx.progress({"event": "progress", "step": "train", "detail": str(p)}),
        )
        return {
            "status": result.status,
            "backend": "openai",
            "model": result.fine_tuned_model,
            "run_dir": str(out),
            "summary": result.model_dump(mode="json"),
        }
    from tools.train.config import TrainInput
    from tools.train.run import run as train_local

    settings = {k: inputs[k] for k in ("max_steps", "lr", "gradient_checkpointing") if inputs.get(k) is not None}
    inp = TrainInput(
        data=train_file,
        backend=inputs["backend"],
        base_model=inputs["base_model"],
        output=out,
        eval_file=eval_file,
        resume=ctx.resume and (out / "checkpoints").is_dir(),
        **settings,
    )
    if inputs.get("launcher") == "accelerate":  # the 70B paths: one process per GPU the plan priced
        from tools.train import launcher
        from tools.train.preflight import preflight

        launcher.check(inp, inputs.get("processes") or 1)
        preflight(inp)  # the data and the run folder, before any process starts
        result = launcher.run(inp, processes=inputs.get("processes"), emit=lambda e: ctx.progress(_train_event(e)))
    else:
        result = train_local(inp, on_event=lambda e: ctx.progress(_train_event(e)))
    return {
        "status": result.status,
        "backend": inputs["backend"],
        "adapter": str(out / "adapter"),
        "run_dir": str(out),
        "summary": result.model_dump(mode="json"),
    }


def _train_event(event: dict) -> dict:
    """A training event as step progress: optimizer steps as done/total, anything said as a message."""
    out = {"event": "progress", "step": "train", "kind": event.get("event")}
    if event.get("event") == "log":
        out.update(done=event.get("step"), total=event.get("total_steps"), loss=event.get("loss"))
    elif event.get("message"):
        out["message"] = event["message"]
    return out


def evaluate(ctx: StepContext) -> dict:
    try:
        from tools.evaluation import evaluate as tool
    except ImportError:
        return _unavailable("evaluation (tunewise eval)")
    return _call(tool, "eval", ctx)


def deploy(ctx: StepContext) -> dict:
    try:
        from tools.deploy import deploy as tool
    except ImportError:
        return _unavailable("deployment (tunewise deploy)")
    return _call(tool, "deploy", ctx)


def _unavailable(what: str) -> dict:
    return {"status": "unavailable", "message": f"{what} is not available in this version; nothing was spent"}


def _call(tool, name: str, ctx: StepContext) -> dict:
    """The eval and deploy tools are wired by their own module's `from_plan(ctx)` once they exist."""
    hook = getattr(tool, "from_plan", None)
    if hook is None:
        return _unavailable(f"{name} from a plan")
    result = hook(ctx)
    if not isinstance(result, dict):
        raise TunewiseError(f"tools.{tool.__name__.rsplit('.', 1)[-1]}.from_plan returned no result")
    return result


RUNNERS: dict[str, Callable[[StepContext], dict]] = {
    "split": split,
    "index": index,
    "train": train,
    "eval": evaluate,
    "deploy": deploy,
}
