"""The factories of the clients with side effects: OpenAI and Chroma (embedders: tools/rag/embedders.py).

Tools never call these themselves: a tool takes its client as a keyword argument, and the callers (the CLI
commands and the graph's step runners) build it here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tools.errors import TunewiseError, UsageError

if TYPE_CHECKING:
    import openai
    from chromadb.api import ClientAPI


def get_openai_client(
    *, base_url: str | None = None, max_retries: int | None = None, timeout: float | None = None
) -> openai.OpenAI:
    """Build an `openai.OpenAI` client from OPENAI_API_KEY and OPENAI_BASE_URL (never from a flag in shell history).

    `base_url` overrides OPENAI_BASE_URL; without a key, only a base URL is accepted (a local server takes any key).
    Raises TunewiseError when the openai package is missing or neither a key nor a base URL is set.
    """
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
    kwargs: dict[str, Any] = {"api_key": key, "base_url": url}
    if max_retries is not None:
        kwargs["max_retries"] = max_retries
    if timeout is not None:
        kwargs["timeout"] = timeout
    return openai.OpenAI(**kwargs)


def get_upstream_client(base_url: str, *, key_env: str | None = None) -> openai.OpenAI:
    """Build a client for an OpenAI-compatible server tunewise fronts (vLLM, SGLang, llama.cpp, Ollama): its key is
    read from the variable `key_env` names, never OPENAI_API_KEY, so the OpenAI key is not sent to another server.
    """
    import openai

    key = os.environ.get(key_env) if key_env else None
    if key_env and not key:
        raise TunewiseError(f"{key_env} is not set", hint=f"export {key_env}=... (the upstream's key)")
    return openai.OpenAI(api_key=key or "not-needed", base_url=base_url, max_retries=0)


def get_chroma_client(db: Path | None = None, url: str | None = None) -> ClientAPI:
    """Build a Chroma client: a server through HttpClient when `url` is given, else a PersistentClient under `db`
    (default: the settings' chroma_dir).

    Collections are always opened with `embedding_function=None` by the tools: vectors come from our embedder,
    never from Chroma's default one (which would download a model).
    """
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        raise TunewiseError("chromadb is not installed", hint='pip install "tunewise[rag]"') from None
    settings = ChromaSettings(anonymized_telemetry=False)
    if url is not None and db is not None:
        raise UsageError("--db and --chroma-url both given", hint="pick the local folder or the server")
    if url is None:
        from tools.settings import get_settings

        folder = Path(db) if db is not None else get_settings().chroma_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(folder), settings=settings)
        except OSError as exc:
            raise TunewiseError(f"cannot open the Chroma folder: {exc.strerror or exc}", path=str(folder)) from None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"bad --chroma-url '{url}'", hint="use http://HOST:PORT, e.g. http://127.0.0.1:8000")
    ssl = parts.scheme == "https"
    try:
        port = parts.port or (443 if ssl else 8000)
    except ValueError:
        raise UsageError(f"bad port in --chroma-url '{url}'", hint="use http://HOST:PORT") from None
    try:
        return chromadb.HttpClient(host=parts.hostname, port=port, ssl=ssl, settings=settings)
    except ValueError as exc:  # chromadb's "Could not connect to a Chroma server"
        raise TunewiseError(
            f"cannot reach Chroma at {url} ({exc})", hint="start one with `chroma run --path DIR --port PORT`"
        ) from None
