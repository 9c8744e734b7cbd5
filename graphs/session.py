"""One drive loop for every front-end: run the agent graph to its next request, hand the request to an `Answerer`,
resume with its reply, and repeat until the graph ends or nobody is there to answer.

The CLI's terminal view, the demo's auto-approver and the tests' scripted answerer each implement `Answerer`; the
loop, the session's first state, how a session's status is read and how sessions are listed live here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from langgraph.types import Command

from graphs.protocol import (
    Answer,
    ApprovalRequest,
    Approve,
    Confirm,
    Question,
    Reject,
    SetBudget,
    StepFailed,
    StepFinished,
    StepProgress,
    StepStarted,
    as_resume,
    event_of,
    request_of,
)
from graphs.state import AgentState, Context, recommendation_of

Reply = Answer | Approve | Reject | SetBudget
Request = Question | Confirm | ApprovalRequest
StepEventModel = StepStarted | StepProgress | StepFinished | StepFailed


class Answerer(Protocol):
    """Whoever answers the graph's requests; None from any method stops the drive there (the session waits)."""

    def ask(self, question: Question) -> str | None:
        """Answer one interview question in words ('' for Enter: keep or assume)."""
        ...

    def confirm(self, request: Confirm) -> str | None:
        """Accept the confirm list ('') or correct items ("3: we have 400")."""
        ...

    def approve(self, request: ApprovalRequest, values: dict[str, Any]) -> Reply | None:
        """Decide on the costed plan; `values` is the session's state (the plan to show)."""
        ...


@dataclass(frozen=True)
class Outcome:
    """Where a drive stopped: the session, its state, its status and the request it waits on (None: it ended)."""

    session: str
    values: dict[str, Any]
    status: str
    pending: Request | None


def first_state(
    session: str,
    goal: str,
    *,
    interviewer: str,
    data_path: str | None = None,
    docs_dir: str | None = None,
    budget_usd: float | None = None,
    interactive: bool = True,
    preset: dict[str, str] | None = None,
    today: str | None = None,
    measure: dict[str, Any] | None = None,
) -> AgentState:
    """Return a new session's first state: what `plan` and the demo both start from. `measure` asks for step 1 to
    be measured ({"model", "examples", "target"}: `plan --measure-prompt`).
    """
    state: AgentState = {
        "session": session,
        "goal": goal.strip(),
        "data_path": data_path,
        "docs_dir": docs_dir,
        "budget_usd": budget_usd,
        "interactive": interactive,
        "preset": dict(preset or {}),
        "interviewer": interviewer,
        "today": today,
    }
    if measure is not None:
        state["measure"] = measure
    return state


def config_of(session: str) -> dict[str, Any]:
    """Return the LangGraph config that names a session's thread."""
    return {"configurable": {"thread_id": session}}


def pending_of(snapshot: Any) -> Request | None:
    """Return the request a session waits on, typed; None when it waits on nothing."""
    return request_of(snapshot.interrupts[0].value) if snapshot.interrupts else None


def status_of(snapshot: Any) -> str:
    """Return a session's status as the CLI reports it: waiting for an answer or an approval, over budget,
    interrupted mid-run (killed), or what its state says.
    """
    values = snapshot.values or {}
    pending = pending_of(snapshot)
    if isinstance(pending, (Question, Confirm)):
        return "awaiting_answer"
    if pending is not None:
        return "over_budget" if values.get("status") == "over_budget" else "awaiting_approval"
    if snapshot.next:
        return "interrupted"  # killed mid-run: `tunewise resume ID` continues it
    return str(values.get("status") or "interviewing")


def drive(
    graph: Any,
    session: str,
    answerer: Answerer,
    context: Context,
    *,
    start: AgentState | None = None,
    first: Reply | None = None,
    on_event: Callable[[StepEventModel], None] | None = None,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> Outcome:
    """Run the session until it ends or `answerer` has no reply. `start` begins a new session; otherwise the
    session resumes with `first` (a reply given up front, such as `resume --budget 80`) or continues where it
    stopped. Step events go to `on_event`, the graph's node updates to `on_update`.
    """
    config = config_of(session)
    payload: Any = start if start is not None else (Command(resume=as_resume(first)) if first is not None else None)
    while True:
        for mode, chunk in graph.stream(
            payload, config, context=context, durability="sync", stream_mode=["updates", "custom"]
        ):
            if mode == "custom" and on_event is not None:
                event = event_of(chunk)
                if event is not None:
                    on_event(event)
            elif mode == "updates" and on_update is not None and isinstance(chunk, dict):
                on_update(chunk)
        snapshot = graph.get_state(config)
        request = pending_of(snapshot)
        if request is None and snapshot.next:  # stopped without a request (should not happen): go on
            payload = None
            continue
        if request is None:
            break
        reply = _reply(answerer, request, snapshot.values or {})
        if reply is None:
            break
        payload = Command(resume=as_resume(reply))
    return outcome(graph, session)


def _reply(answerer: Answerer, request: Request, values: dict[str, Any]) -> Reply | None:
    if isinstance(request, Question):
        text = answerer.ask(request)
        return None if text is None else Answer(text=text)
    if isinstance(request, Confirm):
        text = answerer.confirm(request)
        return None if text is None else Answer(text=text)
    return answerer.approve(request, values)


def outcome(graph: Any, session: str) -> Outcome:
    """Return where a session stands now."""
    snapshot = graph.get_state(config_of(session))
    return Outcome(
        session=session, values=dict(snapshot.values or {}), status=status_of(snapshot), pending=pending_of(snapshot)
    )


@dataclass(frozen=True)
class SessionRow:
    """One saved session, as `tunewise sessions` lists it."""

    session: str
    updated: str | None
    status: str
    approach: str | None
    goal: str


def sessions(graph: Any) -> Iterator[SessionRow]:
    """List the saved sessions, newest first, through the checkpointer's own API (its newest checkpoint per thread)."""
    seen: set[str] = set()
    latest: list[tuple[str, str]] = []
    for saved in graph.checkpointer.list(None):
        thread = saved.config["configurable"]["thread_id"]
        if thread not in seen:
            seen.add(thread)
            latest.append((saved.checkpoint["id"], thread))
    for _, thread in sorted(latest, reverse=True):  # checkpoint ids are time-ordered (uuid6)
        snapshot = graph.get_state(config_of(thread))
        values = snapshot.values or {}
        rec = recommendation_of(values.get("recommendation"))
        yield SessionRow(
            session=thread,
            updated=snapshot.created_at,
            status=status_of(snapshot),
            approach=rec.approach if rec is not None else None,
            goal=values.get("goal", ""),
        )
