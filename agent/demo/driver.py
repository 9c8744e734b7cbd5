"""`tunewise demo`: the journey a new user takes, offline, on examples/ (Larkspur Cycles).

validate the chat file -> the base model (a smoke-test model built here, or --base-model) -> the agent's plan for
examples/goals/fine_tune_rag.txt, approved by the demo through the agent's own approval node -> the agent's
execution of that plan (split, index, train, eval, deploy: its runners, its approval checks, its ledger) -> one
request through `tunewise serve` -> an HTML report. Finished stages are recorded in WORKDIR/demo.json
(agent.demo.record), so a second run skips them; inside the execution the session's checkpoint and ledger resume.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from agent.demo.record import DemoOptions, DemoRecord, write_report
from graphs.outcome import key_result
from graphs.protocol import (
    ApprovalRequest,
    Approve,
    Confirm,
    Question,
    StepFailed,
    StepFinished,
    StepProgress,
    StepStarted,
)
from graphs.state import EXECUTION as ALL_STEPS
from graphs.state import approval_of, plan_of, recommendation_of, result_of, results_of
from tools.defaults import FINISHED_TRAINING
from tools.errors import TunewiseError, UsageError

if TYPE_CHECKING:
    from graphs.session import Reply

Emit = Callable[[dict], None]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
COLLECTION = "larkspur"
# A short run for --quick and a longer one otherwise (0.4-0.5 s a step for the smoke-test model on 2 idle cores);
# the full run scores every held-out example, with replies long enough for the house style's sign-off.
QUICK = {"max_steps": "60", "eval_examples": "6", "max_new_tokens": "48"}
FULL = {"max_steps": "300", "max_new_tokens": "160"}
# Random weights move only with a large step; 2e-4 leaves a smoke-test model's loss where it started.
SMOKE_TRAIN = {"lr": "0.01"}
# unsloth's offloaded gradient checkpointing is far slower on the CPU (measured on 2 shared cores: 17 s against
# 0.4 s a step for the smoke-test model), and without a GPU there is no VRAM to save.
CPU_TRAIN = {"gradient_checkpointing": "false"}
SMOKE_SHAPE: dict[str, Any] = dict(
    hidden_size=128, layers=4, heads=4, kv_heads=2, intermediate_size=384, vocab_size=2048, max_positions=4096
)  # room for four retrieved passages plus few-shot turns

EXECUTION = [name for name in ALL_STEPS if name != "synthesize"]  # the demo's 339 examples need no drafts


def run(workdir: Path, options: DemoOptions, emit: Emit) -> dict:
    """Run (or resume) every stage in `workdir`; return the demo record."""
    chat, docs, goal = (
        EXAMPLES / "support_chat.jsonl",
        EXAMPLES / "helpcentre",
        EXAMPLES / "goals" / "fine_tune_rag.txt",
    )
    for path in (chat, docs, goal):
        if not path.exists():
            raise TunewiseError(
                "the demo's example files are missing",
                path=str(path),
                hint="run the demo from a tunewise source checkout (pip install -e .)",
            )
    if workdir.exists() and (
        not workdir.is_dir() or (any(workdir.iterdir()) and not (workdir / "demo.json").is_file())
    ):
        raise UsageError(
            "exists and is not a tunewise demo folder; refusing to write into it",
            path=str(workdir),
            hint="pick a new or empty --workdir",
        )
    workdir.mkdir(parents=True, exist_ok=True)
    record = DemoRecord(workdir, options)
    record.start_run()
    stage(record, "validate", emit, lambda: _validate(chat, workdir))
    stage(record, "model", emit, lambda: _model(options, chat, workdir, emit))
    _agent(record, options, chat, docs, goal.read_text("utf-8"), emit)
    stage(record, "serve", emit, lambda: _serve(record, workdir, emit))
    stage(record, "report", emit, lambda: _report(record, workdir))
    return record.data


def stage(record: DemoRecord, name: str, emit: Emit, body: Callable[[], dict]) -> dict:
    """Run one stage unless demo.json says it is done; record it when it finishes."""
    done = record.done(name)
    if done:
        emit({**done, "event": "stage", "stage": name, "earlier": True})
        return done
    emit({"event": "stage", "stage": name, "status": "running"})
    started = time.perf_counter()
    info = body()
    entry = record.finish(name, time.perf_counter() - started, **info)
    emit({"event": "stage", "stage": name, **entry})
    return entry


# ---- validate and the base model ------------------------------------------------------------------------------


def _validate(chat: Path, workdir: Path) -> dict:
    from tools.atomic import write_json
    from tools.dataset.validate import ValidateInput
    from tools.dataset.validate import run as validate

    result = validate(ValidateInput(path=chat, hosted=False))  # the data stays in-house: QLoRA, self-hosted
    out = workdir / "validation.json"
    write_json(out, result.model_dump(mode="json"))
    if not result.ok:
        raise TunewiseError(
            f"{sum(result.error_counts.values())} errors in the example data", path=str(chat), hint=f"see {out}"
        )
    return {
        "summary": f"{result.valid_examples} of {result.examples} examples valid, {result.tokens.total:,} tokens, "
        f"{sum(result.warning_counts.values())} warnings",
        "path": str(out),
    }


def _model(options: DemoOptions, chat: Path, workdir: Path, emit: Emit) -> dict:
    if options.base_model:
        from tools.models.smoke import is_smoke_model

        model = _real_model(options.base_model)
        smoke = is_smoke_model(model)  # a smoke-test folder passed back in is still labelled as one
        return {
            "summary": f"{'SMOKE-TEST model' if smoke else 'base model'} {model}",
            "base_model": model,
            "smoke_test": smoke,
        }
    from tools.dataset.formats import load_examples
    from tools.models.smoke import build

    folder = workdir / "models" / "smoke-test-model"
    emit(
        {
            "event": "note",
            "stage": "model",
            "message": "no --base-model: building a smoke-test model (random "
            "weights, tokenizer trained on the chat file); its outputs test the pipeline, not quality",
        }
    )
    texts = [m["content"] for ex in load_examples(chat) for m in ex.messages if isinstance(m.get("content"), str)]
    import_quietly()
    build(folder, texts, **SMOKE_SHAPE)
    return {
        "summary": f"SMOKE-TEST model (random weights, {SMOKE_SHAPE['layers']} layers, hidden "
        f"{SMOKE_SHAPE['hidden_size']}) at {folder}",
        "base_model": str(folder.resolve()),
        "smoke_test": True,
    }


def _real_model(name: str) -> str:
    """Return a folder with config.json (made absolute), or a Hub name already in the local cache: the demo is
    offline. Anything else raises TunewiseError (exit code 2).
    """
    folder = Path(name).expanduser()
    if (folder / "config.json").is_file():
        return str(folder.resolve())
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(name, local_files_only=True)
        return name
    except Exception:  # not a repo id, or not cached: either way nothing to load offline
        raise UsageError(
            f"--base-model '{name}' is neither a model folder (with config.json) nor in the Hugging Face cache",
            hint="pass a local model folder, or download it first with `hf download "
            "NAME`; without --base-model the demo builds a smoke-test model",
        ) from None


def import_quietly() -> None:
    """Load transformers with warnings off: torchao's and torch's kernel notices on import, and the weight bars,
    would break into the stage lines (the same reason tools.rag.embedders.LocalEmbedder loads quietly).
    """
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        from transformers import LlamaForCausalLM  # noqa: F401  (pulls in torch and torchao)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    finally:
        logging.disable(previous)


# ---- the agent: plan, approval, execution ---------------------------------------------------------------------


def _agent(record: DemoRecord, options: DemoOptions, chat: Path, docs: Path, goal: str, emit: Emit) -> None:
    for name in ["plan", *EXECUTION]:  # stages run in order, so the finished ones come first
        earlier = record.done(name)
        if not earlier:
            break
        emit({**earlier, "event": "stage", "stage": name, "earlier": True})
    else:
        return
    from agent.interviewer.offline import OfflineInterviewer
    from graphs.session import drive, first_state
    from graphs.state import Context

    import_quietly()
    model = record.done("model") or {}
    import torch

    preset = {
        "base_model": model["base_model"],
        "collection": COLLECTION,
        **(QUICK if options.quick else FULL),
        **(SMOKE_TRAIN if model.get("smoke_test") else {}),
        **({} if torch.cuda.is_available() else CPU_TRAIN),
    }
    from graphs.pipeline import open_graph

    with open_graph() as graph:
        session = record.data.get("session")
        start = None
        if not session or not graph.get_state({"configurable": {"thread_id": session}}).values:
            session = uuid.uuid4().hex[:12]
            record.set("session", session)
            start = first_state(
                session,
                goal,
                interviewer="offline",
                data_path=str(chat),
                docs_dir=str(docs),
                interactive=False,
                preset=preset,
            )
        if not record.done("plan"):
            emit({"event": "stage", "stage": "plan", "status": "running"})
        stages = Stages(record, emit, session)
        done = drive(
            graph,
            session,
            stages,
            Context(interviewer=OfflineInterviewer(), approved_by="tunewise demo"),
            start=start,
            on_event=stages.event,
            on_update=stages.update,
        )
    values = done.values
    from tools.settings import get_settings

    if values.get("status") != "completed":
        raise TunewiseError(
            f"the agent's session ended '{values.get('status')}': {values.get('decision_note')}",
            hint=f"see `TUNEWISE_HOME={get_settings().home} tunewise sessions`",
        )
    approval = approval_of(values.get("approval"))
    plan = record.data["stages"]["plan"]
    plan.update(
        approved_by=approval.approved_by if approval else None, approved_at=approval.approved_at if approval else None
    )
    record.set("stages", record.data["stages"])
    for name in EXECUTION:  # the graph's own results, also for steps whose events an earlier run never saw
        if not record.done(name):
            typed = results_of(values.get("executed")).get(name)
            result = typed.model_dump(mode="json") if typed else {"status": "skipped", "message": "not in the plan"}
            seconds = time.perf_counter() - stages.timer.get(name, time.perf_counter())
            entry = record.finish(name, seconds, **_step_info(name, result))
            emit({"event": "stage", "stage": name, **entry})


class Stages:
    """The demo as the drive loop's Answerer: it approves the plan (recording it as the plan stage) and turns the
    approved steps' events and results into its stage lines. A question it cannot answer stops it with the command
    that can.
    """

    def __init__(self, record: DemoRecord, emit: Emit, session: str) -> None:
        self.record, self.emit, self.session = record, emit, session
        self.timer: dict[str, float] = {"plan": time.perf_counter()}
        self.current: str | None = None

    def ask(self, question: Question) -> str | None:
        """Stop: the demo's goal and presets answer every step, so a question means something is off."""
        raise TunewiseError(
            f"the agent asked a question the demo cannot answer: {question.question}",
            hint=f"answer it with `tunewise resume {self.session}`",
        )

    def confirm(self, request: Confirm) -> str | None:
        """Never reached: the demo's session is non-interactive, which skips the confirm list."""
        return ""

    def approve(self, request: ApprovalRequest, values: dict[str, Any]) -> Reply | None:
        """Record the plan stage once, then approve (the agent's approval node records it, with the plan's hash)."""
        if not self.record.done("plan"):
            self._planned(values, request)
        return Approve()

    def _planned(self, values: dict[str, Any], request: ApprovalRequest) -> None:
        rec, plan = recommendation_of(values["recommendation"]), plan_of(values["plan"])
        assert plan is not None and rec is not None  # the approval interrupt follows the plan node
        path = f" ({rec.fine_tune_path})" if rec.fine_tune_path else ""
        entry = self.record.finish(
            "plan",
            time.perf_counter() - self.timer["plan"],
            approach=rec.approach,
            fine_tune_path=rec.fine_tune_path,
            rationale=rec.rationale,
            total_usd=plan.total_usd,
            plan_hash=request.plan_hash,
            session=values["session"],
            steps=[s.step for s in plan.steps],
            summary=f"{rec.approach}{path}, ${plan.total_usd:.2f}, approved by the demo; session {values['session']}",
        )
        self.emit({"event": "stage", "stage": "plan", **entry})

    def event(self, event: StepStarted | StepProgress | StepFinished | StepFailed) -> None:
        """Show a step starting as its stage, and its progress under it."""
        if isinstance(event, StepStarted):
            self.current = event.step
            self.timer[event.step] = time.perf_counter()
            self.emit({"event": "stage", "stage": event.step, "status": "resuming" if event.resuming else "running"})
        elif isinstance(event, StepProgress) and self.current:
            u = event.update
            self.emit(
                {
                    "event": "progress",
                    "stage": self.current,
                    "done": u.done,
                    "total": u.total,
                    "unit": u.unit,
                    "what": u.stage or u.message,
                    "metrics": u.metrics,
                }
            )

    def update(self, chunk: dict[str, Any]) -> None:
        """Finish a stage when its step's typed result lands in the state."""
        for name, update in chunk.items():
            typed = ((update or {}).get("executed") or {}).get(name) if name in EXECUTION else None
            if typed is not None and not self.record.done(name):
                result = result_of(name, typed).model_dump(mode="json")
                seconds = time.perf_counter() - self.timer.get(name, time.perf_counter())
                entry = self.record.finish(name, seconds, **_step_info(name, result))
                self.emit({"event": "stage", "stage": name, **entry})


