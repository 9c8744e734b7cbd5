"""`tunewise plan`, `tunewise sessions`, `tunewise resume`: the agent's conversation, its sessions, and picking
a session up again (answer, approve, reject, or continue an execution that was killed).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

LLM_MODES = ("auto", "offline", "llm")


def register(app: typer.Typer) -> None:
    """Add `plan`, `sessions` and `resume` to the CLI."""
    app.command("plan")(plan)
    app.command("sessions")(sessions)
    app.command("resume")(resume)


def plan(
    goal_arg: Annotated[
        Optional[str], typer.Argument(metavar="GOAL", help="What you want the model to do, in plain words.")
    ] = None,
    goal: Annotated[Optional[str], typer.Option("--goal", help="The goal, as an option (for scripts).")] = None,
    data: Annotated[
        Optional[Path], typer.Option(help="Training examples (JSONL): validated and counted for step 3.")
    ] = None,
    docs: Annotated[Optional[Path], typer.Option(help="Documents the model should answer from (for RAG).")] = None,
    budget: Annotated[Optional[float], typer.Option(help="Refuse plans that cost more than this many USD.")] = None,
    answer: Annotated[
        Optional[list[str]],
        typer.Option(
            "--answer",
            help="KEY=VALUE answers up front: prompt, problem, data, stability, path, base_model; run settings: max_steps, lr, gradient_checkpointing, eval_examples, max_new_tokens.",
        ),
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve the costed plan without asking (within --budget).")
    ] = False,
    non_interactive: Annotated[
        bool, typer.Option("--non-interactive", help="Ask nothing: what cannot be inferred is assumed and listed.")
    ] = False,
    llm: Annotated[
        str, typer.Option(help="Interviewer: auto (an LLM when one is configured, else offline), offline or llm.")
    ] = "auto",
    json_out: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object (session, status, recommendation, steps, questions, plan)."),
    ] = False,
    today: Annotated[
        Optional[str],
        typer.Option(hidden=True, help="Judge OpenAI's availability as of this ISO date (reproducible plans)."),
    ] = None,
) -> None:
    """Describe a goal; the agent picks prompt engineering, RAG or fine-tuning, prices the plan, and runs it once approved."""
    from agent.console import console
    from tools.errors import TunewiseError

    text = goal or goal_arg
    interactive = not non_interactive
    if not text:
        if not interactive:
            raise TunewiseError("no goal given", hint='pass --goal "what you want the model to do"', exit_code=2)
        text = typer.prompt("What do you want the model to do")
    for path, flag, want_dir in ((data, "--data", False), (docs, "--docs", True)):
        if path is not None and not (path.is_dir() if want_dir else path.is_file()):
            raise TunewiseError(f"{flag}: {'folder' if want_dir else 'file'} not found", path=str(path), exit_code=2)
    preset = _answers(answer)
    interviewer, kept_in = _in_house_reader(_interviewer(llm, None), text, preset, None)
    session = uuid.uuid4().hex[:12]
    state = {
        "session": session,
        "goal": text.strip(),
        "data_path": str(data.resolve()) if data else None,
        "docs_dir": str(docs.resolve()) if docs else None,
        "budget_usd": budget,
        "interactive": interactive,
        "preset": preset,
        "interviewer": interviewer.name,
        "today": _date(today),
    }
    if not json_out:
        why = (
            f" ({kept_in})"
            if kept_in
            else " (no LLM configured: set TUNEWISE_LLM_MODEL to use one)"
            if interviewer.name == "offline" and llm == "auto"
            else ""
        )
        console.print(f"[bold]session[/] {session} · interviewer: {interviewer.name}{why}")
    reading = None
    if interactive:  # someone is waiting for the first question: read with the rules now, the rest meanwhile
        from agent.interviewer import early

        reading = early.start(state["goal"], interviewer, wait=_waiting(json_out))
    elif not json_out and interviewer.name == "offline":
        _load_embedder(_waiting(json_out))  # nothing to ask meanwhile: at least say what the seconds are for
    from graphs.pipeline import open_graph

    with open_graph() as graph:
        _drive(
            graph,
            session,
            state,
            interviewer,
            approve=approve,
            reject=False,
            interactive=interactive,
            json_out=json_out,
            reading=reading,
        )


def _load_embedder(waiting) -> None:
    """Load the local MiniLM the offline reader uses, under the spinner (a terminal) or silently (a pipe)."""
    from agent.console import err_console
    from tools.rag.embedders import get_embedder

    if err_console.is_terminal:
        with waiting():
            get_embedder("local").embed(["warm up"])


def _waiting(json_out: bool):
    """Return what opens the spinner that says why the person waits (the embedder still loading), on stderr and only
    for people: with --json, a context that shows nothing.
    """
    import contextlib

    from agent.console import err_console

    if json_out:
        return contextlib.nullcontext
    return lambda: err_console.status("Reading your goal: loading the local MiniLM model (once per run)…")


def sessions(json_out: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False) -> None:
    """List saved agent sessions, newest first, with their status and recommendation."""
    from agent.console import console, print_json

    rows = []
    from graphs.pipeline import open_graph

    with open_graph() as graph:
        for thread_id, _ in graph.checkpointer.conn.execute(
            "SELECT thread_id, MAX(checkpoint_id) FROM checkpoints GROUP BY thread_id ORDER BY 2 DESC"
        ).fetchall():
            snap = graph.get_state({"configurable": {"thread_id": thread_id}})
            values = snap.values or {}
            rows.append(
                {
                    "session": thread_id,
                    "updated": snap.created_at,
                    "status": _status(snap),
                    "approach": (values.get("recommendation") or {}).get("approach"),
                    "goal": values.get("goal", ""),
                }
            )
    if json_out:
        print_json(json.dumps(rows))
        return
    from rich.table import Table

    table = Table("session", "updated", "status", "approach", "goal")
    for r in rows:
        table.add_row(r["session"], (r["updated"] or "")[:19], r["status"], r["approach"] or "-", r["goal"][:60])
    console.print(table if rows else 'no sessions yet: start one with `tunewise plan "GOAL"`')


def resume(
    session: Annotated[str, typer.Argument(help="Session id from `tunewise sessions`.")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve the pending plan.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject the pending plan: nothing runs.")] = False,
    budget: Annotated[Optional[float], typer.Option(help="Set a new budget in USD for the pending plan.")] = None,
    answer: Annotated[Optional[str], typer.Option("--answer", help="Reply to the pending question.")] = None,
    non_interactive: Annotated[
        bool, typer.Option("--non-interactive", help="Ask nothing; stop at the next question or approval.")
    ] = False,
    llm: Annotated[str, typer.Option(help="Interviewer for any further answers: auto, offline or llm.")] = "auto",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, as `tunewise plan --json` does.")
    ] = False,
) -> None:
    """Pick a session up again: answer its question, approve or reject its plan, or finish an interrupted run."""
    from tools.errors import TunewiseError

    if approve and reject:
        raise TunewiseError("--approve and --reject both given", hint="pick one", exit_code=2)
    from graphs.pipeline import open_graph

    with open_graph() as graph:
        snap = graph.get_state({"configurable": {"thread_id": session}})
        if not snap.values:
            raise TunewiseError(f"no session '{session}'", hint="list them with `tunewise sessions`", exit_code=2)
        interviewer, kept_in = _in_house_reader(
            _interviewer(llm, snap.values.get("interviewer")), "", {}, snap.values.get("facts")
        )
        if kept_in and not json_out:
            from agent.console import console

            console.print(f"interviewer: offline ({kept_in})")
        first = None
        pending = snap.interrupts[0].value if snap.interrupts else None
        if pending and pending["type"] == "approval" and budget is not None:
            first = {"budget": budget}
        elif pending and pending["type"] in ("question", "confirm") and answer is not None:
            first = answer
        _drive(
            graph,
            session,
            None,
            interviewer,
            approve=approve,
            reject=reject,
            interactive=not non_interactive,
            json_out=json_out,
            first=first,
            resuming=True,
        )


# ---- the loop --------------------------------------------------------------------------------------------------


def _drive(
    graph,
    session: str,
    state: dict | None,
    interviewer,
    *,
    approve: bool,
    reject: bool,
    interactive: bool,
    json_out: bool,
    first: Any = None,
    resuming: bool = False,
    reading: Any = None,
) -> None:
    """Run to the next interrupt, answer it (from flags or the terminal), and repeat until the graph stops."""
    from langgraph.types import Command

    from agent.commands import plan_view
    from graphs.state import Context

    config = {"configurable": {"thread_id": session}}
    from agent.interviewer.offline import OfflineInterviewer

    ctx = Context(
        interviewer=interviewer,
        local_reader=interviewer if interviewer.name == "offline" else OfflineInterviewer(),
        approved_by="cli --approve" if approve else "cli",
        reading=reading,
    )
    shown = False
    payload: Any = state if not resuming else (Command(resume=first) if first is not None else None)
    decided_once = False
    while True:
        for mode, chunk in graph.stream(
            payload, config, context=ctx, durability="sync", stream_mode=["updates", "custom"]
        ):
            if not json_out and mode == "custom":
                plan_view.progress(chunk)
        snap = graph.get_state(config)
        pending = snap.interrupts[0].value if snap.interrupts else None
        if pending is None and snap.next:  # stopped without an interrupt (should not happen): continue
            payload = None
            continue
        if pending is None:
            break
        if pending["type"] in ("question", "confirm"):
            if not interactive:
                break
            ask = plan_view.ask if pending["type"] == "question" else plan_view.confirm
            answer = _asking(ask, pending, reading)
            payload = Command(resume=answer)
            continue
        if not json_out and not shown:
            plan_view.show_plan(snap.values)
            shown = True
        if (approve or reject) and not decided_once:
            decided_once = True
            payload = Command(resume="approve" if approve else "reject")
            continue
        if not interactive or decided_once:
            break
        payload = Command(resume=plan_view.ask_approval(pending))
    _finish(graph, config, json_out, shown=shown)


def _asking(ask, pending: dict, reading) -> str:
    """Show a question and wait for the reply; the goal's full reading loads meanwhile (the person's time)."""
    if reading is not None:
        reading.begin()
    return ask(pending)


def _finish(graph, config: dict, json_out: bool, *, shown: bool = False) -> None:
    from agent.commands import plan_view
    from agent.console import print_json
    from tools.errors import TunewiseError

    snap = graph.get_state(config)
    status = _status(snap)
    out = plan_view.result(snap.values, status)
    if json_out:
        print_json(json.dumps(out, default=str))
    else:
        if not shown and snap.values.get("recommendation"):  # every ending shows its result, whatever the status
            plan_view.show_plan(snap.values)
        plan_view.show_result(snap.values, status)
    if status == "over_budget":  # exit 1: the input (the budget) has a problem, as the house style says
        if json_out:
            raise typer.Exit(1)
        raise TunewiseError(
            snap.values.get("decision_note") or "the plan is over the budget",
            exit_code=1,
            hint=f"`tunewise resume {out['session']} --budget USD` to raise it, or --reject",
        )


def _status(snap) -> str:
    values = snap.values or {}
    if snap.interrupts:
        kind = snap.interrupts[0].value.get("type")
        if kind in ("question", "confirm"):
            return "awaiting_answer"
        return "over_budget" if values.get("status") == "over_budget" else "awaiting_approval"
    if snap.next:
        return "interrupted"  # killed mid-run: `tunewise resume ID` continues it
    return values.get("status") or "interviewing"


# ---- plumbing --------------------------------------------------------------------------------------------------


def _date(value: str | None) -> str | None:
    import datetime as dt

    from tools.errors import TunewiseError

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise TunewiseError(f"--today '{value}' is not a date", hint="use YYYY-MM-DD", exit_code=2) from None


def _answers(items: list[str] | None) -> dict[str, str]:
    from graphs.interview import ANSWER_KEYS, EXTRA_KEYS
    from tools.errors import TunewiseError

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise TunewiseError(f"--answer '{item}' is not KEY=VALUE", hint="e.g. --answer data=300", exit_code=2)
        if key.strip().lower() not in ANSWER_KEYS and key.strip() not in EXTRA_KEYS:
            keys = sorted(k for k in ANSWER_KEYS if not k.isdigit())
            raise TunewiseError(
                f"unknown --answer key '{key.strip()}'",
                exit_code=2,
                hint=f"use one of {', '.join(keys)} or {', '.join(EXTRA_KEYS)}",
            )
        out[key.strip()] = value.strip()
    return out


def _in_house_reader(interviewer, goal: str, preset: dict[str, str], facts: dict | None) -> tuple[Any, str | None]:
    """Keep private text from a hosted LLM: when the goal, an --answer or the session's facts say the data must stay
    in-house and the LLM's endpoint is a hosted API, return the offline reader and the reason to show; else the
    interviewer as it is, and None. The goal is read with the rules alone (no model loads, nothing is sent).
    """
    from graphs.interview import ANSWER_KEYS, endpoint_of, private_said
    from tools.privacy.destinations import EndpointPolicy, classify

    url = endpoint_of(interviewer)
    if url is None:
        return interviewer, None
    where, host = classify(url, EndpointPolicy.from_env())
    if where != "hosted API":
        return interviewer, None
    from agent.interviewer.offline import OfflineInterviewer

    rules = OfflineInterviewer(rules_only=True)
    said = private_said(facts) or any(f.fact == "private" and f.value is True for f in rules.extract(goal))
    for key, value in preset.items():
        if ANSWER_KEYS.get(key.lower()) == "private":
            said = said or any(f.fact == "private" and f.value is True for f in rules.extract(value, focus="private"))
    if not said:
        return interviewer, None
    return OfflineInterviewer(), f"the data must stay in-house, and the LLM at {host} is a hosted API"


def _interviewer(mode: str, previous: str | None):
    """offline, or an LLM when asked or (auto) when one is configured (and the session did not start offline)."""
    from agent.interviewer import llm as llm_mode
    from tools.errors import TunewiseError
    from tools.settings import get_settings

    if mode not in LLM_MODES:
        raise TunewiseError(f"--llm must be one of {', '.join(LLM_MODES)}, got '{mode}'", exit_code=2)
    model = get_settings().llm_model
    if mode == "llm" and not llm_mode.configured(model):
        raise TunewiseError(
            "no LLM configured",
            exit_code=2,
            hint="set TUNEWISE_LLM_MODEL and OPENAI_API_KEY (or OPENAI_BASE_URL), or use --llm offline",
        )
    if mode == "llm" or (mode == "auto" and llm_mode.configured(model) and previous != "offline"):
        return llm_mode.build(model)
    from agent.interviewer.offline import OfflineInterviewer

    return OfflineInterviewer()
