"""How `tunewise plan` looks: the questions, the costed plan, the approval prompt, progress and the report (rich),
and the `--json` object. Nothing here decides anything.
"""

from __future__ import annotations

from typing import Any

import typer

from agent.console import console, err_console
from graphs.confirm import modifier_words
from graphs.protocol import (
    ApprovalRequest,
    Confirm,
    Question,
    StepFailed,
    StepFinished,
    StepProgress,
    StepStarted,
    reply_of,
)
from graphs.state import STEPS, approval_of, plan_of, recommendation_of, report_of
from tools.decision import STEP_MODIFIERS, describe_quality

SOURCE_STYLE = {"stated": "green", "inferred": "cyan", "asked": "bold green", "assumed": "yellow"}


def result(values: dict[str, Any], status: str) -> dict[str, Any]:
    """Build the `--json` contract: session, status, recommendation, steps, questions, plan (and report once run,
    approval once approved).
    """
    steps = values.get("steps") or {}
    typed = plan_of(values.get("plan"))
    plan = {**typed.as_json(), "interviewer": values.get("interviewer")} if typed is not None else None
    rec = recommendation_of(values.get("recommendation"))
    out = {
        "session": values.get("session"),
        "status": status,
        "recommendation": rec.model_dump(mode="json") if rec is not None else None,
        "steps": [steps[key] for key, _, _ in STEPS if key in steps],
        "questions": values.get("questions") or [],
        "plan": plan,
    }
    report, approval = report_of(values.get("report")), approval_of(values.get("approval"))
    if report is not None:
        out["report"] = report.model_dump(mode="json")
    if approval is not None:
        out["approval"] = approval.model_dump(mode="json")
    return out


def ask(question: Question) -> str:
    """Ask one question, with the line on why it matters; return the free-text reply ('' for Enter)."""
    if question.retry:
        console.print(f"[yellow]{question.retry}[/]")
    else:
        console.print(f"\n[bold]{question.title}[/]\n{question.question}")
    console.print(f"[dim]Why it matters: {question.why}[/]")
    if question.read:  # asked because the reading was unsure or read two ways: say what was read
        from rich.markup import escape

        console.print(f"[yellow]{escape(question.read)}[/]", highlight=False)
    return typer.prompt("", default="", show_default=False, prompt_suffix="› ")


