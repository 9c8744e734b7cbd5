"""`tunewise synthesize SEEDS --n N --teacher SPEC --out FILE`: draft more examples from a few good ones, priced
and approved first; `tunewise review FILE`: accept, reject or edit the drafts one at a time in the terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from tools.synthesize.schema import SynthResult


def synthesize(
    seeds: Annotated[Path, typer.Argument(help="Your good examples (chat JSONL): the drafts are modelled on them.")],
    n: Annotated[int, typer.Option("--n", min=1, max=100_000, help="How many drafts to make.")],
    teacher: Annotated[
        str,
        typer.Option(
            help="Model that drafts: openai:MODEL, openai:MODEL@URL (vLLM, Ollama, any OpenAI-compatible "
            "server), hf:PATH. Data that must stay in-house needs a local one."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Training file to write: the training seeds plus the accepted drafts.")],
    judge: Annotated[
        Optional[str], typer.Option(help="Model that scores the drafts [default: the teacher]; same spec forms.")
    ] = None,
    docs: Annotated[
        Optional[Path], typer.Option(help="Documents the drafted requests may draw on (a folder or a file).")
    ] = None,
    held_out: Annotated[
        Optional[int], typer.Option(min=1, help="Real examples frozen for evaluation [default: the plan's size].")
    ] = None,
    threshold: Annotated[int, typer.Option(min=1, max=5, help="The judge's lowest passing score, 1-5.")] = 4,
    seed: Annotated[int, typer.Option(help="Which seeds each drafting call is shown.")] = 0,
    private: Annotated[
        bool,
        typer.Option(
            "--private", help="The seeds must stay in-house: refuse a hosted teacher or judge before anything is sent."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Approve the run's price without asking.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object; no progress display.")] = False,
) -> None:
    """Draft more training examples with a teacher model, check and de-duplicate them, score them with a judge, and
    write them for a person to review; only accepted drafts reach the training file.
    """
    from agent.console import approve_spend, console, err_console, print_json
    from tools.builders import generator_loader
    from tools.privacy.destinations import EndpointPolicy, flow, refuse_hosted
    from tools.synthesize.run import estimate, run
    from tools.synthesize.schema import SynthInput

    inp = SynthInput(
        seeds=seeds,
        n=n,
        teacher=teacher,
        judge=judge,
        docs=docs,
        out=out,
        held_out=held_out,
        threshold=threshold,
        seed=seed,
    )
    policy = EndpointPolicy.from_env()
    sent = [flow(teacher, "the training seeds", policy), flow(inp.judge_spec, "the drafts and two seeds", policy)]
    if private:  # before the price is read or asked for: nothing of a private plan is offered to a hosted API
        refuse_hosted("synthesize", sent, fix="name a local --teacher and --judge (hf:PATH)")
    bound = estimate(inp)
    where = "; ".join(f"{f.what} to {f.endpoint or f.where} ({f.where})" for f in sent)
    line = (
        f"drafting {n} examples with {teacher} and judging them with {inp.judge_spec} may cost up to "
        f"${bound.total_usd:.2f} ({bound.calls:,} calls); sends {where}"
    )
    approve_spend(
        line,
        question=line + ". Continue?",
        yes=yes,
        json_out=json_out,
        hint=f"pass --yes to approve up to ${bound.total_usd:.2f}" + (" (try --n 20 first)" if n > 20 else ""),
        declined="not started: approval declined",
        nothing_spent="nothing was sent and nothing was spent",
    )
    if json_out:
        result = run(inp, load=generator_loader(), approved_usd=bound.total_usd)
        print_json(result.model_dump_json())
        return
    from agent.run_view import RunView

    with RunView(err_console) as view:
        last: list[str] = []

        def progress(update: Any) -> None:
            stage = update.stage or "synthesize"
            if stage == "review":
                return
            if last and last[-1] != stage:
                view.finish(last[-1], "done")
            if not last or last[-1] != stage:
                last.append(stage)
            view.update(stage, update)

        result = run(inp, load=generator_loader(), approved_usd=bound.total_usd, progress=progress)
        if last:
            view.finish(last[-1], "done")
    show(result, console)


def show(result: SynthResult, console: Console) -> None:
    """Print the counts per stage, why drafts were dropped, the spend and the review files."""
    c = result.counts
    console.print(
        f"drafted {c.drafted} → valid {c.valid} → unique {c.unique} → passed the judge {c.passed_judge} → "
        f"accepted {c.accepted}",
        markup=False,
    )
    if result.dropped:
        console.print(
            "dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(result.dropped.items(), key=lambda kv: -kv[1])),
            markup=False,
            soft_wrap=True,
        )
    console.print(
        f"spent ${result.cost_usd:.2f} of up to ${result.estimated_usd:.2f} ({result.calls_paid} calls made, "
        f"{result.calls_kept} replies reused from an earlier run)",
        markup=False,
    )
    console.print(
        f"held out: {result.held_out} real examples, never shown to the teacher -> {result.held_out_file}",
        markup=False,
        soft_wrap=True,
    )
    for note in result.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    console.print(f"review: {result.review_html}", markup=False, soft_wrap=True)
    if result.pending:
        console.print(
            f"next: tunewise review {result.review_jsonl}   ({result.pending} drafts wait for a person; only "
            f"accepted ones reach {result.out})",
            markup=False,
            soft_wrap=True,
        )
    else:
        console.print(f"training file: {result.out}", markup=False, soft_wrap=True)


def review_command(
    file: Annotated[Path, typer.Argument(help="review.jsonl written by `tunewise synthesize`.")],
    all_rows: Annotated[bool, typer.Option("--all", help="Show decided drafts too, to change a decision.")] = False,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Rebuild the training file from the statuses in FILE and print the counts as JSON; asks nothing.",
        ),
    ] = False,
) -> None:
    """Accept, reject or edit drafted examples one at a time: a accept, r reject, e edit, s skip, q quit. Each
    decision is saved at once, and the training file is rebuilt from the seeds and the accepted drafts.
    """
    import sys

    from agent.console import console, print_json
    from agent.review_view import Reviewer
    from tools.errors import UsageError

    reviewer = Reviewer.open(file)
    if json_out:
        import json

        print_json(json.dumps(reviewer.summary()))
        return
    if not sys.stdin.isatty():
        raise UsageError(
            "tunewise review needs a terminal",
            path=str(file),
            hint='or set "status" to "accepted" or "rejected" in the file, then run `tunewise review FILE --json`',
        )
    reviewer.run(console, every=all_rows)


def register(app: typer.Typer) -> None:
    """Add `tunewise synthesize` and `tunewise review` to `app`."""
    app.command("synthesize")(synthesize)
    app.command("review")(review_command)
