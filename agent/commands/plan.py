"""`tunewise plan`, `tunewise sessions`, `tunewise resume`: the agent's conversation, its sessions, and picking
a session up again (answer, approve, reject, or continue an execution that was killed).
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, ContextManager, Optional

import typer

from graphs.protocol import Answer, ApprovalRequest, Approve, Confirm, Question, Reject
from tools.errors import TunewiseError, UsageError

if TYPE_CHECKING:
    from graphs.session import Reply
    from graphs.state import AgentState
    from graphs.state import Interviewer as Reader

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
            help="KEY=VALUE answers up front: prompt, problem, data, stability, path, base_model, teacher, judge; run settings: drafts, max_steps, lr, gradient_checkpointing, eval_examples, max_new_tokens.",
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
    measure_prompt: Annotated[
        bool,
        typer.Option(
            "--measure-prompt",
            help="Answer step 1 by measuring: score the base and the prompted model on held-out examples of --data "
            "(priced first; a paid model needs a --budget that covers it).",
        ),
    ] = False,
    prompt_model: Annotated[
        Optional[str],
        typer.Option(help="The model step 1 measures: openai:MODEL[@URL] or hf:PATH [default: --answer base_model]."),
    ] = None,
    measure_examples: Annotated[int, typer.Option(min=1, help="Held-out examples step 1 is measured on.")] = 50,
    target: Annotated[
        Optional[str],
        typer.Option(help="Your target on the task's metric, e.g. 95% or 0.95 [default: read from the goal]."),
    ] = None,
) -> None:
    """Describe a goal; the agent picks prompt engineering, RAG or fine-tuning, prices the plan, and runs it once approved."""
    from agent.console import console

    text = goal or goal_arg
    interactive = not non_interactive
    if not text:
        if not interactive:
            raise UsageError("no goal given", hint='pass --goal "what you want the model to do"')
        text = typer.prompt("What do you want the model to do")
    for path, flag, want_dir in ((data, "--data", False), (docs, "--docs", True)):
        if path is not None and not (path.is_dir() if want_dir else path.is_file()):
            raise UsageError(f"{flag}: {'folder' if want_dir else 'file'} not found", path=str(path))
    preset = _answers(answer)
    offer = interactive and not json_out and data is not None and bool(prompt_model or preset.get("base_model"))
    measure = _measure_request(measure_prompt or offer, prompt_model, measure_examples, target, preset, text, data)
    if measure is not None and interactive and not json_out:  # priced, then run only after a yes
        measure = _offer(measure, data, budget, text, preset)
    interviewer, kept_in = _in_house_reader(_interviewer(llm, None), text, preset, None)
    session = uuid.uuid4().hex[:12]
    from graphs.session import first_state

    state = first_state(
        session,
        text,
        interviewer=interviewer.name,
        data_path=str(data.resolve()) if data else None,
        docs_dir=str(docs.resolve()) if docs else None,
        budget_usd=budget,
        interactive=interactive,
        preset=preset,
        today=_date(today),
        measure=measure,
    )
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


def _load_embedder(waiting: Callable[[], ContextManager[Any]]) -> None:
    """Load the local MiniLM the offline reader uses, under the spinner (a terminal) or silently (a pipe)."""
    from agent.console import err_console
    from tools.rag.embedders import get_embedder

    if err_console.is_terminal:
        with waiting():
            get_embedder("local").embed(["warm up"])


def _waiting(json_out: bool) -> Callable[[], ContextManager[Any]]:
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
    from graphs.pipeline import open_graph
    from graphs.session import sessions as saved

    with open_graph() as graph:
        found = list(saved(graph))
    if json_out:
        print_json(json.dumps([dataclasses.asdict(r) for r in found]))
        return
    from rich.table import Table

    table = Table("session", "updated", "status", "approach", "goal")
    for r in found:
        table.add_row(r.session, (r.updated or "")[:19], r.status, r.approach or "-", r.goal[:60])
    console.print(table if found else 'no sessions yet: start one with `tunewise plan "GOAL"`')


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
    if approve and reject:
        raise UsageError("--approve and --reject both given", hint="pick one")
    from graphs.pipeline import open_graph

    with open_graph() as graph:
        snap = graph.get_state({"configurable": {"thread_id": session}})
        if not snap.values:
            raise UsageError(f"no session '{session}'", hint="list them with `tunewise sessions`")
        interviewer, kept_in = _in_house_reader(
            _interviewer(llm, snap.values.get("interviewer")), "", {}, snap.values.get("facts")
        )
        if kept_in and not json_out:
            from agent.console import console

            console.print(f"interviewer: offline ({kept_in})")
        from graphs.protocol import ApprovalRequest, SetBudget
        from graphs.session import pending_of

        pending = pending_of(snap)
        first: Reply | None = None
        if isinstance(pending, ApprovalRequest) and budget is not None:
            first = SetBudget(usd=budget)
        elif pending is not None and not isinstance(pending, ApprovalRequest) and answer is not None:
            first = Answer(text=answer)
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
        )


# ---- the loop --------------------------------------------------------------------------------------------------


def _drive(
    graph: Any,
    session: str,
    state: AgentState | None,
    interviewer: Reader,
    *,
    approve: bool,
    reject: bool,
    interactive: bool,
    json_out: bool,
    first: Reply | None = None,
    reading: Any = None,
) -> None:
    """Drive the session (graphs.session.drive) with the terminal as its Answerer, then print how it ended."""
    from agent.interviewer.offline import OfflineInterviewer
    from graphs.session import drive
    from graphs.state import Context

    ctx = Context(
        interviewer=interviewer,
        local_reader=interviewer if interviewer.name == "offline" else OfflineInterviewer(),
        approved_by="cli --approve" if approve else "cli",
        reading=reading,
        measure=_measurer(json_out),
    )
    terminal = Terminal(approve=approve, reject=reject, interactive=interactive, json_out=json_out, reading=reading)
    from agent.console import err_console
    from agent.run_view import RunView
    from graphs.steps import AwaitingReview

    try:
        with RunView(err_console) as view:  # the approved steps, drawn as `train` and `demo` draw theirs
            drive(graph, session, terminal, ctx, start=state, first=first, on_event=None if json_out else view.event)
    except AwaitingReview as stop:
        if not (interactive and not json_out and _review_now(stop)):
            raise
        with RunView(err_console) as view:  # reviewed: the run goes on from the split
            drive(graph, session, terminal, ctx, start=None, on_event=view.event)
    _finish(graph, session, json_out, shown=terminal.shown)


def _review_now(stop: Any) -> bool:
    """Offer the drafts' review at once, in this terminal; True when it was done and nothing is left pending."""
    import sys

    from agent.console import console
    from agent.review_view import Reviewer

    if not sys.stdin.isatty():
        return False
    console.print(f"{stop.message}.", markup=False, soft_wrap=True)
    if not typer.confirm("Review them now, one at a time?", default=True):
        return False
    reviewer = Reviewer.open(Path(stop.review))
    reviewer.run(console)
    return not any(r.get("status", "pending") == "pending" for r in reviewer.rows)


