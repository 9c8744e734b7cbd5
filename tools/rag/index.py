"""Index documents into a Chroma collection, embedding only files that are new or changed since the last run.

Crash consistency rests on three facts: chunk ids derive from (source, file sha256, chunking, position), so
re-writing a chunk is an idempotent upsert; every chunk records how many chunks its file version has, so a
file is up to date only when all of them are present; and old versions are deleted only after the new ones
are written. A run killed at any point therefore leaves a state the next run completes without duplicates.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from pydantic import BaseModel, ConfigDict, Field

from tools.defaults import CHUNK_OVERLAP, CHUNK_TOKENS
from tools.errors import TunewiseError, UsageError
from tools.progress import Progress, Update, silent
from tools.rag import loaders
from tools.rag.chunking import CHUNKER_VERSION, Chunk, Counter, chunk_sections, looks_like_instructions, token_counter
from tools.rag.collection import open_collection
from tools.rag.lexical import LexicalStore

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from tools.rag.embedders import Embedder

LOCK_NAME = "tunewise-index.lock"
# Files are taken in windows of this many chunks, each sorted by length so batches pad little (raw
# SentenceTransformer.encode sorts its whole input) while a crash loses at most one window's work.
# Within a window, `batch_size` chunks are embedded and upserted at a time: 512 halves Chroma's per-chunk
# upsert cost against 128 (measured) and still updates the progress bar every few seconds.
WINDOW = 1024

Pending = tuple[str, str, dict]  # (chunk id, text, metadata) of a chunk to embed


class IndexInput(BaseModel):
    """One `tunewise index`: what to index, into which collection (and local folder), and how to chunk it."""

    model_config = ConfigDict(extra="forbid")

    paths: list[Path] = Field(
        min_length=1, description="Files or folders to index; folders are walked, hidden entries skipped."
    )
    collection: str = Field(description="Chroma collection to create or update.")
    db: Path | None = Field(
        default=None,
        description="The local Chroma folder, locked against a second writer; None when writing to a server.",
    )
    # 400 suits prose answers; it is capped at what the embedder reads (254 WordPiece tokens for MiniLM).
    chunk_tokens: int = Field(
        default=CHUNK_TOKENS, ge=8, description="Most tokens per chunk, counted by the embedder's tokenizer."
    )
    # ~15% of a chunk: enough to carry a sentence across a cut without doubling the index.
    overlap: int = Field(
        default=CHUNK_OVERLAP, ge=0, description="Tokens repeated from the end of one chunk at the start of the next."
    )


class SkippedFile(BaseModel):
    """A file that could not be indexed (path relative to the working directory when below it), and why."""

    model_config = ConfigDict(frozen=True)

    path: str
    reason: str


class IndexResult(BaseModel):
    """What an index run did: files seen, indexed and skipped, chunks added and deleted, time and embedding spend."""

    model_config = ConfigDict(frozen=True)

    collection: str
    files_seen: int = Field(description="Files found under the given paths.")
    files_indexed: int = Field(description="Files embedded this run (new, changed or left incomplete by a crash).")
    files_skipped: list[SkippedFile] = Field(description="Files that could not be indexed, and why.")
    chunks_added: int = Field(description="Chunks embedded and written this run.")
    chunks_deleted: int = Field(description="Chunks of changed, vanished or unreadable files removed.")
    chunks_total: int = Field(description="Chunks in the collection afterwards.")
    seconds: float
    embedding_tokens: int = Field(
        default=0, description="Tokens embedded this run, counted by the embedder's tokenizer."
    )
    embedding_cost_usd: float | None = Field(
        default=0.0, description="What embedding them cost (None: the price is unknown)."
    )


class EmbeddingSpend(BaseModel):
    """What an index run is about to spend on a paid embedder, for its approval."""

    model_config = ConfigDict(frozen=True)
    embedder: str
    chunks: int
    tokens: int
    cost_usd: float | None = Field(description="None when the embedder's price is unknown.")

    def describe(self) -> str:
        """Say the spend in one line: chunks, tokens, embedder and the price in USD (or that it is unknown)."""
        if self.cost_usd is None:
            price = "an unknown amount (not in tools/data/openai.json)"
        else:
            price = f"about ${self.cost_usd:,.4f}" if self.cost_usd >= 0.0001 else "less than $0.0001"
        return f"embedding {self.chunks:,} chunks ({self.tokens:,} tokens) with {self.embedder} costs {price}"


def effective_chunk_tokens(chunk_tokens: int, embedder: object) -> int:
    """Return the chunk size actually used: never more than the embedder reads, so no chunk is silently truncated."""
    return min(chunk_tokens, getattr(embedder, "max_tokens", chunk_tokens))


@contextlib.contextmanager
def writer_lock(db: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on `db`: Chroma's local store is unsafe for two writing processes."""
    import fcntl

    db.mkdir(parents=True, exist_ok=True)
    fh = open(db / LOCK_NAME, "a+")  # the lock is the flock, not the content: a plain write is fine here
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "?"
        fh.close()
        raise TunewiseError(
            f"another tunewise index (pid {holder}) is writing to this Chroma folder",
            path=str(db),
            hint="wait for it to finish, or give this run its own --db",
        ) from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def walk(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Return every non-hidden file under `paths` (absolute, sorted, once each), and the absolute roots."""
    files: dict[Path, None] = {}
    roots = []
    for given in paths:
        if not given.exists():
            raise UsageError("no such file or folder", path=str(given), hint="check the path; nothing was changed")
        root = given.resolve()
        roots.append(root)
        if root.is_file():
            files[root] = None
            continue
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if not name.startswith("."):
                    files[Path(folder) / name] = None
    return list(files), roots


def _under(source: str, roots: list[Path]) -> bool:
    return any(source == str(r) or source.startswith(str(r) + os.sep) for r in roots)


def _manifest(collection: Collection, page: int) -> dict[str, list[tuple[str, dict]]]:
    """Return what is indexed now: source -> [(id, metadata)], read in pages the client accepts."""
    found: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=offset)
        for id_, meta in zip(got["ids"], got["metadatas"]):
            found[str((meta or {}).get("source", ""))].append((id_, meta or {}))
        if len(got["ids"]) < page:
            return found
        offset += page


def _complete(entries: list[tuple[str, dict]]) -> bool:
    positions = sorted(int(meta.get("chunk", -1)) for _, meta in entries)
    return bool(entries) and positions == list(range(int(entries[0][1].get("chunks", -1))))


def chunk_id(source: str, sha: str, chunking: str, position: int) -> str:
    """Return the chunk's id: 32 hex digits of sha256 over (source, file sha256, chunking, position)."""
    return hashlib.sha256(f"{source}\n{sha}\n{chunking}\n{position}".encode()).hexdigest()[:32]


def run(
    inp: IndexInput,
    *,
    client: ClientAPI,
    embedder: Embedder,
    progress: Progress | None = None,
    batch_size: int = 512,
    approve: Callable[[EmbeddingSpend], None] | None = None,
    lexical: LexicalStore | None = None,
) -> IndexResult:
    """Index documents (Markdown, text, reStructuredText, HTML, PDF, JSONL) into a searchable collection.

    A paid embedder is priced on the exact chunks to embed before any is sent; `approve` sees that spend and
    raises to decline it. Without `approve`, a run that would spend money is refused.

    The lexical (BM25) index beside the collection (`lexical`, default: tools.rag.lexical.store_path) is first
    brought in step with the chunks already in Chroma, then written batch by batch right after Chroma.

    `progress` hears the files read (stage "read", unit "files"), then the chunks embedded and written (stage
    "embed", unit "chunks"), batch by batch.
    """
    started = time.perf_counter()
    progress = progress or silent
    max_tokens = effective_chunk_tokens(inp.chunk_tokens, embedder)
    if inp.overlap > max_tokens // 2:
        raise UsageError(
            f"--overlap {inp.overlap} is more than half a chunk ({max_tokens} tokens)",
            hint=f"use --overlap {max_tokens // 7} or less",
        )
    chunking = f"v{CHUNKER_VERSION}/{max_tokens}/{inp.overlap}"
    with writer_lock(inp.db) if inp.db is not None else contextlib.nullcontext():
        files, roots = walk(inp.paths)
        collection = open_collection(client, inp.collection, embedder, create=True)
        limit = client.get_max_batch_size()
        batch_size = max(1, min(batch_size, limit))
        indexed = _manifest(collection, limit)
        lexical = lexical or LexicalStore.for_client(client)
        key = str(collection.id)
        # Heals what a kill between Chroma's write and ours left behind, and builds the index of a collection
        # made before it existed, from the stored texts: nothing is embedded again.
        lexical.sync(collection, (id_ for entries in indexed.values() for id_, _ in entries))
        count = token_counter(embedder)

        skipped: list[SkippedFile] = []
        stale: list[str] = []
        pending: list[Pending] = []  # (id, text, metadata) to embed
        files_indexed = 0
        for n, path in enumerate(files):
            progress(Update(stage="read", done=n, total=len(files), unit="files"))
            source = str(path)
            old = indexed.pop(source, [])
            try:
                _check_type(path)
                try:
                    data, mtime = path.read_bytes(), path.stat().st_mtime
                except OSError as exc:
                    raise loaders.SkipFile(f"unreadable: {exc.strerror or exc}") from None
                sha = hashlib.sha256(data).hexdigest()
                current = [(i, m) for i, m in old if (m.get("sha256"), m.get("chunking")) == (sha, chunking)]
                if _complete(current):
                    stale.extend(i for i, m in old if (m.get("sha256"), m.get("chunking")) != (sha, chunking))
                    continue
                chunks = _chunks(path, max_tokens, inp.overlap, count)
            except loaders.SkipFile as why:
                skipped.append(SkippedFile(path=_display(path), reason=str(why)))
                stale.extend(i for i, _ in old)
                continue
            ids = [chunk_id(source, sha, chunking, n) for n in range(len(chunks))]
            fresh = set(ids)
            stale.extend(i for i, _ in old if i not in fresh)
            for n, (id_, chunk) in enumerate(zip(ids, chunks)):
                meta = {
                    "source": source,
                    "chunk": n,
                    "chunks": len(chunks),
                    "heading": chunk.heading,
                    "sha256": sha,
                    "mtime": mtime,
                    "chunking": chunking,
                    "tokens": chunk.tokens,
                    "injection_warning": looks_like_instructions(chunk.text),
                }
                pending.append((id_, chunk.text, meta))
            files_indexed += 1
        progress(Update(stage="read", done=len(files), total=len(files), unit="files"))
        for source, old in indexed.items():  # indexed before, under these paths, gone now
            if _under(source, roots):
                stale.extend(i for i, _ in old)

        spend = _spend(embedder, pending)
        if spend.cost_usd != 0.0:
            if approve is None:
                raise TunewiseError(
                    f"{spend.describe()} and needs approval",
                    hint="approve it (tunewise index --yes), or use --embedder local (free, offline)",
                )
            approve(spend)
        added = _embed_and_write(
            collection, embedder, pending, batch_size, progress, lambda ids, texts: lexical.upsert(key, ids, texts)
        )
        # Deleting last means a crash before this line leaves old and new versions side by side, never neither.
        for start in range(0, len(stale), limit):
            collection.delete(ids=stale[start : start + limit])
            lexical.delete(key, stale[start : start + limit])
        return IndexResult(
            collection=inp.collection,
            files_seen=len(files),
            files_indexed=files_indexed,
            files_skipped=skipped,
            chunks_added=added,
            chunks_deleted=len(stale),
            chunks_total=collection.count(),
            seconds=round(time.perf_counter() - started, 3),
            embedding_tokens=spend.tokens,
            embedding_cost_usd=spend.cost_usd,
        )


def _check_type(path: Path) -> None:
    if path.suffix.lower() not in loaders.LOADERS:
        raise loaders.SkipFile(f"unsupported file type '{path.suffix or path.name}'")


def _chunks(path: Path, max_tokens: int, overlap: int, count: Counter) -> list[Chunk]:
    return chunk_sections(loaders.load(path), max_tokens=max_tokens, overlap=overlap, count=count)


def count_chunks(
    paths: list[Path], embedder: object, *, chunk_tokens: int = 400, overlap: int = 60
) -> tuple[int, int, int]:
    """Return (files that would be indexed, their chunks, their tokens): a dry run of the chunking, for plans and prices.

    Needs only the embedder's tokenizer, never its model or a store.
    """
    files, _ = walk(paths)
    max_tokens = effective_chunk_tokens(chunk_tokens, embedder)
    count = token_counter(embedder)
    indexed = chunks = tokens = 0
    for path in files:
        try:
            _check_type(path)
            found = _chunks(path, max_tokens, overlap, count)
        except loaders.SkipFile:
            continue
        indexed += 1
        chunks += len(found)
        tokens += sum(c.tokens for c in found)
    return indexed, chunks, tokens


def _spend(embedder: Embedder, pending: list[Pending]) -> EmbeddingSpend:
    tokens = sum(int(meta["tokens"]) for _, _, meta in pending)
    price = getattr(embedder, "price_per_million", 0.0)
    if not pending:
        cost: float | None = 0.0
    elif price is None:
        cost = None
    else:
        cost = round(tokens * price / 1e6, 6)
    return EmbeddingSpend(embedder=embedder.name, chunks=len(pending), tokens=tokens, cost_usd=cost)


def _embed_and_write(
    collection: Collection,
    embedder: Embedder,
    pending: list[Pending],
    batch_size: int,
    progress: Progress,
    also_write: Callable[[list[str], list[str]], None],
) -> int:
    total = len(pending)
    progress(Update(stage="embed", done=0, total=total, unit="chunks"))
    done = 0
    for window_start in range(0, total, WINDOW):
        window = sorted(pending[window_start : window_start + WINDOW], key=lambda item: -item[2]["tokens"])
        for start in range(0, len(window), batch_size):
            batch = window[start : start + batch_size]
            vectors = embedder.embed([text for _, text, _ in batch])
            collection.upsert(
                ids=[id_ for id_, _, _ in batch],
                embeddings=vectors,
                documents=[text for _, text, _ in batch],
                metadatas=[meta for _, _, meta in batch],
            )
            also_write([id_ for id_, _, _ in batch], [text for _, text, _ in batch])  # the lexical index, in step
            done += len(batch)
            progress(Update(stage="embed", done=done, total=total, unit="chunks"))
    return total


def _display(path: Path) -> str:
    """Return the path relative to the working directory when it lies below it, for short messages."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)