def confirm(request: Confirm) -> str:
    """Show what was read, as a numbered list with sources, and return the reply: '' (Enter) accepts, "N: ..."
    corrects item N.
    """
    from rich.markup import escape

    if request.retry:
        console.print(f"[yellow]{escape(request.retry)}[/]")
    console.print("\n[bold]Before I decide, this is what I read:[/]")
    for item in request.items:
        style = SOURCE_STYLE.get(item.source, "")
        evidence = f" [dim]“{escape(_short(item.evidence, 90))}”[/]" if item.evidence else ""
        console.print(
            f"  {item.n}. {item.title} [bold]{escape(item.read)}[/] [{style}]({item.source})[/]{evidence}",
            highlight=False,
        )
        if item.doubt:
            console.print(f"     [yellow]? {escape(item.doubt)}[/]", highlight=False)
    console.print("Press Enter if that is right, or correct an item in your words, e.g. “3: we have 400 NDAs”.")
    return typer.prompt("", default="", show_default=False, prompt_suffix="› ")


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def show_plan(values: dict) -> None:
    """Print the five steps as answered, the recommendation, and the costed plan with its starter prompt, index,
    data to collect and risks.
    """
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    rec, plan = recommendation_of(values.get("recommendation")), plan_of(values.get("plan"))
    steps = values.get("steps") or {}
    table = Table("step", "answer", "source", "evidence", title="The five steps", title_justify="left")
    facts = values.get("facts") or {}
    for key, fact, title in STEPS:
        if key in steps:
            s = steps[key]
            style = SOURCE_STYLE.get(s["source"], "")
            answer = "n/a" if s["answer"] is None else str(s["answer"])
            if s["answer"] is not None:  # what qualifies the answer: the examples' quality, a large prompt
                said = [
                    w
                    for m in STEP_MODIFIERS.get(fact, ())
                    if (w := modifier_words(m, (facts.get(m) or {}).get("value")))
                ]
                answer = "; ".join([answer, *said])
            table.add_row(title, answer, f"[{style}]{s['source']}[/]", escape(_short(s["evidence"], 90)))
    console.print(table)
    if rec is not None:
        path = f" · {rec.fine_tune_path}" if rec.fine_tune_path else ""
        console.print(Panel(rec.rationale, title=f"Recommendation: {rec.approach}{path}", title_align="left"))
        if rec.path_note:  # the article's table and the path the plan runs differ: one sentence says why
            console.print(f"[yellow]{escape(rec.path_note)}[/]", highlight=False)
    if plan is None:
        return
    if plan.validation:
        console.print(f"[bold]Data:[/] {plan.validation.summary}")
    if plan.steps:
        costs = Table(
            "step", "tool", "cost", "hours", "data goes to", "what", title="Costed plan", title_justify="left"
        )
        for s in plan.steps:
            what = escape(s.description) + (f" [yellow]({escape(s.blocked_by or '')})[/]" if not s.runnable else "")
            costs.add_row(s.step, s.tool, usd(s.cost_usd), hours(s.hours), data_goes(s.data_flow), what)
        costs.add_row("[bold]total[/]", "", f"[bold]{usd(plan.total_usd)}[/]", hours(plan.total_hours), "", "")
        console.print(costs)
    if plan.data_leaves is not None:
        console.print(leaves_text(plan.data_leaves, plan.private), highlight=False)
    for f in plan.interview_data_flow or []:
        if f.where != "this machine":
            console.print(f"[bold]The interview sent[/] {escape(f.what)} to {escape(f.place())}", highlight=False)
    if plan.starter_prompt:
        sp = plan.starter_prompt
        shots = (
            f"+{len(sp.few_shot)} few-shot examples from your data"
            if sp.few_shot
            else "add 3-5 few-shot examples of your own"
        )
        console.print(Panel(sp.system, title=f"Starter system prompt ({shots})", title_align="left"))
    if plan.index_plan:
        ip = plan.index_plan
        console.print(
            f"[bold]Index:[/] {ip.files} files → ~{ip.estimated_chunks} chunks in '{ip.collection}' "
            f"({ip.embedder}); {ip.refresh}"
        )
    if plan.collect:
        c = plan.collect
        if c.get("quality"):
            held = f"{c['raw']:,} examples" if c.get("raw") else "the examples"
            console.print(
                f"[bold]Collect:[/] {held} are {describe_quality(c['quality'])}, so none counts as good yet; "
                f"{c['fix']} until at least {c['minimum']} are good, and aim for {c['target']}: {c['what']}."
            )
        else:
            console.print(
                f"[bold]Collect:[/] you have {c['have']}; collect at least {max(0, c['minimum'] - c['have'])} more "
                f"to reach {c['minimum']}, and aim for {c['target']}: {c['what']}."
            )
    for risk in plan.risks:
        console.print(f"[yellow]risk[/] {risk}")


def data_goes(flows: Any) -> str:
    """Say where a step sends the data, in one cell: hosted APIs in red, in-house endpoints in cyan."""
    if not flows:
        return "-"
    style = {"hosted API": "bold red", "local endpoint": "cyan", "this machine": "green"}
    return ", ".join(f"[{style[f.where]}]{f.place()}[/]" for f in flows)


def leaves_text(line: str, private: bool | None) -> str:
    """Return the plan's one line on whether data leaves this machine, marked up (red when it goes to a hosted API)."""
    colour = "red" if line.startswith("yes") else "green"
    rule = " [dim](the data must stay in-house: no step may use a hosted API)[/]" if private else ""
    return f"[bold]Data leaves this machine:[/] [{colour}]{line}[/]{rule}"


