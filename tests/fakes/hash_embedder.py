"""A deterministic bag-of-words embedder: same interface as tools.clients' embedders, no model to load."""

from __future__ import annotations

import hashlib
import re
import time

import numpy as np

_WORD = re.compile(r"\w+|[^\w\s]")


class HashEmbedder:
    """Hashes each lowercased word into `dimension` buckets; texts sharing words get close vectors."""

    def __init__(
        self, dimension: int = 64, name: str = "fake:hash", max_tokens: int = 512, delay_s: float = 0.0
    ) -> None:
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.delay_s = delay_s  # lets a test kill a run while it is embedding
        self.calls = 0
        self.embedded = 0

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.embedded += len(texts)
        if self.delay_s:
            time.sleep(self.delay_s)
        out = np.zeros((len(texts), self.dimension), dtype="float32")
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, digest[0] % self.dimension] += 1.0 if digest[1] % 2 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else np.eye(1, self.dimension, dtype="float32")[0]
        return out
