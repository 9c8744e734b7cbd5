"""Incremental indexing, embedder stamps, the writer lock and crash-then-rerun, on a real local Chroma.

The tests that take the `store` fixture run again against a real `chroma run` server in test_index_server.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.hash_embedder import HashEmbedder
from tools.clients import get_chroma_client
from tools.errors import TunewiseError
from tools.rag.index import IndexInput, run, writer_lock
from tools.rag.search import Retriever

REPO = Path(__file__).resolve().parents[1]
TOPICS = [
    "bread baking",
    "comet orbits",
    "python wheels",
    "tomato gardens",
    "lora adapters",
    "tide tables",
    "violin strings",
    "glacier melt",
    "chess openings",
    "coffee roasting",
    "bridge cables",
    "bee colonies",
]


@dataclass
class Store:
    client: object
    db: Path | None  # None: a server, nothing to lock
    url: str | None
    collection: str

    def index(self, *paths: Path, embedder=None, **kw):
        inp = IndexInput(paths=list(paths), collection=self.collection, db=self.db, chunk_tokens=40, overlap=5, **kw)
        return run(inp, client=self.client, embedder=embedder or HashEmbedder(), batch_size=4)

    def lexical(self) -> dict[str, str]:
        """The lexical index's tokens by chunk id, for this collection."""
        from tools.rag.lexical import LexicalStore

        col = self.client.get_collection(self.collection, embedding_function=None)
        store = LexicalStore.for_client(self.client)
        rows = store._db.execute("SELECT id, tokens FROM chunks WHERE collection = ?", (str(col.id),)).fetchall()
        store.close()
        return dict(rows)

    def chunks(self) -> list[dict]:
        col = self.client.get_collection(self.collection, embedding_function=None)
        got = col.get(include=["metadatas"])
        return [dict(meta, id=id_) for id_, meta in zip(got["ids"], got["metadatas"])]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = tmp_path / "db"
    return Store(get_chroma_client(db), db, None, f"c-{uuid.uuid4().hex[:8]}")


def write_doc(folder: Path, name: str, topic: str, version: int = 1) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    paragraphs = [f"# Notes on {topic}"] + [
        f"Paragraph {n} of version {version} about {topic}: the {topic} details matter here, and more words follow "
        f"so that the paragraph needs a real share of a chunk."
        for n in range(3)
    ]
    path.write_text("\n\n".join(paragraphs) + "\n")
    return path


def make_corpus(folder: Path, count: int = 12) -> list[Path]:
    return [write_doc(folder, f"doc{n:02d}.md", TOPICS[n % len(TOPICS)]) for n in range(count)]


def check_consistent(store: Store) -> dict[str, int]:
    """Every file has exactly one complete version; returns chunks per file."""
    per_file: dict[str, list[dict]] = {}
    for c in store.chunks():
        per_file.setdefault(c["source"], []).append(c)
    for source, chunks in per_file.items():
        assert len({(c["sha256"], c["chunking"]) for c in chunks}) == 1, f"two versions of {source}"
        assert sorted(c["chunk"] for c in chunks) == list(range(chunks[0]["chunks"])), f"holes or repeats in {source}"
        assert Path(source).exists(), "a vanished file kept its chunks"
    return {s: len(c) for s, c in per_file.items()}