class Terminal:
    """The person at the terminal as the drive loop's Answerer, with the flags given up front: `--approve` or
    `--reject` decide the first approval; `--non-interactive` asks nothing (the session then waits).
    """

    def __init__(self, *, approve: bool, reject: bool, interactive: bool, json_out: bool, reading: Any) -> None:
        self.decision: Reply | None = Approve() if approve else Reject() if reject else None
        self.interactive = interactive
        self.json_out = json_out
        self.reading = reading
        self.shown = False  # the costed plan is printed once, before the first approval
        self.decided = False

    def ask(self, question: Question) -> str | None:
        """Show a question and wait for the reply; the goal's full reading loads meanwhile (the person's time)."""
        from agent.commands import plan_view

        if not self.interactive:
            return None
        if self.reading is not None:
            self.reading.begin()
        return plan_view.ask(question)

    def confirm(self, request: Confirm) -> str | None:
        """Show what was read and take Enter or corrections."""
        from agent.commands import plan_view

        if not self.interactive:
            return None
        if self.reading is not None:
            self.reading.begin()
        return plan_view.confirm(request)

    def approve(self, request: ApprovalRequest, values: dict[str, Any]) -> Reply | None:
        """Show the costed plan once; reply with the flag's decision the first time, else ask (when interactive)."""
        from agent.commands import plan_view

        if not self.json_out and not self.shown:
            plan_view.show_plan(values)
            self.shown = True
        if self.decision is not None:
            decision, self.decision, self.decided = self.decision, None, True
            return decision
        if self.decided or not self.interactive:  # a flagged decision is the only one: stop after it
            return None
        return plan_view.ask_approval(request)


