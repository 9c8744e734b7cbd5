"""The lexical half of hybrid retrieval: an exact BM25 over each collection's chunks, kept beside the Chroma store.

Why our own BM25 and not Chroma's or a library's: chromadb 1.5.9's sparse vectors and `Collection.search` are
refused by both the embedded store ("Sparse vector indexing is not enabled in local", "Search is not implemented
for Local Chroma") and a `chroma run` server (same schema error; a sparse metadata value is "not supported for
local chroma"). bm25s precomputes every (term, chunk) score from corpus-wide counts, so one added or deleted
chunk means re-indexing everything, and it has no delete. So the chunks' tokens are kept in SQLite (one row per
chunk id, written in the same batches as Chroma's upserts and deletes; a transaction is all-or-nothing, so a
kill leaves either the batch or nothing), and searching loads them into a compressed postings matrix in memory
where BM25 is a few numpy operations per query term.

Chroma stays the source of truth: `sync` compares chunk ids with the collection and adds what is missing (from
the stored documents, never re-embedding) and drops what is gone. Every index run and every retriever start
syncs first, so a crash between Chroma's write and ours, an old collection indexed before this existed, or a
server collection written from another machine all heal on their own.
"""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

TOKENIZER_VERSION = 1  # bump when `tokenize` changes: stored tokens of an older version are rebuilt from Chroma
FILE_NAME = "tunewise-lexical.sqlite3"

# A word, or an identifier: runs of letters/digits joined by single - . _ / : ("LK-220X", "3.15.1", "max_tokens").
_COMPOUND = re.compile(r"[^\W_]+(?:[-._/:][^\W_]+)*")
_PIECE = re.compile(r"[^\W\d_]+|\d+")  # letter runs and digit runs: "e4039" -> "e", "4039"
# Words too common to tell chunks apart: dropping them keeps postings short (query speed) and scores sharp.
STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i if in into is it its me my "
    "no not of on or our should so than that the their them then there these they this to was we were what when "
    "where which who why will with would you your".split()
)


# An identifier: a compound holding a digit and a letter or an inner separator ("E4039", "LK-220X", "3.15.1",
# "gpt-4.1"); a bare number ("2024", "30") is not one.
_DIGIT = re.compile(r"\d")
_LETTER_OR_JOIN = re.compile(r"[^\W\d_]|\d[-._/:]\d")


def identifiers(text: str) -> list[tuple[str, ...]]:
    """Return the identifiers a question names, each as its spellings to look for: the whole compound, and without a
    leading "v" ("v3.15.1" -> "3.15.1"). Lower-cased, as `tokenize` stores terms.
    """
    out: list[tuple[str, ...]] = []
    for match in _COMPOUND.finditer(text.lower()):
        whole = match.group()
        if _DIGIT.search(whole) and _LETTER_OR_JOIN.search(whole):
            bare = whole[1:] if whole[0] == "v" and whole[1:2].isdigit() else None
            out.append((whole, bare) if bare else (whole,))
    return list(dict.fromkeys(out))


def tokenize(text: str) -> list[str]:
    """Return the lower-cased terms for BM25: each word or identifier whole, then its parts.

    "LK-220X" gives lk-220x, lk, 220x, 220, x; "3.15.1" gives 3.15.1, 3, 15, 1; "E4039" gives e4039, e, 4039.
    A query naming the exact identifier matches its whole form (rare, so high weight); one naming only a part
    ("the 220X") still matches the part.
    """
    out: list[str] = []
    for match in _COMPOUND.finditer(text.lower()):
        whole = match.group()
        if whole not in STOPWORDS:
            out.append(whole)
        parts: dict[str, None] = {}
        for piece in re.split(r"[-._/:]", whole):
            parts[piece] = None
            for sub in _PIECE.findall(piece):
                parts[sub] = None
        out.extend(p for p in parts if p != whole and p not in STOPWORDS)
    return out


