"""The lexical (BM25) half of hybrid retrieval: tokens, scores, and an index kept in step with Chroma's.

The tests that take the `store` fixture run on a local Chroma here and on a `chroma run` server in
test_index_server.py, like the dense index's.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from tests.fakes.hash_embedder import HashEmbedder
from tests.test_index import Store, make_corpus, store, write_doc  # noqa: F401 - `store` is a fixture
from tools.errors import TunewiseError
from tools.rag.lexical import Bm25, LexicalStore, tokenize
from tools.rag.search import Retriever


def test_identifiers_stay_whole_and_give_their_parts() -> None:
    assert tokenize("The screen says E4039.") == ["screen", "says", "e4039", "e", "4039"]
    assert tokenize("Is LK-220X compatible?") == ["lk-220x", "lk", "220x", "220", "x", "compatible"]
    assert tokenize("what changed in 3.15.1?") == ["changed", "3.15.1", "3", "15", "1"]
    assert tokenize("set max_tokens") == ["set", "max_tokens", "max", "tokens"]
    assert tokenize("Größe ÄNDERN") == ["größe", "ändern"]  # any script's letters, lower-cased


def test_bm25_is_the_textbook_formula() -> None:
    docs = [["e4039", "battery", "cold"], ["e4060", "battery", "cold", "cold"], ["refund", "card"]]
    bm = Bm25(["a", "b", "c"], docs)
    avg = sum(map(len, docs)) / 3

    def expected(doc: list[str], terms: list[str]) -> float:
        total = 0.0
        for t in terms:
            df = sum(t in d for d in docs)
            tf = doc.count(t)
            if tf:
                idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
                total += idf * tf * (1.2 + 1) / (tf + 1.2 * (1 - 0.75 + 0.75 * len(doc) / avg))
        return total

    got = bm.top("cold battery E4039", 5)
    assert [i for i, _, _ in got] == [0, 1]  # the refund chunk shares no word: not a hit at all
    for i, score, _ in got:
        assert score == pytest.approx(expected(docs[i], ["cold", "battery", "e4039", "e", "4039"]), rel=1e-5)
    assert got[0][2] < 1.0 and got[1][2] < got[0][2]  # "e" and "4039" are in no chunk: nobody covers them
    mask = [False, True, True]
    assert [i for i, _, _ in bm.top("cold battery E4039", 5, allowed=__import__("numpy").array(mask))] == [1]


def _texts(store: Store) -> dict[str, str]:
    col = store.client.get_collection(store.collection, embedding_function=None)
    got = col.get(include=["documents"])
    return {i: " ".join(tokenize(d)) for i, d in zip(got["ids"], got["documents"])}


def test_lexical_index_follows_every_upsert_and_delete(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    files = make_corpus(docs, 6)
    store.index(docs)
    assert store.lexical() == _texts(store) and len(store.lexical()) > 6
    write_doc(docs, files[0].name, "changed topic", version=2)
    files[1].unlink()
    write_doc(docs, "sub/new.md", "part LK-220X")
    store.index(docs)
    assert store.lexical() == _texts(store)  # the changed file's old chunks and the vanished file's are gone
    before = store.lexical()
    quiet = HashEmbedder()
    again = store.index(docs, embedder=quiet)
    assert (again.chunks_added, again.chunks_deleted, quiet.embedded) == (0, 0, 0) and store.lexical() == before
    hit = Retriever(store.client, store.collection, HashEmbedder(), mode="lexical").search("LK-220X", k=1)[0]
    assert hit.source.endswith("new.md") and hit.lexical_rank == 1 and hit.dense_rank is None


class DiesOnSecondBatch(LexicalStore):
    """A lexical store whose process 'dies' right after Chroma wrote the second batch, before this one did."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches = 0

    def upsert(self, collection, ids, texts) -> None:
        self.batches += 1
        if self.batches == 2:
            raise KeyboardInterrupt("killed between Chroma's write and the lexical one")
        super().upsert(collection, ids, texts)


def test_a_run_killed_between_the_two_writes_heals_without_embedding(store: Store, tmp_path: Path) -> None:
    from tools.rag.index import IndexInput, run
    from tools.rag.lexical import store_path

    docs = tmp_path / "docs"
    make_corpus(docs, 6)
    inp = IndexInput(paths=[docs], collection=store.collection, db=store.db, chunk_tokens=40, overlap=5)
    with pytest.raises(KeyboardInterrupt):
        run(
            inp,
            client=store.client,
            embedder=HashEmbedder(),
            batch_size=4,
            lexical=DiesOnSecondBatch(store_path(store.client)),
        )
    assert len(store.lexical()) < len(_texts(store))  # Chroma holds a batch the lexical index lacks
    rerun = HashEmbedder()
    result = store.index(docs, embedder=rerun)
    assert store.lexical() == _texts(store) and len(store.lexical()) == result.chunks_total
    assert rerun.embedded == result.chunks_added < result.chunks_total  # the healed batch was not embedded again


def test_a_collection_without_a_lexical_index_gets_one_on_first_search(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    make_corpus(docs, 3)
    write_doc(docs, "codes.md", "error E4039")
    store.index(docs)
    col = store.client.get_collection(store.collection, embedding_function=None)
    plain = LexicalStore.for_client(store.client)
    plain.delete(str(col.id), list(store.lexical()))  # as if indexed before hybrid retrieval existed
    assert store.lexical() == {}
    retriever = Retriever(store.client, store.collection, HashEmbedder())
    assert retriever.mode == "hybrid"
    assert [n for n in retriever.notes if "built the lexical index" in n]
    assert retriever.search("what is E4039", k=1)[0].source.endswith("codes.md")
    assert store.lexical() == _texts(store)  # built once, kept


class Unwritable:
    def ids(self, collection):
        raise sqlite3.OperationalError("attempt to write a readonly database")


def test_an_unusable_lexical_index_falls_back_to_dense_with_a_line(store: Store, tmp_path: Path) -> None:
    make_corpus(tmp_path / "docs", 2)
    store.index(tmp_path / "docs")
    retriever = Retriever(store.client, store.collection, HashEmbedder(), lexical=Unwritable())
    assert retriever.mode == "dense" and "searching with dense vectors only" in retriever.notes[0]
    assert all(h.dense_rank == n and h.lexical_rank is None for n, h in enumerate(retriever.search("bread", k=3), 1))
    with pytest.raises(TunewiseError, match="cannot open the lexical index"):
        Retriever(store.client, store.collection, HashEmbedder(), mode="lexical", lexical=Unwritable())


def test_where_filters_the_lexical_list_too(store: Store, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    a = write_doc(docs, "a.md", "error E4039")
    write_doc(docs, "b.md", "error E4039")
    store.index(docs)
    for mode in ("lexical", "hybrid"):
        hits = Retriever(store.client, store.collection, HashEmbedder(), mode=mode).search(
            "E4039", k=5, where={"source": str(a.resolve())}
        )
        assert hits and {h.source for h in hits} == {str(a.resolve())}
