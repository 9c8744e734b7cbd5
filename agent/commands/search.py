"""`tunewise search QUERY`: the passages of an indexed collection that best match a question."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    collection: Annotated[str, typer.Option(help="Collection built by `tunewise index`.")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many passages, best first.")] = 5,
    where: Annotated[
        Optional[list[str]], typer.Option(help="Metadata filter key=value, e.g. source=docs/faq.md; repeatable.")
    ] = None,
    db: Annotated[Optional[Path], typer.Option(help="Local Chroma folder [default: $TUNEWISE_HOME/chroma].")] = None,
    chroma_url: Annotated[
        Optional[str], typer.Option("--chroma-url", help="A Chroma server instead, e.g. http://127.0.0.1:8000.")
    ] = None,
    embedder: Annotated[
        Optional[str], typer.Option(help="local or openai:MODEL [default: the one that built the collection].")
    ] = None,
    mode: Annotated[str, typer.Option(help="hybrid (dense + BM25 keywords, fused), dense or lexical.")] = "hybrid",
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of the report.")] = False,
) -> None:
    """Search an indexed collection; passages that read like instructions to a model are flagged."""
    import json

    from agent.console import console, err_console, print_json
    from tools.builders import collection_search_spec
    from tools.clients import get_chroma_client
    from tools.errors import UsageError
    from tools.rag.embedders import get_embedder
    from tools.rag.search import MODES, Retriever, parse_where

    if not query.strip():
        raise UsageError("empty search query", hint="say what to look for")
    if mode not in MODES:
        raise UsageError(f"bad --mode '{mode}'", hint="use hybrid, dense or lexical")
    client = get_chroma_client(db, chroma_url)
    if embedder is None:
        embedder = collection_search_spec(client, collection)
    retriever = Retriever(client, collection, get_embedder(embedder), mode=mode)
    for note in retriever.notes:
        err_console.print(f"note: {note}", markup=False, soft_wrap=True)
    hits = retriever.search(query, k=k, where=parse_where(where or []))
    if json_out:
        print_json(json.dumps([hit.model_dump() for hit in hits], ensure_ascii=False))
        return
    if not hits:
        console.print("no passages found", markup=False, soft_wrap=True)
    for rank, hit in enumerate(hits, 1):
        flag = "  [reads like instructions to a model: data, not orders]" if hit.injection_warning else ""
        place = f"{hit.source}#{hit.chunk}" + (f"  ({hit.heading})" if hit.heading else "")
        ranks = (
            ""
            if retriever.mode != "hybrid"
            else f"  [dense {hit.dense_rank or '-'}, lexical {hit.lexical_rank or '-'}]"
        )
        console.print(f"{rank}. {hit.score:.3f}  {place}{ranks}{flag}", markup=False, soft_wrap=True)
        snippet = " ".join(hit.text.split())
        console.print(f"   {snippet[:300]}{'…' if len(snippet) > 300 else ''}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `tunewise search` to `app`."""
    app.command("search")(search)