def _finish(graph: Any, session: str, json_out: bool, *, shown: bool = False) -> None:
    from agent.commands import plan_view
    from agent.console import print_json
    from graphs.session import outcome

    done = outcome(graph, session)
    out = plan_view.result(done.values, done.status)
    if json_out:
        print_json(json.dumps(out, default=str))
    else:
        if not shown and done.values.get("recommendation"):  # every ending shows its result, whatever the status
            plan_view.show_plan(done.values)
        plan_view.show_result(done.values, done.status)
    if done.status == "over_budget":  # exit 1: the input (the budget) has a problem, as the house style says
        if json_out:
            raise typer.Exit(1)
        raise TunewiseError(
            done.values.get("decision_note") or "the plan is over the budget",
            exit_code=1,
            hint=f"`tunewise resume {out['session']} --budget USD` to raise it, or --reject",
        )


# ---- step 1 measured -------------------------------------------------------------------------------------------


def _measure_request(
    asked: bool,
    model: str | None,
    examples: int,
    target: str | None,
    preset: dict[str, str],
    goal: str,
    data: Path | None,
) -> dict[str, Any] | None:
    """Return what `--measure-prompt` asks for ({"model", "examples", "target"}), checked before anything runs."""
    if not asked:
        if model or target:
            raise UsageError("--prompt-model and --target go with --measure-prompt")
        return None
    if data is None:
        raise UsageError("--measure-prompt needs --data FILE", hint="step 1 is measured on held-out examples of it")
    from tools.models.spec import parse_spec

    named = model or preset.get("base_model")
    if not named:
        raise UsageError(
            "--measure-prompt needs a model to measure",
            hint="pass --prompt-model openai:MODEL, openai:MODEL@URL or hf:PATH (or --answer base_model=PATH)",
        )
    spec = parse_spec(named, bare="hf")
    if spec.prompted or spec.rag:
        raise UsageError(f"--prompt-model {named}: name the bare model; step 1 adds the prompt itself")
    if target is not None:
        goal_target: float | None = _fraction(target)
    else:
        from agent.interviewer.scores import said_target

        goal_target = said_target(goal)
    return {"model": str(spec), "examples": examples, "target": goal_target}


def _offer(
    measure: dict[str, Any], data: Path | None, budget: float | None, goal: str, preset: dict[str, str]
) -> dict[str, Any] | None:
    """Offer to measure step 1, with what it costs in dollars and minutes; return the request after a yes, else None.

    A hosted model is offered only where the goal or an --answer says the data may leave: unsaid, it stays in-house,
    and the graph would refuse the measurement after the yes (graphs/interview.measure_step_1).
    """
    from agent.commands.plan_view import usd
    from agent.console import console
    from graphs.interview import validation_summary
    from tools.costs.this_machine import eval_here, in_words
    from tools.machine import probe
    from tools.measure.prompt import MIN_EXAMPLES, MeasureInput, billed, price

    assert data is not None  # a measurement is asked for only with --data
    summary = validation_summary(str(data.resolve()))
    if summary.valid_examples < MIN_EXAMPLES:
        return None  # too few examples to measure: step 1 is asked, as without the offer
    model, n = measure["model"], measure["examples"]
    if _hosted(model) and not _may_leave(goal, preset):
        console.print(
            f"[yellow]Step 1 is not measured on {model}: it is a hosted API, and the data stays in-house unless you "
            f"say it may go (measure with a local model: --prompt-model hf:PATH or openai:MODEL@URL).[/]",
            highlight=False,
        )
        return None
    inp = MeasureInput(data=data, model=model, held_out=n, examples=n, target=measure["target"], out=Path("."))
    cost = price(inp, summary.tokens_per_example_mean)
    if model.startswith("hf:"):
        here = eval_here(
            probe(),
            base_model=model[3:],
            generations=2 * n,
            new_tokens=256,
            prompt_tokens=summary.tokens_per_example_mean,
        )
        took = in_words(here.hours_here) if here is not None and here.hours_here is not None else "a few minutes"
    else:
        took = in_words(n * 2 * 1.5 / 4 / 3600)  # about 1.5 s a request, 4 in flight
    target = f"; your target: {measure['target']:.0%}" if measure["target"] is not None else ""
    console.print(
        f"\n[bold]1. Can a better prompt solve it?[/] I can measure it instead of asking: score {model} with and "
        f"without a prompt (system prompt + 5 examples from your data) on {n} held-out examples of {data.name}"
        f"{target}. Cost {usd(cost)}, {took}.",
        highlight=False,
    )
    if billed(model) and (budget is None or cost > budget):
        console.print("[yellow]It bills OpenAI: pass --budget USD that covers it to measure.[/]")
        return None
    return measure if typer.confirm("Measure it now?", default=True) else None


