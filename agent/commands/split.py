"""`tunewise split FILE --eval N|FRACTION --out DIR`: the held-out set evaluation needs, with nothing leaked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def split(
    file: Annotated[Path, typer.Argument(help="Validated training file.")],
    eval: Annotated[
        float, typer.Option("--eval", help="Held-out examples: a count (e.g. 100) or a fraction (e.g. 0.1).")
    ],
    out: Annotated[Path, typer.Option(help="Folder for train.jsonl, eval.jsonl and split.json.")],
    seed: Annotated[int, typer.Option(help="Same seed, same split.")] = 42,
    stratify_by: Annotated[
        Optional[str], typer.Option(help="Metadata field to stratify by, or 'cluster' for the first user turn's topic.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Split a training file into train.jsonl and eval.jsonl; duplicates and near-duplicates stay on one side."""
    from tools.dataset.split import CLUSTER, SplitInput, run

    embedder = None
    if stratify_by == CLUSTER:  # only the topic clusters need the embedder (and the rag extra)
        from tools.rag.embedders import get_embedder

        embedder = get_embedder("local")
    result = run(SplitInput(path=file, eval=eval, out=out, seed=seed, stratify_by=stratify_by), embedder=embedder)
    if json_out:
        from agent.console import print_json

        print_json(result.model_dump_json())
        return
    from agent.console import console

    console.print(f"train: {result.train_examples:,} examples -> {result.train_path}")
    console.print(f"eval:  {result.eval_examples:,} examples -> {result.eval_path}")
    console.print(
        f"{result.grouped_examples:,} examples in {result.groups:,} duplicate/near-duplicate clusters, each kept on one side"
    )
    if len(result.strata) > 1:
        console.print("eval per stratum: " + ", ".join(f"{k} {v}" for k, v in result.strata.items()))


def register(app: typer.Typer) -> None:
    """Add `tunewise split` to `app`."""
    app.command("split")(split)
