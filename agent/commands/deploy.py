"""`tunewise deploy`: one folder holding a fine-tuned model and its retrieval, ready for `tunewise serve`, vLLM or Ollama."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from tools.progress import Update


def deploy(
    model: Annotated[
        str, typer.Option(help="Model spec as for `tunewise eval`: hf:BASE+adapter:RUN, hf:FOLDER, openai:MODEL[@URL].")
    ],
    collection: Annotated[str, typer.Option(help="Collection built by `tunewise index` that answers are grounded in.")],
    db: Annotated[Optional[Path], typer.Option(help="Local Chroma folder [default: $TUNEWISE_HOME/chroma].")] = None,
    chroma_url: Annotated[
        Optional[str], typer.Option("--chroma-url", help="A Chroma server instead, e.g. http://127.0.0.1:8000.")
    ] = None,
    system_prompt_file: Annotated[
        Optional[Path], typer.Option(help="Text file with the system prompt every request starts with.")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="Passages retrieved per request.")] = 4,
    mode: Annotated[str, typer.Option(help="Retrieval: hybrid (dense + BM25 keywords), dense or lexical.")] = "hybrid",
    out: Annotated[
        Optional[Path], typer.Option(help="Deployment folder [default: $TUNEWISE_HOME/deployments/COLLECTION].")
    ] = None,
    merge: Annotated[
        bool, typer.Option("--merge", help="Fold the LoRA adapter into a 16-bit copy of the base model.")
    ] = False,
    private: Annotated[
        bool,
        typer.Option(
            "--private", help="The data must stay in-house: refuse a hosted model or embedder, now and when served."
        ),
    ] = False,
    tensor_parallel: Annotated[
        Optional[int],
        typer.Option(
            "--tensor-parallel", min=1, help="GPUs vLLM spreads the model over [default: as many as `serve` finds]."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the summary.")] = False,
) -> None:
    """Write a deployment folder: model + adapter (or merged), collection, k, system prompt, Modelfile, vLLM command."""
    from agent.console import console, err_console, print_json
    from tools.clients import get_chroma_client
    from tools.deploy.deploy import DeployInput, run
    from tools.rag.collection import check_collection_name
    from tools.settings import get_settings

    check_collection_name(collection)
    if mode not in ("hybrid", "dense", "lexical"):
        from tools.errors import UsageError

        raise UsageError(f"bad --mode '{mode}'", hint="use hybrid, dense or lexical")
    settings = get_settings()
    if chroma_url is None and db is None:
        db = settings.chroma_dir
    client = get_chroma_client(db, chroma_url)
    inp = DeployInput(
        model=model,
        collection=collection,
        db=None if chroma_url else db,
        chroma_url=chroma_url,
        system_prompt_file=system_prompt_file,
        k=k,
        merge=merge,
        mode=mode,
        private=private,
        tensor_parallel=tensor_parallel,
        out=out if out is not None else settings.home / "deployments" / collection,
    )

    def progress(update: Update) -> None:
        if update.message and not json_out:
            err_console.print(update.message, markup=False, soft_wrap=True)

    result = run(inp, client=client, progress=progress)
    if json_out:
        print_json(result.model_dump_json())
        return
    say = lambda text: console.print(text, markup=False, soft_wrap=True)  # noqa: E731
    say(f"deployed '{result.name}' to {result.out}")
    say(f"  model      {result.model}")
    say(f"  retrieval  {result.collection} ({result.chunks} passages, {result.embedder}), k={result.k}, {mode}")
    if result.budget:
        b = result.budget
        say(
            f"  context    {b.window} tokens; a typical request with k={b.k} passages of up to {b.passage_tokens} tokens "
            f"needs {b.needed}" + ("" if b.fits_k >= b.k else f" (fits {b.fits_k}: lower-ranked passages are dropped)")
        )
    say(f"  hash       {result.content_hash}")
    if result.modelfile:
        say(f"  ollama     ollama create {result.name} -f {result.modelfile}")
    if result.vllm_command:
        say(f"  vllm       {result.vllm_command}")
    for note in result.vllm_notes:  # which of vLLM's limits applied, and what was done about it
        say(f"             {note}")
    say(f"  serve      {result.serve_command}")
    for warning in result.warnings:
        err_console.print(f"warning: {warning}", markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add `tunewise deploy` to `app`."""
    app.command("deploy")(deploy)
