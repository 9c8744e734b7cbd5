"""The whole agent: interview -> decide -> plan -> approval -> the approved steps -> report.

Approval is an `interrupt()` that shows the costed plan and takes approve / reject / a new budget; approving
records the plan's hash and total (tools.approval), and every execution node checks that record before it
runs. `--budget` refuses a plan that costs more. `langgraph.json` names agent/studio.py's build of it.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Iterator, Literal

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs import interview as iv
from graphs import outcome, steps
from graphs.confirm import confirm, route_confirm
from graphs.plan import build_plan
from graphs.protocol import (
    Answer,
    ApprovalRequest,
    Approve,
    PlanLine,
    Reject,
    SetBudget,
    as_interrupt,
    reply_of,
)
from graphs.state import (
    EXECUTION,
    STATE_TYPES,
    STEPS,
    AgentState,
    Context,
    DeployStepResult,
    EvalStepResult,
    Node,
    Report,
    ReportStep,
    approval_of,
    context_of,
    embedder_of,
    plan_of,
    results_of,
)
from tools.approval import approve, plan_hash
from tools.settings import Settings

APPROVE = re.compile(r"^\W*(approve[ds]?|yes|y|ok|okay|go|go ahead|run it|lgtm)\W*$", re.I)
REJECT = re.compile(r"^\W*(reject(ed)?|no|n|stop|cancel|abort|decline)\W*$", re.I)
BUDGET = re.compile(r"^\W*(?:budget\s*)?[=:]?\s*\$?\s*(\d+(?:\.\d+)?)\s*(?:usd|\$)?\W*$", re.I)


def plan_node(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Price the recommendation: the steps, their tools, cost and time, where each sends the data, and the risks."""
    ctx = context_of(runtime)
    plan = build_plan(
        state,
        embedder=_chunk_counter(state, ctx),
        chroma_dir=ctx.settings.chroma_dir,
        policy=ctx.policy,
        interviewer_endpoint=iv.endpoint_of(ctx.interviewer)
        if state.get("interviewer", "offline") != "offline"
        else None,
        machine=ctx.machine,
    )
    return {"plan": plan}


def _chunk_counter(state: AgentState, ctx: Context) -> Any | None:
    """Return the local embedder, whose tokenizer counts the documents' chunks; None when the rag extra is not
    installed (the plan then guesses the chunks from the documents' size).
    """
    if not state.get("docs_dir"):
        return None
    from tools.errors import TunewiseError

    try:
        return embedder_of(ctx, "local")
    except TunewiseError:
        return None


def approval(state: AgentState, runtime: Runtime[Context]) -> dict:
    """Show the costed plan and wait for approve / reject / budget USD; nothing before the interrupt has effects."""
    plan = plan_of(state["plan"])
    assert plan is not None  # the plan node ran before this one
    if not any(s.runnable for s in plan.steps):
        return {"status": "planned"}  # nothing would run, so there is nothing to approve: the plan is the result
    budget = state.get("budget_usd")
    total = plan.total_usd
    request = ApprovalRequest.build(
        session=state.get("session"),
        plan_hash=plan_hash(plan.as_json()),
        total_usd=total,
        total_hours=plan.total_hours,
        budget_usd=budget,
        steps=[PlanLine(step=s.step, cost_usd=s.cost_usd, hours=s.hours, runnable=s.runnable) for s in plan.steps],
        note=state.get("decision_note"),
        data_leaves=plan.data_leaves,
        private=plan.private,
    )
    reply = _decision(reply_of(interrupt(as_interrupt(request))))
    if isinstance(reply, SetBudget):
        within = total <= reply.usd
        return {
            "budget_usd": reply.usd,
            "status": "awaiting_approval" if within else "over_budget",
            "decision_note": f"budget set to ${reply.usd:.2f}; the plan costs ${total:.2f}"
            + ("" if within else ", which is over it: raise the budget or reject"),
        }
    if isinstance(reply, Reject):
        return {"status": "rejected", "decision_note": "rejected: nothing was run and nothing was spent"}
    if isinstance(reply, Answer):
        return {"decision_note": f"could not read {reply.text!r}: answer approve, reject, or budget USD"}
    if budget is not None and total > budget:
        return {
            "status": "over_budget",
            "decision_note": f"refused: the plan costs ${total:.2f}, over the ${budget:.2f} budget; raise the "
            f"budget (budget USD) or reject",
        }
    ctx = context_of(runtime)
    record = approve(plan.as_json(), approved_by=ctx.approved_by)
    return {"approval": record, "status": "approved", "decision_note": None}


