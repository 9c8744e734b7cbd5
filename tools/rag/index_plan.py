"""What indexing a documents folder will take, before anything is embedded: files, chunks, hours, and where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tools.defaults import CHUNK_OVERLAP, CHUNK_TOKENS
from tools.errors import TunewiseError

CHUNK_CHARS = 1600  # a size-based guess, only when the local embedder's tokenizer is not installed
CHUNKS_PER_SECOND = 50  # MiniLM on 2 CPU cores, measured by benchmarks/rag_bench.py's order of magnitude
EMBEDDER = "local:all-MiniLM-L6-v2"  # what the plan's index step embeds with: no API cost


class IndexPlan(BaseModel):
    """The index step of a plan: the documents, their size and chunk count, and the collection they go to."""

    docs: str | None
    files: int
    bytes: int
    estimated_chunks: int
    chunks_counted: bool  # True: counted with the embedder's own tokenizer; False: guessed from the size
    collection: str
    embedder: str
    chunk_tokens: int
    overlap: int
    db: str
    hours: float
    refresh: str


def plan_index(docs: str | None, collection: str, *, db: Path, embedder: Any | None) -> IndexPlan:
    """Size the index step: walk `docs`, count its chunks with `embedder`'s tokenizer (None: guess from bytes).

    The count is a dry run of the index step's own chunking: exact, and quick (no model, no store).
    """
    from tools.rag.index import count_chunks, walk

    root = Path(docs) if docs else None
    # The files the index step will read: the same walk, so a plan and its run agree on what is there.
    files = walk([root])[0] if root is not None and root.exists() else []
    size = sum(p.stat().st_size for p in files)
    chunks, counted = (max(1, size // CHUNK_CHARS) if files else 0), False
    if files and embedder is not None and root is not None:
        try:
            _, chunks, _ = count_chunks([root], embedder, chunk_tokens=CHUNK_TOKENS, overlap=CHUNK_OVERLAP)
            counted = True
        except TunewiseError:
            pass  # the embedder's tokenizer cannot be had: keep the size-based guess
    return IndexPlan(
        docs=docs,
        files=len(files),
        bytes=size,
        estimated_chunks=chunks,
        chunks_counted=counted,
        collection=collection,
        embedder=EMBEDDER,
        chunk_tokens=CHUNK_TOKENS,
        overlap=CHUNK_OVERLAP,
        db=str(db),
        hours=round(chunks / CHUNKS_PER_SECOND / 3600, 3),
        refresh="re-run the index step when the documents change: only changed files are embedded again",
    )
