"""Bottom-k MinHash sketches of the examples' user turns, for `validate`'s near-duplicate finder.

The scan buffers each example's user-turn token ids and sketches a batch at once in numpy: hashing the trigrams
one by one in Python cost ~4.5 µs per example, the batch ~1.2 µs (benchmarks/datagen.py data, one core).

A sketch holds 32-bit hashes (64 bytes an example): every example of a million-example file is sketched in 64 MB,
and two texts' 16 smallest of ~100 trigram hashes collide by chance about once in 10^7 comparisons, which only
nudges one similarity estimate by 1/16.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MINHASHES = 16  # a bottom-k sketch: the k smallest shingle hashes (one permutation, k samples)
EMPTY = 0xFFFFFFFF  # pads the sketch of a text with fewer than k distinct shingles; no real hash takes it
USER_TOKENS = 4096  # user-turn tokens kept per example: enough to tell two requests apart
PAD = 0xFFFFFFFF  # not a token id: pads a one- or two-token text to a single trigram
BATCH_EXAMPLES = 8192
BATCH_TOKENS = 1 << 19  # bounds a batch's numpy temporaries to ~25 MB whatever the turn lengths
_HASH_BITS = 32


class Sketcher:
    """Appends MINHASHES uint32 per example to `out` (an array("I")), for the first `limit` examples.

    The scan's hot loop fills `tokens` and `ends` itself (a method call per example costs more than the work):
    an example's user-turn ids go to `tokens`, padded to at least one trigram, then `len(tokens)` to `ends`;
    it calls `flush` when `full()`.
    """

    def __init__(self, out: array, limit: int) -> None:
        self.out = out
        self.limit = limit
        self.tokens = array("I")
        self.ends = array("q")

    def full(self) -> bool:
        """Return whether the buffered batch has BATCH_EXAMPLES examples or BATCH_TOKENS tokens."""
        return len(self.ends) >= BATCH_EXAMPLES or len(self.tokens) >= BATCH_TOKENS

    def flush(self) -> None:
        """Sketch the buffered examples into `out`, lower `limit` by their number and empty the buffers."""
        n = len(self.ends)
        if n:
            self.out.frombytes(sketch_batch(self.tokens, self.ends).tobytes())
            self.limit -= n
            self.tokens = array("I")
            self.ends = array("q")


def sketch_batch(tokens: array, ends: array) -> np.ndarray:
    """Return (examples, MINHASHES) uint32: each example's smallest distinct trigram hashes, ascending, EMPTY-padded."""
    import numpy as np

    u64 = np.uint64
    n = len(ends)
    rows: np.ndarray = np.full((n, MINHASHES), EMPTY, dtype=np.uint32)
    ids = np.frombuffer(tokens, dtype=np.uint32).astype(np.uint64)
    if len(ids) < 3:
        return rows
    stops = np.frombuffer(ends, dtype=np.int64)
    # A trigram's hash: its three ids times odd constants, mixed by a splitmix64-style finaliser.
    h = (
        (ids[:-2] * u64(0x9E3779B97F4A7C15))
        ^ (ids[1:-1] * u64(0xC2B2AE3D27D4EB4F))
        ^ (ids[2:] * u64(0x165667B19E3779F9))
    )
    h ^= h >> u64(31)
    h *= u64(0xBF58476D1CE4E5B9)
    h ^= h >> u64(29)
    owner: np.ndarray = np.repeat(np.arange(n, dtype=np.int64), np.diff(stops, prepend=0))[: len(h)]
    inside = np.arange(len(h)) + 2 < stops[owner]  # drop trigrams that straddle two examples
    # One sort orders every example's shingles at once: the example index above the hash bits.
    # The hash's top 32 bits, kept below EMPTY.
    key = (owner[inside].astype(np.uint64) << u64(_HASH_BITS)) | np.minimum(
        h[inside] >> u64(64 - _HASH_BITS), u64(EMPTY - 1)
    )
    key.sort()
    key = key[np.r_[True, key[1:] != key[:-1]]]
    example = (key >> u64(_HASH_BITS)).astype(np.int64)
    rank = np.arange(len(key)) - np.searchsorted(example, example)
    keep = rank < MINHASHES
    rows[example[keep], rank[keep]] = (key[keep] & u64(EMPTY)).astype(np.uint32)
    return rows
