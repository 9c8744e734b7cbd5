"""The whole agent: interview -> decide -> plan -> approval -> the approved steps -> report.

Approval is an `interrupt()` that shows the costed plan and takes approve / reject / a new budget; approving
records the plan's hash and total (tools.approval), and every execution node checks that record before it
runs. `--budget` refuses a plan that costs more. `graph` is what `langgraph.json` names.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, Iterator, Literal

from langgraph.config import get_stream_writer
from langgraph.graph import END, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs import steps as execute
from graphs.interview import add_interview
from graphs.plan import build_plan
from graphs.state import AgentState, Context
from tools.approval import approve, plan_hash

EXECUTION = ["split", "index", "train", "eval", "deploy"]
APPROVE = re.compile(r"^\W*(approve[ds]?|yes|y|ok|okay|go|go ahead|run it|lgtm)\W*$", re.I)
REJECT = re.compile(r"^\W*(reject(ed)?|no|n|stop|cancel|abort|decline)\W*$", re.I)
BUDGET = re.compile(r"^\W*(?:budget\s*)?[=:]?\s*\$?\s*(\d+(?:\.\d+)?)\s*(?:usd|\$)?\W*$", re.I)


def plan_node(state: AgentState) -> dict:
    """Price the recommendation: the steps, their tools, cost and time, and the risks."""
    return {"plan": build_plan(state)}


def approval(state: AgentState, runtime: Runtime[Context]) -> dict:
    """Show the costed plan and wait for approve / reject / budget USD; nothing before the interrupt has effects."""
    plan = state["plan"]
    if not any(s.get("runnable", True) for s in plan["steps"]):
        return {"status": "planned"}  # nothing would run, so there is nothing to approve: the plan is the result
    budget = state.get("budget_usd")
    total = plan["total_usd"]
    reply = interrupt(
        {
            "type": "approval",
            "session": state.get("session"),
            "plan_hash": plan_hash(plan),
            "total_usd": total,
            "total_hours": plan["total_hours"],
            "budget_usd": budget,
            "within_budget": budget is None or total <= budget,
            "steps": [
                {"step": s["step"], "cost_usd": s["cost_usd"], "hours": s["hours"], "runnable": s.get("runnable", True)}
                for s in plan["steps"]
            ],
            "note": state.get("decision_note"),
            "options": ["approve", "reject", "budget USD"],
        }
    )
    answer, new_budget = _parse(reply)
    if new_budget is not None:
        within = total <= new_budget
        return {
            "budget_usd": new_budget,
            "status": "awaiting_approval" if within else "over_budget",
            "decision_note": f"budget set to ${new_budget:.2f}; the plan costs ${total:.2f}"
            + ("" if within else ", which is over it: raise the budget or reject"),
        }
    if answer == "reject":
        return {"status": "rejected", "decision_note": "rejected: nothing was run and nothing was spent"}
    if answer != "approve":
        return {"decision_note": f"could not read {reply!r}: answer approve, reject, or budget USD"}
    if budget is not None and total > budget:
        return {
            "status": "over_budget",
            "decision_note": f"refused: the plan costs ${total:.2f}, over the ${budget:.2f} budget; raise the "
            f"budget (budget USD) or reject",
        }
    ctx = runtime.context if runtime is not None and runtime.context is not None else Context()
    record = approve(plan, approved_by=ctx.approved_by)
    return {"approval": record.model_dump(), "status": "approved", "decision_note": None}


def _parse(reply: Any) -> tuple[str | None, float | None]:
    if isinstance(reply, dict):
        if reply.get("budget") is not None:
            return None, float(reply["budget"])
        reply = reply.get("decision", "")
    text = str(reply).strip()
    if APPROVE.match(text):
        return "approve", None
    if REJECT.match(text):
        return "reject", None
    m = BUDGET.match(text)
    return (None, float(m.group(1))) if m else (None, None)


def route_approval(state: AgentState) -> Literal["approval", "split", "index", "train", "eval", "deploy", "report"]:
    if state.get("status") in ("rejected", "planned"):
        return "report"
    if not state.get("approval"):
        return "approval"
    return _next_step(state)


def _next_step(state: AgentState) -> Literal["split", "index", "train", "eval", "deploy", "report"]:
    done = state.get("executed") or {}
    planned = [s["step"] for s in state["plan"]["steps"]]
    return next((name for name in EXECUTION if name in planned and name not in done), "report")


def run_dir(state: AgentState) -> Path:
    from tools.settings import get_settings

    return get_settings().runs_dir / f"plan-{state.get('session') or 'studio'}"


def make_executor(name: str):
    def node(state: AgentState, runtime: Runtime[Context]) -> dict:
        ctx = runtime.context if runtime is not None and runtime.context is not None else Context()
        runners = ctx.runners or execute.RUNNERS
        writer = get_stream_writer()
        result = execute.run_step(name, state, runners, run_dir(state), writer)
        return {"executed": {name: result}, "status": "executing"}

    node.__name__ = f"execute_{name}"
    node.__doc__ = f"Run the approved '{name}' step through its tool (checks the approval and the ledger first)."
    return node


def report(state: AgentState) -> dict:
    """The end: what ran, the evaluation verdict, where the deployment is and how to serve it."""
    executed = state.get("executed") or {}
    status = state.get("status")
    final = status if status in ("rejected", "planned") else "completed"
    evaluation, deployment = executed.get("eval") or {}, executed.get("deploy") or {}
    plan = state.get("plan") or {}
    return {
        "status": final,
        "report": {
            "approach": plan.get("approach"),
            "steps": [{"step": k, "status": v.get("status"), "message": v.get("message")} for k, v in executed.items()],
            "eval_verdict": evaluation.get("verdict") or evaluation.get("message"),
            "deployment": deployment.get("path") or deployment.get("message"),
            "serve": f"tunewise serve {deployment['path']}" if deployment.get("path") else None,
            "starter_prompt": bool(plan.get("starter_prompt")),
            "collect": plan.get("collect"),
            "run_dir": str(run_dir(state)) if executed else None,
        },
    }


def build(checkpointer=None):
    builder = StateGraph(AgentState, context_schema=Context)
    add_interview(builder)
    builder.add_node("plan", plan_node)
    builder.add_node("approval", approval)
    builder.add_edge("decide", "plan")
    builder.add_edge("plan", "approval")
    targets = {name: name for name in ["approval", *EXECUTION, "report"]}
    builder.add_conditional_edges("approval", route_approval, targets)
    for name in EXECUTION:
        builder.add_node(name, make_executor(name))
        builder.add_conditional_edges(name, _next_step, {n: n for n in [*EXECUTION, "report"]})
    builder.add_node("report", report)
    builder.add_edge("report", END)
    return builder.compile(checkpointer=checkpointer)


graph = build()


@contextlib.contextmanager
def open_graph() -> Iterator[Any]:
    """The agent graph on the session database ($TUNEWISE_HOME/sessions.sqlite); `plan`, `resume` and `demo` share it."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from tools.settings import get_settings

    path = get_settings().sessions_db
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield build(checkpointer=saver)
    finally:
        conn.close()