def _hosted(model: str) -> bool:
    """Tell whether a model spec sends what it is given to a hosted API (tools/privacy/destinations)."""
    from tools.privacy.destinations import EndpointPolicy, flow

    return flow(model, "the held-out examples", EndpointPolicy.from_env()).leaves


def _may_leave(goal: str, preset: dict[str, str]) -> bool:
    """Tell whether the goal or an --answer says the data may go to OpenAI (read by the rules; nothing is sent)."""
    from agent.interviewer.offline import OfflineInterviewer
    from graphs.interview import ANSWER_KEYS

    rules = OfflineInterviewer(rules_only=True)
    said = [f for f in rules.extract(goal) if f.fact == "private"]
    for key, value in preset.items():
        if ANSWER_KEYS.get(key.lower()) == "private":
            said += [f for f in rules.extract(value, focus="private") if f.fact == "private"]
    return bool(said) and said[-1].value is False


def _fraction(value: str) -> float:
    """Read a target: "95%", "95" or "0.95" -> 0.95."""
    text = value.strip().rstrip("%")
    try:
        number = float(text)
    except ValueError:
        raise UsageError(f"--target '{value}' is not a number", hint="e.g. --target 95% or --target 0.95") from None
    number = number / 100 if number > 1 or value.strip().endswith("%") else number
    if not 0 <= number <= 1:
        raise UsageError(f"--target '{value}' is not between 0 and 100%")
    return number


def _measurer(json_out: bool) -> Callable[..., Any]:
    """Return what measures step 1 (tools/measure/prompt.run) with this process's clients and progress display."""

    def measure(inp: Any, cost: float) -> Any:
        from agent.console import err_console
        from agent.run_view import RunView
        from tools.builders import generator_loader
        from tools.measure.prompt import run
        from tools.rag.embedders import get_embedder

        view = None if json_out else RunView(err_console)
        if view is not None:
            view.start("measure", what=f"step 1: base and prompted {inp.model} on {inp.examples} held-out examples")
        try:
            done = run(
                inp,
                load=generator_loader(),
                embedder=get_embedder("local"),
                cost_usd=cost,
                progress=(lambda u: view.update("measure", u)) if view is not None else None,
            )
        except BaseException:
            if view is not None:
                view.close()
            raise
        if view is not None:
            view.finish("measure", "done", summary=done.sentence())
        return done

    return measure


# ---- plumbing --------------------------------------------------------------------------------------------------


def _date(value: str | None) -> str | None:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise UsageError(f"--today '{value}' is not a date", hint="use YYYY-MM-DD") from None


def _answers(items: list[str] | None) -> dict[str, str]:
    from graphs.interview import ANSWER_KEYS, EXTRA_KEYS

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--answer '{item}' is not KEY=VALUE", hint="e.g. --answer data=300")
        if key.strip().lower() not in ANSWER_KEYS and key.strip() not in EXTRA_KEYS:
            keys = sorted(k for k in ANSWER_KEYS if not k.isdigit())
            raise UsageError(
                f"unknown --answer key '{key.strip()}'",
                hint=f"use one of {', '.join(keys)} or {', '.join(EXTRA_KEYS)}",
            )
        out[key.strip()] = value.strip()
    return out


def _in_house_reader(
    interviewer: Reader, goal: str, preset: dict[str, str], facts: dict[str, Any] | None
) -> tuple[Reader, str | None]:
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


def _interviewer(mode: str, previous: str | None) -> Reader:
    """offline, or an LLM when asked or (auto) when one is configured (and the session did not start offline)."""
    from agent.interviewer import llm as llm_mode
    from tools.settings import get_settings

    if mode not in LLM_MODES:
        raise UsageError(f"--llm must be one of {', '.join(LLM_MODES)}, got '{mode}'")
    model = get_settings().llm_model
    if mode == "llm" and not llm_mode.configured(model):
        raise UsageError(
            "no LLM configured",
            hint="set TUNEWISE_LLM_MODEL and OPENAI_API_KEY (or OPENAI_BASE_URL), or use --llm offline",
        )
    if model is not None and (
        mode == "llm" or (mode == "auto" and llm_mode.configured(model) and previous != "offline")
    ):
        return llm_mode.build(model)
    from agent.interviewer.offline import OfflineInterviewer

    return OfflineInterviewer()
