"""Chroma collections as the tools use them: check a name, open or create a collection stamped with the embedder
that builds it (refusing one built with another), and read back which embedder that was.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tools.errors import TunewiseError, UsageError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from tools.rag.embedders import Embedder

# Chroma's own rule for collection names, checked here so the user gets it as one line before any I/O.
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")


def check_collection_name(name: str) -> None:
    """Raise TunewiseError (exit code 2) unless `name` follows Chroma's rule: 3-512 of a-z A-Z 0-9 . _ -, alnum ends."""
    if not _COLLECTION_NAME.fullmatch(name):
        raise UsageError(
            f"bad collection name '{name}'",
            hint="use 3-512 characters from a-z A-Z 0-9 . _ -, starting and ending with a letter or digit",
        )


def open_collection(client: ClientAPI, name: str, embedder: Embedder, *, create: bool = False) -> Collection:
    """Open (or create) `name`, refusing one built with a different embedder than `embedder`."""
    from chromadb.errors import NotFoundError

    check_collection_name(name)
    stamp = {"embedder": embedder.name, "dimension": int(embedder.dimension), "built_by": "tunewise"}
    if create:
        # embedding_function=None: vectors always come from our embedder, never Chroma's default model.
        collection = client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}, metadata=stamp
        )
    else:
        try:
            collection = client.get_collection(name, embedding_function=None)
        except NotFoundError:
            raise TunewiseError(
                f"no collection '{name}' here", hint=f"build it with `tunewise index PATH --collection {name}`"
            ) from None
    have = dict(collection.metadata or {})
    if "embedder" not in have:
        if collection.count():
            raise TunewiseError(
                f"collection '{name}' was not built by tunewise index (it records no embedder)",
                hint="index into a new --collection",
            )
        if create:
            collection.modify(metadata={**have, **stamp})
        return collection
    if (have["embedder"], have.get("dimension")) != (embedder.name, embedder.dimension):
        raise TunewiseError(
            f"collection '{name}' was built with {have['embedder']} ({have.get('dimension')} dims), "
            f"not {embedder.name} ({embedder.dimension} dims); vectors from different embedders cannot be compared",
            hint="use the same --embedder, or index into a new --collection",
        )
    return collection


def collection_embedder(client: ClientAPI, name: str) -> str | None:
    """Return the name of the embedder that built `name` (e.g. 'local:all-MiniLM-L6-v2'), so a search can load the same one."""
    from chromadb.errors import NotFoundError

    check_collection_name(name)
    try:
        return (client.get_collection(name, embedding_function=None).metadata or {}).get("embedder")
    except NotFoundError:
        raise TunewiseError(
            f"no collection '{name}' here", hint=f"build it with `tunewise index PATH --collection {name}`"
        ) from None
