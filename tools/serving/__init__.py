"""The OpenAI-compatible server for a deployment folder written by `tunewise deploy`: `create_app(DIR)`."""

from __future__ import annotations


def __getattr__(name: str):
    # FastAPI loads only when the app is asked for: `tools.serving.context` stays importable without it (eval's +rag).
    if name == "create_app":
        from tools.serving.app import create_app

        return create_app
    raise AttributeError(name)


__all__ = ["create_app"]
