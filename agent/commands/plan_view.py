"""How `tunewise plan` looks: the questions, the costed plan, the approval prompt, progress and the report (rich),
and the `--json` object. Nothing here decides anything.
"""

from __future__ import annotations

from typing import Any

import typer

from agent.console import console
from agent.run_view import shorten
from graphs.confirm import modifier_words
from graphs.protocol import ApprovalRequest, Confirm, Question, reply_of
from graphs.state import STEPS, Report, approval_of, plan_of, recommendation_of, report_of
from tools.decision import STEP_MODIFIERS, describe_quality

SOURCE_STYLE = {
    "stated": "green",
    "inferred": "cyan",
    "asked": "bold green",
    "assumed": "yellow",
    "measured": "bold magenta",
}


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
    if report is not None:  # a report saved before a field existed gives the JSON it gave then
        out["report"] = report.model_dump(mode="json", exclude_unset=True)
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
    if request.note:
        console.print(f"[yellow]{escape(request.note)}[/]")
    for item in request.items:
        style = SOURCE_STYLE.get(item.source, "")
        evidence = f" [dim]“{escape(shorten(item.evidence, 90))}”[/]" if item.evidence else ""
        console.print(
            f"  {item.n}. {item.title} [bold]{escape(item.read)}[/] [{style}]({item.source})[/]{evidence}",
            highlight=False,
        )
        if item.doubt:
            console.print(f"     [yellow]? {escape(item.doubt)}[/]", highlight=False)
    console.print("Press Enter if that is right, or correct an item in your words, e.g. “3: we have 400 NDAs”.")
    return typer.prompt("", default="", show_default=False, prompt_suffix="› ")


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
            answer = "n/a" if s["answer"] is None else answer_words(fact, s["answer"])
            if s["answer"] is not None:  # what qualifies the answer: the examples' quality, a large prompt
                said = [
                    w
                    for m in STEP_MODIFIERS.get(fact, ())
                    if (w := modifier_words(m, (facts.get(m) or {}).get("value")))
                ]
                answer = "; ".join([answer, *said])
            if s.get("measurement"):  # step 1 measured: the numbers it was answered from
                answer = f"{answer}: {measured_words(s['measurement'])}"
            table.add_row(title, answer, f"[{style}]{s['source']}[/]", escape(shorten(s["evidence"], 90)))
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
    for line in machine_lines(plan, values.get("session")):
        console.print(line, highlight=False)
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
    if plan.index_plan and plan.index_plan.files:  # without --docs the index step's row already says what it needs
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
        drafts = plan.step("synthesize")
        if drafts is not None:
            ready = "" if drafts.runnable else f" It cannot run yet: {escape(drafts.blocked_by or '')}."
            console.print(
                f"[bold]Or draft them:[/] the synthesize step has a teacher model draft the missing examples from "
                f"your good ones, checked, de-duplicated and judged; you accept each one (`tunewise review`) before "
                f"the plan trains on them, and it is evaluated on real held-out examples only.{ready}",
                highlight=False,
            )
    for risk in plan.risks:
        console.print(f"[yellow]risk[/] {risk}")


def measured_words(m: dict[str, Any]) -> str:
    """Say a measurement in a table cell: "0.82 [0.74-0.89] vs 0.97 target" as percentages."""
    lo, hi = m["interval"]
    target = f" vs {m['target']:.0%} target" if m.get("target") is not None else ""
    return f"{m['prompted']:.0%} [{lo:.0%}-{hi:.0%}]{target}"


def answer_words(fact: str, value: Any) -> str:
    """Return a step's answer for the table: the stability step's True/False as "stable"/"changing", else as is."""
    if fact == "stable" and isinstance(value, bool):
        return "stable" if value else "changing"
    return str(value)


