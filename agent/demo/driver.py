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
from typing import Any, Callable

from agent.demo.record import DemoOptions, DemoRecord, write_report
from graphs.state import plan_of, result_of, results_of
from tools.defaults import FINISHED_TRAINING
from tools.errors import TunewiseError

Emit = Callable[[dict], None]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXECUTION = ["split", "index", "train", "eval", "deploy"]
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
SMOKE_SHAPE = dict(
    hidden_size=128, layers=4, heads=4, kv_heads=2, intermediate_size=384, vocab_size=2048, max_positions=4096
)  # room for four retrieved passages plus few-shot turns


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
        raise TunewiseError(
            "exists and is not a tunewise demo folder; refusing to write into it",
            path=str(workdir),
            hint="pick a new or empty --workdir",
            exit_code=2,
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
        raise TunewiseError(
            f"--base-model '{name}' is neither a model folder (with config.json) nor in the Hugging Face cache",
            hint="pass a local model folder, or download it first with `hf download "
            "NAME`; without --base-model the demo builds a smoke-test model",
            exit_code=2,
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
        if not record.done(name):
            break
        emit({**record.done(name), "event": "stage", "stage": name, "earlier": True})
    else:
        return
    from langgraph.types import Command

    from agent.interviewer.offline import OfflineInterviewer
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
        config = {"configurable": {"thread_id": session}} if session else None
        ctx = Context(interviewer=OfflineInterviewer(), approved_by="tunewise demo")
        payload: Any = None
        if not session or not graph.get_state(config).values:
            session = uuid.uuid4().hex[:12]
            config = {"configurable": {"thread_id": session}}
            record.set("session", session)
            payload = {
                "session": session,
                "goal": goal.strip(),
                "data_path": str(chat),
                "docs_dir": str(docs),
                "budget_usd": None,
                "interactive": False,
                "preset": preset,
                "interviewer": "offline",
                "today": None,
            }
        if not record.done("plan"):
            emit({"event": "stage", "stage": "plan", "status": "running"})
        timer = {"plan": time.perf_counter()}
        while True:
            _stream(graph, payload, config, ctx, record, timer, emit)
            snap = graph.get_state(config)
            pending = snap.interrupts[0].value if snap.interrupts else None
            if pending is None:
                break
            if pending["type"] != "approval":
                raise TunewiseError(
                    f"the agent asked a question the demo cannot answer: {pending.get('question')}",
                    hint=f"answer it with `tunewise resume {session}`",
                )
            if not record.done("plan"):
                _planned(record, snap.values, pending, timer, emit)
            payload = Command(resume="approve")  # the agent's own approval node records it, with the plan's hash
        values = graph.get_state(config).values
    from tools.settings import get_settings

    if values.get("status") != "completed":
        raise TunewiseError(
            f"the agent's session ended '{values.get('status')}': {values.get('decision_note')}",
            hint=f"see `TUNEWISE_HOME={get_settings().home} tunewise sessions`",
        )
    approval = values.get("approval") or {}
    plan = record.data["stages"]["plan"]
    plan.update(approved_by=approval.get("approved_by"), approved_at=approval.get("approved_at"))
    record.set("stages", record.data["stages"])
    for name in EXECUTION:  # the graph's own results, also for steps whose events an earlier run never saw
        if not record.done(name):
            typed = results_of(values.get("executed")).get(name)
            result = typed.model_dump(mode="json") if typed else {"status": "skipped", "message": "not in the plan"}
            seconds = time.perf_counter() - timer.get(name, time.perf_counter())
            entry = record.finish(name, seconds, **_step_info(name, result))
            emit({"event": "stage", "stage": name, **entry})


def _planned(record: DemoRecord, values: dict, pending: dict, timer: dict, emit: Emit) -> None:
    rec, plan = values["recommendation"], plan_of(values["plan"])
    assert plan is not None  # the approval interrupt follows the plan node
    path = f" ({rec['fine_tune_path']})" if rec.get("fine_tune_path") else ""
    entry = record.finish(
        "plan",
        time.perf_counter() - timer["plan"],
        approach=rec["approach"],
        fine_tune_path=rec.get("fine_tune_path"),
        rationale=rec["rationale"],
        total_usd=plan.total_usd,
        plan_hash=pending["plan_hash"],
        session=values["session"],
        steps=[s.step for s in plan.steps],
        summary=f"{rec['approach']}{path}, ${plan.total_usd:.2f}, approved by the demo; session {values['session']}",
    )
    emit({"event": "stage", "stage": "plan", **entry})


def _stream(graph, payload, config, ctx, record: DemoRecord, timer: dict, emit: Emit) -> None:
    current = None
    for mode, chunk in graph.stream(payload, config, context=ctx, durability="sync", stream_mode=["updates", "custom"]):
        if mode == "custom" and isinstance(chunk, dict):
            if chunk.get("event") == "step" and chunk.get("status") in ("running", "resuming"):
                current = chunk["step"]
                timer[current] = time.perf_counter()
                emit({"event": "stage", "stage": current, "status": chunk["status"]})
            elif chunk.get("event") == "progress" and current:
                emit(
                    {
                        "event": "progress",
                        "stage": current,
                        "done": chunk.get("done"),
                        "total": chunk.get("total"),
                        "what": chunk.get("stage") or chunk.get("message"),
                    }
                )
        elif mode == "updates" and isinstance(chunk, dict):
            for name, update in chunk.items():
                typed = ((update or {}).get("executed") or {}).get(name) if name in EXECUTION else None
                if typed is not None and not record.done(name):
                    result = result_of(name, typed).model_dump(mode="json")
                    entry = record.finish(
                        name, time.perf_counter() - timer.get(name, time.perf_counter()), **_step_info(name, result)
                    )
                    emit({"event": "stage", "stage": name, **entry})


def _step_info(name: str, result: dict) -> dict:
    """Return what the demo keeps of a step's result: its artefacts and one line to show."""
    status = "done" if result.get("status") in ("done", *FINISHED_TRAINING) else "skipped"
    info: dict[str, Any] = {"status": status, "agent_status": result.get("status")}
    summary = result.get("summary") if isinstance(result.get("summary"), dict) else {}
    if result.get("message"):
        info["summary"] = result["message"]
    elif name == "split":
        info.update(
            train=result["train"],
            eval=result["eval"],
            summary=f"{summary.get('train_examples')} train / {summary.get('eval_examples')} held out",
        )
    elif name == "index":
        info.update(
            collection=result["collection"],
            db=result["db"],
            chunks=summary.get("chunks_total"),
            summary=f"{summary.get('chunks_total')} chunks from {summary.get('files_seen')} pages in "
            f"'{result['collection']}'",
        )
    elif name == "train":
        info.update(
            adapter=result.get("adapter"),
            run_dir=result.get("run_dir"),
            summary=f"{summary.get('steps')} steps on {summary.get('device')}, final loss "
            f"{summary.get('final_loss')}, adapter at {result.get('adapter')}",
        )
    elif name == "eval":
        info.update(
            report_dir=result["report_dir"],
            report_html=str(Path(result["report_dir"]) / "report.html"),
            winner=result.get("winner"),
            summary=result.get("verdict"),
        )
    elif name == "deploy":
        info.update(path=result["path"], name=result.get("name"), summary=f"deployment at {result['path']}")
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