class Bm25:
    """Okapi BM25 over a fixed set of chunks, with Lucene's always-positive idf.

    K1 and B are the usual defaults (Robertson & Zaragoza; Lucene and Elasticsearch use the same).
    """

    K1 = 1.2
    B = 0.75

    def __init__(self, ids: list[str], token_lists: list[list[str]]) -> None:
        self.ids = ids
        self.count = len(ids)
        vocab: dict[str, int] = {}
        term_ids = [[vocab.setdefault(t, len(vocab)) for t in tokens] for tokens in token_lists]
        self.vocab = vocab
        lengths = np.fromiter((len(t) for t in term_ids), dtype=np.float32, count=self.count)
        flat = np.fromiter((t for row in term_ids for t in row), dtype=np.int64, count=int(lengths.sum()))
        docs: np.ndarray = np.repeat(np.arange(self.count, dtype=np.int64), lengths.astype(np.int64))
        # (term, chunk) pairs sorted by term: each term's postings are one contiguous slice (CSR by term).
        pairs, tf = np.unique(flat * max(1, self.count) + docs, return_counts=True)
        terms = pairs // max(1, self.count)
        self._docs = (pairs % max(1, self.count)).astype(np.int32)
        self._tf = tf.astype(np.float32)
        self._start: np.ndarray = np.searchsorted(terms, np.arange(len(vocab) + 1)).astype(np.int64)
        mean = float(lengths.mean()) if self.count else 1.0
        self._norm = self.K1 * (1.0 - self.B + self.B * lengths / max(mean, 1e-9))

    def holding(self, spellings: tuple[str, ...]) -> np.ndarray | None:
        """Return a mask of the chunks that contain one of `spellings` as a whole term; None when no chunk does."""
        mask: np.ndarray = np.zeros(self.count, dtype=bool)
        for term in spellings:
            tid = self.vocab.get(term)
            if tid is not None:
                mask[self._docs[self._start[tid] : self._start[tid + 1]]] = True
        return mask if mask.any() else None

    def top(self, query: str, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float, float]]:
        """Return (chunk index, score, coverage) of the `n` best chunks that share a term with `query`, best first.

        coverage: the share of the query's term weight (idf, summed over its distinct terms) that the chunk
        contains. Terms no chunk has count at the largest idf: a question whose words are mostly absent from
        the corpus is not a keyword match, however well its one common word scores. `allowed` (a boolean mask
        over chunks) restricts the search to a metadata filter's chunks.
        """
        scores: np.ndarray = np.zeros(self.count, dtype=np.float32)
        matched: np.ndarray = np.zeros(self.count, dtype=np.float32)
        total = 0.0
        for term in dict.fromkeys(tokenize(query)):
            tid = self.vocab.get(term)
            df = 0 if tid is None else int(self._start[tid + 1] - self._start[tid])
            idf = math.log(1.0 + (self.count - df + 0.5) / (df + 0.5))
            total += idf
            if tid is None or not df:  # a term no chunk has (tid None) has df 0
                continue
            lo, hi = self._start[tid], self._start[tid + 1]
            docs, tf = self._docs[lo:hi], self._tf[lo:hi]
            scores[docs] += idf * tf * (self.K1 + 1.0) / (tf + self._norm[docs])
            matched[docs] += idf
        if allowed is not None:
            scores[~allowed] = 0.0
        found = np.flatnonzero(scores > 0)
        if len(found) > n:
            found = found[np.argpartition(-scores[found], n - 1)[:n]]
        # Ties (chunks identical but for an unmatched word) break by chunk id, so results never depend on row order.
        order = sorted(found.tolist(), key=lambda i: (-float(scores[i]), self.ids[i]))
        return [(i, float(scores[i]), float(matched[i]) / total) for i in order]


def store_path(client: ClientAPI) -> Path:
    """Return where a client's lexical index lives: inside a local Chroma folder (covered by its writer lock), or, for a
    Chroma server, in tunewise's cache folder: a server keeps no files of ours, and the index is a cache of its
    documents that `sync` rebuilds on any machine.
    """
    settings = client.get_settings()
    if settings.is_persistent and settings.persist_directory:
        return Path(settings.persist_directory) / FILE_NAME
    from tools.tokens import cache_dir

    host = re.sub(r"[^A-Za-z0-9.-]", "_", str(settings.chroma_server_host or "server"))
    return cache_dir() / "lexical" / f"{host}-{settings.chroma_server_http_port}.sqlite3"