def _decision(reply: Answer | Approve | Reject | SetBudget) -> Answer | Approve | Reject | SetBudget:
    """Read a reply in words ("yes", "reject", "budget 80") as the decision it names; other replies as they are. An
    answer that names none stays an Answer, which the node says it could not read.
    """
    if not isinstance(reply, Answer):
        return reply
    text = reply.text.strip()
    if APPROVE.match(text):
        return Approve()
    if REJECT.match(text):
        return Reject()
    m = BUDGET.match(text)
    return SetBudget(usd=float(m.group(1))) if m else reply


def route_approval(
    state: AgentState,
) -> Literal["approval", "synthesize", "split", "index", "train", "eval", "deploy", "report"]:
    """Route after the approval node: to the report when rejected or nothing can run, back to approval until
    approved, then to the first planned step not yet executed.
    """
    if state.get("status") in ("rejected", "planned"):
        return "report"
    if approval_of(state.get("approval")) is None:
        return "approval"
    return _next_step(state)


def _next_step(state: AgentState) -> Literal["synthesize", "split", "index", "train", "eval", "deploy", "report"]:
    done = state.get("executed") or {}
    plan = plan_of(state["plan"])
    planned = [s.step for s in plan.steps] if plan is not None else []
    return next((name for name in EXECUTION if name in planned and name not in done), "report")


def run_dir(state: AgentState, settings: Settings) -> Path:
    """Return the session's run folder, where its steps write: RUNS/plan-SESSION (plan-studio without a session)."""
    return settings.runs_dir / f"plan-{state.get('session') or 'studio'}"


def make_executor(name: str) -> Node:
    """Build the node that runs the approved step `name` through `graphs.steps.run_step`."""

    def node(state: AgentState, runtime: Runtime[Context]) -> dict:
        ctx = context_of(runtime)
        runners = ctx.runners or steps.RUNNERS
        plan = plan_of(state["plan"])
        assert plan is not None  # execution follows an approved plan
        writer = get_stream_writer()
        result = steps.run_step(
            name,
            plan,
            dict(state),
            runners,
            run_dir(state, ctx.settings),
            ctx.settings.chroma_dir,
            writer,
            machine=ctx.machine,
        )
        return {"executed": {name: result}, "status": "executing"}

    node.__name__ = f"execute_{name}"
    node.__doc__ = f"Run the approved '{name}' step through its tool (checks the approval and the ledger first)."
    return node


def report(state: AgentState, runtime: Runtime[Context]) -> dict:
    """Write the report at the end: what ran, the evaluation verdict, where the deployment is and how to serve it."""
    executed = results_of(state.get("executed"))
    status = state.get("status")
    final = status if status in ("rejected", "planned") else "completed"
    evaluation, deployment = executed.get("eval"), executed.get("deploy")
    plan = plan_of(state.get("plan"))
    path = deployment.path if isinstance(deployment, DeployStepResult) else None
    folder = run_dir(state, context_of(runtime).settings)
    timed = steps.Ledger(folder / "ledger.json").read() if executed else {}
    approval = approval_of(state.get("approval"))
    return {
        "status": final,
        "report": Report(
            approach=plan.approach if plan is not None else None,
            steps=[
                ReportStep(
                    step=k,
                    status=v.status,
                    message=v.message,
                    seconds=(timed.get(k) or {}).get("seconds"),
                    summary=outcome.key_result(k, v),
                )
                for k, v in executed.items()
            ],
            eval_verdict=(
                (evaluation.verdict if isinstance(evaluation, EvalStepResult) else None) or evaluation.message
                if evaluation is not None
                else None
            ),
            deployment=path or (deployment.message if deployment is not None else None),
            serve=f"tunewise serve {path}" if path else None,
            starter_prompt=bool(plan is not None and plan.starter_prompt),
            collect=plan.collect if plan is not None else None,
            run_dir=str(folder) if executed else None,
            recommendation=(
                f"{plan.approach}" + (f" · {plan.fine_tune_path}" if plan.fine_tune_path else "")
                if plan is not None
                else None
            ),
            files=outcome.files_of(executed),
            spent_usd=outcome.spent_usd(executed, plan.steps if plan is not None else []) if executed else None,
            approved_usd=approval.total_usd if approval is not None and executed else None,
            **gap_of(evaluation),
        ),
    }


