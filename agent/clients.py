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