class LexicalStore:
    """Each collection's chunk tokens, keyed by Chroma's collection id and the content-hash chunk ids."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit, one per batch; timeout: another process may be writing.
        self._db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS collections (collection TEXT PRIMARY KEY, tokenizer INTEGER NOT NULL);"
            "CREATE TABLE IF NOT EXISTS chunks (collection TEXT NOT NULL, id TEXT NOT NULL, tokens TEXT NOT NULL,"
            " PRIMARY KEY (collection, id)) WITHOUT ROWID;"
        )

    @classmethod
    def for_client(cls, client: ClientAPI) -> LexicalStore:
        """Open the store at store_path(client), creating it if needed."""
        return cls(store_path(client))

    def close(self) -> None:
        """Close the SQLite connection."""
        self._db.close()

    def _begin(self, collection: str) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        row = self._db.execute("SELECT tokenizer FROM collections WHERE collection = ?", (collection,)).fetchone()
        if row is None or row[0] != TOKENIZER_VERSION:
            # Tokens from another tokenizer would not match today's queries: drop them; sync re-reads the texts.
            self._db.execute("DELETE FROM chunks WHERE collection = ?", (collection,))
            self._db.execute("INSERT OR REPLACE INTO collections VALUES (?, ?)", (collection, TOKENIZER_VERSION))

    def upsert(self, collection: str, ids: list[str], texts: list[str]) -> None:
        """Tokenize `texts` and store them under `ids`, replacing what those ids held, in one transaction."""
        rows = [(collection, id_, " ".join(tokenize(text))) for id_, text in zip(ids, texts)]
        self._begin(collection)
        try:
            self._db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def delete(self, collection: str, ids: Iterable[str]) -> None:
        """Drop the chunks `ids` of `collection`, in one transaction."""
        self._begin(collection)
        try:
            self._db.executemany("DELETE FROM chunks WHERE collection = ? AND id = ?", [(collection, i) for i in ids])
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def ids(self, collection: str) -> set[str]:
        """Return the chunk ids stored for `collection`: none when they were tokenized by another TOKENIZER_VERSION."""
        row = self._db.execute("SELECT tokenizer FROM collections WHERE collection = ?", (collection,)).fetchone()
        if row is None or row[0] != TOKENIZER_VERSION:
            return set()
        return {r[0] for r in self._db.execute("SELECT id FROM chunks WHERE collection = ?", (collection,))}

    def sync(
        self, chroma_collection: Collection, chroma_ids: Iterable[str] | None = None, *, page: int = 1000
    ) -> tuple[int, int]:
        """Make this collection's tokens match the chunks in Chroma; return (chunks added, chunks dropped).

        Our ids are read before Chroma's: a writer adds to Chroma first and deletes from Chroma first, so a
        concurrent index run can make this add a chunk twice (harmless) but never drop a live one.
        """
        key = str(chroma_collection.id)
        have = self.ids(key)
        live = set(chroma_ids) if chroma_ids is not None else _all_ids(chroma_collection, page)
        missing = sorted(live - have)
        gone = sorted(have - live)
        for start in range(0, len(missing), page):
            got = chroma_collection.get(ids=missing[start : start + page], include=["documents"])
            pairs = [(i, d) for i, d in zip(got["ids"], got["documents"]) if d is not None]
            self.upsert(key, [i for i, _ in pairs], [d for _, d in pairs])
        if gone:
            self.delete(key, gone)
        return len(missing), len(gone)

    def load(self, collection: str) -> Bm25:
        """Build the BM25 index of `collection`'s stored chunks, rows in chunk id order."""
        rows = self._db.execute(
            "SELECT id, tokens FROM chunks WHERE collection = ? ORDER BY id", (collection,)
        ).fetchall()
        return Bm25([r[0] for r in rows], [r[1].split() for r in rows])


def _all_ids(collection: Collection, page: int) -> set[str]:
    found: set[str] = set()
    offset = 0
    while True:
        got = collection.get(include=[], limit=page, offset=offset)
        found.update(got["ids"])
        if len(got["ids"]) < page:
            return found
        offset += page