def test_full_build_records_metadata_and_rerun_embeds_nothing(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    make_corpus(docs, 4)
    (docs / "notes.xyz").write_text("?")
    embedder = HashEmbedder()
    first = store.index(docs, embedder=embedder)
    assert (first.files_seen, first.files_indexed, first.chunks_deleted) == (5, 4, 0)
    assert [s.model_dump() for s in first.files_skipped] == [
        {"path": "docs/notes.xyz", "reason": "unsupported file type '.xyz'"}
    ]
    assert first.chunks_added == first.chunks_total == embedder.embedded > 4
    meta = store.chunks()[0]
    assert {"source", "chunk", "heading", "sha256", "mtime", "chunks", "chunking", "injection_warning"} <= set(meta)
    assert meta["source"].startswith(str(docs.resolve())) and meta["heading"].startswith("Notes on")

    again = HashEmbedder()
    second = store.index(docs, embedder=again)
    assert (second.files_indexed, second.chunks_added, second.chunks_deleted) == (0, 0, 0)
    assert second.chunks_total == first.chunks_total and again.embedded == 0


def test_incremental_add_change_delete(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    files = make_corpus(docs, 6)
    base = store.index(docs)
    per_file = check_consistent(store)
    write_doc(docs, files[0].name, TOPICS[0], version=2)  # changed
    files[1].unlink()  # vanished
    write_doc(docs, "sub/new.md", "sea shanties")  # new, in a subfolder
    embedder = HashEmbedder()
    result = store.index(docs, embedder=embedder)
    assert result.files_indexed == 2 and result.files_seen == 6
    assert result.chunks_deleted == per_file[str(files[0].resolve())] + per_file[str(files[1].resolve())]
    assert embedder.embedded == result.chunks_added
    after = check_consistent(store)
    assert result.chunks_total == sum(after.values()) == base.chunks_total - result.chunks_deleted + result.chunks_added
    assert str(files[1].resolve()) not in after and str((docs / "sub/new.md").resolve()) in after
    hit = Retriever(store.client, store.collection, HashEmbedder()).search("sea shanties", k=1)[0]
    assert hit.source.endswith("new.md")


def test_other_roots_are_left_alone(store: Store, tmp_path: Path) -> None:
    make_corpus(tmp_path / "a", 2)
    other = write_doc(tmp_path / "b", "b.md", "glacier melt")
    store.index(tmp_path / "a")
    store.index(other)
    before = len(store.chunks())
    (tmp_path / "a" / "doc00.md").unlink()
    result = store.index(tmp_path / "a")  # b.md is not under a/: not "vanished"
    assert any(c["source"] == str(other.resolve()) for c in store.chunks())
    assert result.chunks_total == before - result.chunks_deleted


def test_unreadable_or_emptied_file_is_skipped_and_its_chunks_dropped(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    files = make_corpus(docs, 2)
    store.index(docs)
    files[0].write_bytes(b"\xff\xfe\x00garbage")
    result = store.index(docs)
    assert result.files_skipped[0].path.endswith("doc00.md") and "binary" in result.files_skipped[0].reason
    assert {c["source"] for c in store.chunks()} == {str(files[1].resolve())}


def test_changed_chunk_size_rebuilds(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    make_corpus(docs, 2)
    small = store.index(docs)
    inp = IndexInput(paths=[docs], collection=store.collection, db=store.db, chunk_tokens=200, overlap=5)
    big = run(inp, client=store.client, embedder=HashEmbedder())
    assert big.files_indexed == 2 and big.chunks_deleted == small.chunks_total and big.chunks_total < small.chunks_total
    check_consistent(store)


def test_embedder_mismatch_is_refused(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    make_corpus(docs, 1)
    store.index(docs)
    other = HashEmbedder(dimension=32, name="fake:other")
    with pytest.raises(TunewiseError, match=r"built with fake:hash \(64 dims\), not fake:other \(32 dims\)"):
        store.index(docs, embedder=other)
    with pytest.raises(TunewiseError, match="built with fake:hash"):
        Retriever(store.client, store.collection, other)


def test_bad_inputs_are_one_line_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(TunewiseError, match="no such file or folder") as missing:
        store.index(tmp_path / "nope")
    assert missing.value.exit_code == 2
    make_corpus(tmp_path / "docs", 1)
    with pytest.raises(TunewiseError, match="bad collection name"):
        run(IndexInput(paths=[tmp_path / "docs"], collection="x"), client=store.client, embedder=HashEmbedder())
    with pytest.raises(TunewiseError, match="more than half a chunk"):
        run(
            IndexInput(paths=[tmp_path / "docs"], collection=store.collection, chunk_tokens=40, overlap=30),
            client=store.client,
            embedder=HashEmbedder(),
        )


def _kill_at(store: Store, docs: Path, batches: int) -> None:
    """Run the worker and SIGKILL it after `batches` written batches (-1: after the last, before deletes)."""
    target = ["--url", store.url] if store.url else ["--db", str(store.db)]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.index_worker",
            str(docs),
            store.collection,
            *target,
            "--hold-after",
            str(batches),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    for line in proc.stdout:
        if line.strip() == "holding":
            proc.send_signal(signal.SIGKILL)
            break
    assert proc.wait(timeout=60) == -signal.SIGKILL, "the worker finished before it could be killed"


def test_kill_9_then_rerun_ends_consistent(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    files = make_corpus(docs, 12)
    _kill_at(store, docs, batches=2)  # the very first build dies part way
    store.index(docs)
    for f in files[:4]:
        write_doc(docs, f.name, "changed " + f.stem, version=2)
    files[4].unlink()
    files[5].unlink()
    write_doc(docs, "extra1.md", "kite design")
    write_doc(docs, "extra2.md", "salt marshes")
    _kill_at(store, docs, batches=1)  # dies with old and new versions side by side
    _kill_at(store, docs, batches=-1)  # everything written, stale chunks not yet deleted
    final = store.index(docs)

    fresh = Store(get_chroma_client(tmp_path / "fresh"), tmp_path / "fresh", None, "fresh")
    reference = fresh.index(docs)
    assert final.chunks_total == reference.chunks_total
    assert sorted(c["id"] for c in store.chunks()) == sorted(c["id"] for c in fresh.chunks())
    assert check_consistent(store) == check_consistent(fresh)
    assert store.lexical() == fresh.lexical() and len(fresh.lexical()) == reference.chunks_total  # BM25 side too


def test_second_writer_is_refused_at_once(tmp_path: Path) -> None:
    db = tmp_path / "db"
    make_corpus(tmp_path / "docs", 1)
    with writer_lock(db):
        holder = subprocess.run(
            [
                sys.executable,
                "-m",
                "agent.cli",
                "index",
                str(tmp_path / "docs"),
                "--collection",
                "docs",
                "--db",
                str(db),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    assert holder.returncode == 1
    assert holder.stderr.strip().splitlines() == [
        f"error: {db}: another tunewise index (pid {os.getpid()}) is writing to this Chroma folder — "
        "wait for it to finish, or give this run its own --db"
    ]
    with writer_lock(db):  # released: the next writer gets it
        pass
