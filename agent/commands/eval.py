"""`tunewise eval --eval-file eval.jsonl --candidate NAME=SPEC ...`: fine-tuned vs base vs prompt-engineered."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

    from tools.evaluation.schema import EvalResult
    from tools.progress import Update


def eval_command(
    eval_file: Annotated[Path, typer.Option(help="Held-out examples, e.g. the eval.jsonl from `tunewise split`.")],
    candidate: Annotated[
        list[str],
        typer.Option(
            help="NAME=SPEC; repeat. Specs: hf:PATH, hf:PATH+adapter:RUN, "
            "openai:MODEL[@URL]; add +prompted and/or +rag."
        ),
    ],
    train_file: Annotated[
        Optional[Path], typer.Option(help="Few-shot source for +prompted; checked for overlap with the eval file.")
    ] = None,
    few_shot: Annotated[int, typer.Option(min=0, max=50, help="Few-shot examples for +prompted candidates.")] = 5,
    system_prompt_file: Annotated[
        Optional[Path], typer.Option(help="System prompt for +prompted [default: the data's own].")
    ] = None,
    collection: Annotated[
        Optional[str], typer.Option(help="Collection for +rag candidates (built by `tunewise index`).")
    ] = None,
    schema: Annotated[Optional[Path], typer.Option(help="JSON schema the outputs must satisfy.")] = None,
    judge: Annotated[
        Optional[str], typer.Option(help="openai:MODEL grading outputs pairwise against the reference.")
    ] = None,
    max_examples: Annotated[Optional[int], typer.Option(min=1, help="Only the first N examples.")] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Longest reply per example.")] = 256,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0, help="0 = greedy, the same outputs every run.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Few-shot sample, judge order and bootstrap seed.")] = 0,
    out: Annotated[
        Optional[Path], typer.Option(help="Report folder [default: $TUNEWISE_HOME/runs/eval-TIMESTAMP].")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Approve OpenAI API spend (hosted candidates, --judge) without asking.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object; no progress display.")] = False,
    private: Annotated[
        bool,
        typer.Option(
            "--private",
            help="The held-out data must stay in-house: refuse a hosted candidate or judge before anything is sent.",
        ),
    ] = False,
) -> None:
    """Evaluate candidates on held-out examples: which is better, by how much, with bootstrap 95% intervals."""
    import datetime as dt

    from agent.console import console, err_console, print_json
    from tools.builders import generator_loader, retriever_for
    from tools.evaluation.evaluate import run
    from tools.evaluation.schema import EvalInput, paid_models
    from tools.rag.embedders import get_embedder
    from tools.settings import get_settings

    if out is None:
        out = get_settings().runs_dir / f"eval-{dt.datetime.now():%Y%m%d-%H%M%S}"
    inp = EvalInput(
        eval_file=eval_file,
        candidates=candidate,
        train_file=train_file,
        few_shot=few_shot,
        system_prompt_file=system_prompt_file,
        collection=collection,
        schema_path=schema,
        judge=judge,
        max_examples=max_examples,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        out=out,
    )
    rag = any(spec.rag for spec in inp.specs.values())
    if private:  # before any approval or request: the held-out examples of a private plan go nowhere hosted
        from tools.models.spec import parse_spec
        from tools.privacy.destinations import EndpointPolicy, flow, refuse_hosted

        policy = EndpointPolicy.from_env()
        flows = [flow(spec, f"the held-out examples ({name})", policy) for name, spec in inp.specs.items()]
        if judge:
            flows.append(flow(parse_spec(judge), "the outputs and the references (judge)", policy))
        if collection and rag:
            from tools.builders import collection_search_spec
            from tools.clients import get_chroma_client

            embedder_spec = collection_search_spec(get_chroma_client(get_settings().chroma_dir), collection)
            if embedder_spec != "local":  # the collection's own embedder embeds every held-out request
                flows.append(flow(embedder_spec, "the held-out requests (retrieval)", policy))
        refuse_hosted("eval", flows, fix="name local candidates and judge (hf:PATH)")
    paid = paid_models(inp, env_base_url=os.environ.get("OPENAI_BASE_URL"))
    from tools.costs.catalog import openai_catalog
    from tools.costs.openai_access import refuse_retired

    for name in paid:  # "NAME (MODEL)": a model OpenAI has shut down is one line here, before anything is asked
        refuse_retired(openai_catalog(), name.rsplit("(", 1)[1].rstrip(")"), dt.date.today())
    _approve(paid, yes=yes, json_out=json_out)
    load = generator_loader()
    retriever = retriever_for(collection, get_settings().chroma_dir) if rag and collection else None
    embedder = get_embedder("local")
    if json_out:
        result = run(inp, load=load, retriever=retriever, embedder=embedder)
        print_json(result.model_dump_json())
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(update: Update) -> None:
            stage = update.stage or ""
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=update.total)
            bar.update(tasks[stage], completed=update.done or 0)

        result = run(inp, load=load, retriever=retriever, embedder=embedder, progress=progress)
    _render(result, console)


def _approve(paid: list[str], *, yes: bool, json_out: bool) -> None:
    """Ask before calls to OpenAI itself, which cost money: they need --yes or a yes at the prompt; local endpoints
    do not.
    """
    from agent.console import approve_spend

    if not paid:
        return
    line = f"this evaluation calls the OpenAI API and is billed per token: {', '.join(paid)}"
    approve_spend(
        line,
        question=line + ". Continue?",
        yes=yes,
        json_out=json_out,
        hint="pass --yes to approve the spend (try --max-examples 20 first)",
        declined="not started: approval declined",
        nothing_spent="nothing was sent and nothing was spent",
    )


def _render(result: EvalResult, console: Console) -> None:
    from rich.table import Table

    from tools.evaluation.metrics import METRICS
    from tools.evaluation.report import cell

    metrics = list(result.candidates[0].metrics)
    table = Table(title=f"{result.candidates[0].n} held-out examples; rates in points, 95% intervals")
    table.add_column("candidate")
    for m in metrics:
        table.add_column(METRICS[m].label, justify="right")
    for c in result.candidates:
        table.add_row(c.name, *[cell(m, c.metrics[m]) for m in metrics])
    console.print(table)
    console.print(f"verdict: {result.verdict}", markup=False, soft_wrap=True)
    console.print(f"winner: {result.winner or 'none stands out'}", markup=False)
    if result.gap:  # tuned, base and prompted all ran: how much of the gap training closed
        console.print(f"gap closure: {result.gap['sentence']}", markup=False, soft_wrap=True)
    console.print(f"report: {Path(result.report_dir) / 'report.html'}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `tunewise eval` to `app`."""
    app.command("eval")(eval_command)