def _step_info(name: str, result: dict) -> dict:
    """Return what the demo keeps of a step's result: its artefacts and one line to show (the line every front-end
    shows, graphs.outcome.key_result; the eval stage shows its verdict, the report's path is kept beside it).
    """
    status = "done" if result.get("status") in ("done", *FINISHED_TRAINING) else "skipped"
    info: dict[str, Any] = {"status": status, "agent_status": result.get("status")}
    summary: dict[str, Any] = result["summary"] if isinstance(result.get("summary"), dict) else {}
    info["summary"] = result.get("message") or key_result(name, result_of(name, result))
    if result.get("message"):
        return info
    if name == "split":
        info.update(train=result["train"], eval=result["eval"])
    elif name == "index":
        info.update(collection=result["collection"], db=result["db"], chunks=summary.get("chunks_total"))
    elif name == "train":
        info.update(adapter=result.get("adapter"), run_dir=result.get("run_dir"))
    elif name == "eval":
        info.update(
            report_dir=result["report_dir"],
            report_html=str(Path(result["report_dir"]) / "report.html"),
            winner=result.get("winner"),
            summary=result.get("verdict"),
            gap=summary.get("gap"),  # tuned against base and prompted on the same examples (tools/evaluation/gap.py)
        )
    elif name == "deploy":
        info.update(path=result["path"], name=result.get("name"))
    return info


# ---- serve one request, and the report ------------------------------------------------------------------------


def _serve(record: DemoRecord, workdir: Path, emit: Emit) -> dict:
    from agent.demo.serve import ask_served

    deploy = record.done("deploy") or {}
    if not deploy.get("path"):
        return {"status": "skipped", "summary": "nothing was deployed, so nothing to serve"}
    served = ask_served(Path(deploy["path"]), workdir, emit)
    answer = " ".join(served["answer"].split())
    return {
        "summary": f"{len(served['sources'])} sources; answer: {answer[:80]}" + ("…" if len(answer) > 80 else ""),
        "path": str(workdir / "served.json"),
        "answer": served["answer"],
        "sources": served["sources"],
    }


def _report(record: DemoRecord, workdir: Path) -> dict:
    def read(path: str | None) -> dict | None:
        try:
            return json.loads(Path(path).read_text("utf-8")) if path else None
        except (OSError, ValueError):
            return None

    eval_dir = (record.done("eval") or {}).get("report_dir")
    out = write_report(
        record.data,
        workdir / "report.html",
        eval_report=read(str(Path(eval_dir) / "report.json") if eval_dir else None),
        served=read((record.done("serve") or {}).get("path")),
    )
    return {"summary": str(out), "path": str(out)}
