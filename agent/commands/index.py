"""`tunewise index PATH...`: put documents into a Chroma collection, re-embedding only what changed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer

from tools.defaults import CHUNK_OVERLAP, CHUNK_TOKENS

if TYPE_CHECKING:
    from tools.progress import Update
    from tools.rag.index import EmbeddingSpend


def index(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders: .md .txt .rst .html .pdf .jsonl (a 'text' field).")
    ],
    collection: Annotated[str, typer.Option(help="Collection to create or update.")],
    db: Annotated[Optional[Path], typer.Option(help="Local Chroma folder [default: $TUNEWISE_HOME/chroma].")] = None,
    chroma_url: Annotated[
        Optional[str], typer.Option("--chroma-url", help="A Chroma server instead, e.g. http://127.0.0.1:8000.")
    ] = None,
    embedder: Annotated[str, typer.Option(help="local (offline all-MiniLM-L6-v2) or openai:MODEL.")] = "local",
    chunk_tokens: Annotated[
        Optional[int],
        typer.Option(min=8, help="Most tokens per chunk [default: 400, capped at what the embedder reads]."),
    ] = None,
    overlap: Annotated[int, typer.Option(min=0, help="Tokens repeated across each cut.")] = CHUNK_OVERLAP,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the summary.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Approve what a paid embedder (openai:MODEL) will cost without asking.")
    ] = False,
) -> None:
    """Index documents for retrieval; a re-run embeds only new or changed files and drops vanished ones."""
    from agent.console import console, err_console, print_json
    from tools.clients import get_chroma_client
    from tools.rag.embedders import get_embedder
    from tools.rag.index import IndexInput, effective_chunk_tokens, run
    from tools.settings import get_settings

    if chroma_url is None and db is None:
        db = get_settings().chroma_dir
    client = get_chroma_client(db, chroma_url)
    model = get_embedder(embedder)
    if chunk_tokens is not None and effective_chunk_tokens(chunk_tokens, model) < chunk_tokens and not json_out:
        used = effective_chunk_tokens(chunk_tokens, model)
        err_console.print(
            f"note: {model.name} reads at most {used} tokens, so chunks are capped at {used}",
            markup=False,
            soft_wrap=True,
        )
    inp = IndexInput(
        paths=paths,
        collection=collection,
        db=None if chroma_url else db,
        chunk_tokens=chunk_tokens or CHUNK_TOKENS,
        overlap=overlap,
    )
    approve = _approver(yes=yes, json_out=json_out)
    asks = getattr(model, "price_per_million", 0.0) != 0.0 and not yes  # no live bar over the approval prompt
    if json_out or not err_console.is_terminal or asks:
        result = run(inp, client=client, embedder=model, approve=approve)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
        ) as bar:
            task = bar.add_task("reading", total=None)
            stages = {"read": "reading", "embed": "embedding"}

            def progress(update: Update) -> None:
                what = stages.get(update.stage or "", "embedding")
                bar.update(task, completed=update.done or 0, total=update.total, description=what)

            result = run(inp, client=client, embedder=model, approve=approve, progress=progress)
    if json_out:
        print_json(result.model_dump_json())
        return
    console.print(
        f"{result.collection}: indexed {result.files_indexed} of {result.files_seen} files, "
        f"+{result.chunks_added} / -{result.chunks_deleted} chunks, {result.chunks_total} in total ({result.seconds:.1f} s)",
        markup=False,
        soft_wrap=True,
    )
    if result.embedding_cost_usd != 0.0:
        cost = result.embedding_cost_usd
        spent = "an unknown amount" if cost is None else (f"${cost:,.4f}" if cost >= 0.0001 else "less than $0.0001")
        console.print(
            f"  embedded {result.embedding_tokens:,} tokens with {model.name}: {spent}", markup=False, soft_wrap=True
        )
    for skip in result.files_skipped:
        console.print(f"  skipped {skip.path}: {skip.reason}", markup=False, soft_wrap=True)


def _approver(*, yes: bool, json_out: bool) -> Callable[[EmbeddingSpend], None]:
    """Return the approval hook for a paid embedder: it spends only with --yes or a yes at the prompt; scripts
    without --yes are refused.
    """

    def approve(spend: EmbeddingSpend) -> None:
        from agent.console import approve_spend, err_console

        if yes:
            err_console.print(f"approved: {spend.describe()}", markup=False, soft_wrap=True)
        what = spend.describe()
        approve_spend(
            f"{what} and needs approval",
            question=f"{what[0].upper()}{what[1:]}. Go ahead?",
            yes=yes,
            json_out=json_out,
            hint="pass --yes to approve it, or use --embedder local (free, offline)",
            declined="not indexed: approval declined",
            nothing_spent="nothing was embedded and nothing was spent",
        )

    return approve


def register(app: typer.Typer) -> None:
    """Add `tunewise index` to `app`."""
    app.command("index")(index)