def gap_of(evaluation: Any) -> dict[str, Any]:
    """Return the report's `gap` field when the eval step measured one; {} otherwise, so reports without one keep
    the JSON they had (`--json` leaves unset fields out).
    """
    gap = (evaluation.summary or {}).get("gap") if isinstance(evaluation, EvalStepResult) else None
    return {"gap": gap} if gap else {}


def add_interview(builder: StateGraph[AgentState, Context, AgentState, AgentState]) -> None:
    """Add intake, the five step nodes, the confirm step and decide; decide's outgoing edge is the caller's.

    A correction at the confirm step walks the five steps again: they ask only what the correction made
    relevant and still unknown, then the list is shown again.
    """
    builder.add_node("intake", iv.intake)
    names = [f"step_{key}" for key, _, _ in STEPS]
    for (key, fact, title), name in zip(STEPS, names):
        builder.add_node(name, iv.make_step(key, fact, title))
    builder.add_node("step_openai", iv.make_customer_step())
    builder.add_node("confirm", confirm)
    builder.add_node("decide", iv.decide_node)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", names[0])
    for (key, _, _), name, nxt in zip(STEPS, names, names[1:] + ["step_openai"]):
        builder.add_conditional_edges(name, iv.route_step(key), {"again": name, "next": nxt})
    builder.add_conditional_edges("step_openai", iv.route_customer, {"again": "step_openai", "next": "confirm"})
    builder.add_conditional_edges("confirm", route_confirm, {"decide": "decide", "again": names[0]})


def build_interview(
    checkpointer: Any = None, *, context_schema: type[Context] = Context
) -> CompiledStateGraph[AgentState, Context, AgentState, AgentState]:
    """Compile the interview alone (up to the decision); agent/studio.py gives LangGraph Studio its build."""
    builder = StateGraph(AgentState, context_schema=context_schema)
    add_interview(builder)
    builder.add_edge("decide", END)
    return builder.compile(checkpointer=checkpointer)


def build(
    checkpointer: Any = None, *, context_schema: type[Context] = Context
) -> CompiledStateGraph[AgentState, Context, AgentState, AgentState]:
    """Compile the agent graph; `context_schema` may give the run context defaults (agent/studio.py does)."""
    builder = StateGraph(AgentState, context_schema=context_schema)
    add_interview(builder)
    builder.add_node("plan", plan_node)
    builder.add_node("approval", approval)
    builder.add_edge("decide", "plan")
    builder.add_edge("plan", "approval")
    builder.add_conditional_edges(
        "approval", route_approval, {name: name for name in ["approval", *EXECUTION, "report"]}
    )
    for name in EXECUTION:
        builder.add_node(name, make_executor(name))
        builder.add_conditional_edges(name, _next_step, {n: n for n in [*EXECUTION, "report"]})
    builder.add_node("report", report)
    builder.add_edge("report", END)
    return builder.compile(checkpointer=checkpointer)


def session_saver(conn: Any) -> Any:
    """Return the session checkpointer on `conn`: it may rebuild the typed plan and results, and nothing else."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver

    return SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES))


@contextlib.contextmanager
def open_graph(
    settings: Settings | None = None,
) -> Iterator[CompiledStateGraph[AgentState, Context, AgentState, AgentState]]:
    """Open the agent graph on the session database ($TUNEWISE_HOME/sessions.sqlite); `plan`, `resume` and `demo`
    share it. The database closes when the block ends.
    """
    import sqlite3

    from tools.settings import get_settings

    path = (settings or get_settings()).sessions_db
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        saver = session_saver(conn)
        saver.setup()
        yield build(checkpointer=saver)
    finally:
        conn.close()