def machine_lines(plan: Any, session: str | None) -> list[str]:
    """Say, before approval, what the plan means on this machine: its GPUs and cores, and any step that needs a GPU
    it lacks (with how to run that step where there is one).
    """
    from rich.markup import escape

    if not plan.machine:
        return []
    blocked = [s for s in plan.steps if s.here is not None and s.here.needs_gpu and s.runnable]
    if not blocked:
        timed = [s for s in plan.steps if s.here is not None]
        said = "; ".join(f"{s.step} {s.here.note.removeprefix(f'on this machine ({plan.machine}): ')}" for s in timed)
        return [f"[bold]This machine:[/] {escape(plan.machine)}" + (f" ({escape(said)})" if said else "")]
    names = " and ".join(s.step for s in blocked)
    need = "steps need" if len(blocked) > 1 else "step needs"
    out = [f"[bold]This machine:[/] {escape(plan.machine)}. [bold yellow]The {names} {need} a GPU:[/]"]
    out += [f"  [yellow]{s.step}: {escape(s.here.note)}[/]" for s in blocked]
    first = blocked[0].step
    out.append(
        f"  Approving here runs the steps before {first} and stops there, nothing started; continue on a machine "
        f"with a GPU with `tunewise resume {session or 'SESSION'} --approve`."
    )
    return out


def data_goes(flows: Any) -> str:
    """Say where a step sends the data, in one cell: hosted APIs in red, in-house endpoints in cyan."""
    if not flows:
        return "-"
    style = {"hosted API": "bold red", "local endpoint": "cyan", "this machine": "green"}
    places = dict.fromkeys((f.where, f.place()) for f in flows)  # the teacher and the judge on one endpoint: once
    return ", ".join(f"[{style[where]}]{place}[/]" for where, place in places)


def leaves_text(line: str, private: bool | None) -> str:
    """Return the plan's one line on whether data leaves this machine, marked up (red when it goes to a hosted API)."""
    colour = "red" if line.startswith("yes") else "green"
    rule = " [dim](the data must stay in-house: no step may use a hosted API)[/]" if private else ""
    return f"[bold]Data leaves this machine:[/] [{colour}]{line}[/]{rule}"


def usd(value: float) -> str:
    """Format dollars for people: "$0", "<$0.01", else "$1,234.50"."""
    return "$0" if not value else f"${value:,.2f}" if value >= 0.01 else "<$0.01"


def hours(value: float) -> str:
    """Format hours for people: "-" for none, "<1 min", minutes under an hour, else "2.5 h"."""
    if not value:
        return "-"
    return f"{value:.1f} h" if value >= 1 else "<1 min" if value * 60 < 1 else f"{round(value * 60)} min"


def ask_approval(request: ApprovalRequest) -> Any:
    """Ask to approve the plan's total (and say the budget and any note); return the reply, Reject for Enter."""
    if request.note:
        console.print(f"[yellow]{request.note}[/]")
    if request.data_leaves:
        console.print(leaves_text(request.data_leaves, request.private), highlight=False)
    budget = "" if request.budget_usd is None else f" (budget ${request.budget_usd:.2f})"
    said = typer.prompt(f"Approve {usd(request.total_usd)}{budget}? approve / reject / budget USD", default="reject")
    return reply_of(said)  # words: the approval node reads "yes", "reject" or "budget 80" and says when it cannot


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
    if report is not None and report.steps:
        show_summary(report)
    elif report is not None and report.eval_verdict:
        console.print(f"[bold]Evaluation:[/] {report.eval_verdict}")


FILE_NAMES = {
    "adapter": "adapter",
    "collection": "collection",
    "eval_report": "eval report",
    "deployment": "deployment",
}


def show_summary(report: Report) -> None:
    """Print the run's closing summary, once: the recommendation, each step's result and time, the files built,
    the eval verdict, dollars spent against dollars approved, and the next command.
    """
    from rich.markup import escape

    from agent.run_view import took

    def row(label: str, text: str) -> None:
        console.print(f"  [bold]{label:<14}[/] {escape(text)}", highlight=False, soft_wrap=True)

    console.print(f"\n[bold]Run finished:[/] {escape(report.recommendation or report.approach or '')}", highlight=False)
    steps = [f"{s.step} {s.status}" + (f" {took(s.seconds)}" if s.seconds is not None else "") for s in report.steps]
    row("steps", " · ".join(steps))
    for label, path in report.files.items():
        row(FILE_NAMES.get(label, label), path)
    if report.eval_verdict:
        row("evaluation", report.eval_verdict)
    if report.gap:  # step 1's target and the tuned model: did fine-tuning earn its cost?
        row("gap closure", report.gap["sentence"])
    if report.spent_usd is not None:
        approved = f" of {usd(report.approved_usd)} approved" if report.approved_usd is not None else ""
        row("spent", f"{usd(report.spent_usd)}{approved}")
    if report.serve:
        row("next", report.serve)


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