def usd(value: float) -> str:
    """Format dollars for people: "$0", "<$0.01", else "$1,234.50"."""
    return "$0" if not value else f"${value:,.2f}" if value >= 0.01 else "<$0.01"


def hours(value: float) -> str:
    """Format hours for people: "-" for none, minutes under an hour (at least 1 min), else "2.5 h"."""
    return "-" if not value else f"{value:.1f} h" if value >= 1 else f"{max(1, round(value * 60))} min"


def ask_approval(request: ApprovalRequest) -> Any:
    """Ask to approve the plan's total (and say the budget and any note); return the reply, Reject for Enter."""
    if request.note:
        console.print(f"[yellow]{request.note}[/]")
    if request.data_leaves:
        console.print(leaves_text(request.data_leaves, request.private), highlight=False)
    budget = "" if request.budget_usd is None else f" (budget ${request.budget_usd:.2f})"
    said = typer.prompt(f"Approve {usd(request.total_usd)}{budget}? approve / reject / budget USD", default="reject")
    return reply_of(said)  # words: the approval node reads "yes", "reject" or "budget 80" and says when it cannot


def progress(event: StepStarted | StepProgress | StepFinished | StepFailed) -> None:
    """Print a step's event on stderr: started, done/total, what it says, how it ended."""
    if isinstance(event, StepStarted):
        err_console.print(f"[bold]{event.step}[/]: {'resuming' if event.resuming else 'running'}")
    elif isinstance(event, StepFinished):
        err_console.print(f"[bold]{event.step}[/]: {event.status}")
    elif isinstance(event, StepFailed):
        err_console.print(f"[bold]{event.step}[/]: [red]failed[/] {event.error}", highlight=False)
    elif event.update.total:
        err_console.print(f"  {event.step}: {event.update.done}/{event.update.total}", end="\r")
    elif event.update.message:
        err_console.print(f"  {event.step}: {event.update.message}", markup=False)


def show_result(values: dict, status: str) -> None:
    """Print how the run ended (with the command that goes on from there), each step's outcome, the evaluation
    verdict and how to serve the deployment.
    """
    report = report_of(values.get("report"))
    session = values.get("session")
    if status == "awaiting_approval":
        console.print(f"Plan saved. Approve later with `tunewise resume {session} --approve`.")
    elif status == "awaiting_answer":
        console.print(f"Waiting for an answer: `tunewise resume {session}`.")
    elif status == "interrupted":
        console.print(f"Interrupted mid-run: `tunewise resume {session}` continues without repeating finished steps.")
    elif status == "rejected":
        console.print("Rejected: nothing was run and nothing was spent.")
    elif status == "planned":
        next_steps(values)
    if report is None:
        return
    for step in report.steps:
        console.print(f"  {step.step}: {step.status}" + (f" — {step.message}" if step.message else ""))
    if report.eval_verdict:
        console.print(f"[bold]Evaluation:[/] {report.eval_verdict}")
    if report.serve:
        console.print(f"[bold]Serve it:[/] {report.serve}")


def next_steps(values: dict) -> None:
    """Say what to do next (prompts/next_*.md) for a plan with nothing to run, rather than just that it stopped."""
    from prompts import render

    plan, goal = plan_of(values.get("plan")), (values.get("goal") or "").replace('"', "'")
    approach = plan.approach if plan is not None else None
    if approach == "prompt_engineering":
        text = render("next_prompt_engineering", goal=goal)
    elif approach == "collect_more_data":
        c = (plan.collect if plan is not None else None) or {}
        text = render("next_collect", minimum=c.get("minimum", ""), target=c.get("target", ""), goal=goal)
    else:
        needs = sorted(
            {
                s.blocked_by.removeprefix("needs ")
                for s in (plan.steps if plan is not None else [])
                if not s.runnable and s.blocked_by and s.blocked_by.startswith("needs --")
            }
        )
        text = render("next_inputs", needs=" and ".join(needs) or "the missing inputs", goal=goal)
    console.print(f"[bold]Next:[/] {text.strip()}", highlight=False)
