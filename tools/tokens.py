"""tiktoken encodings, loaded once, with a clear message instead of a hang when one cannot be had."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

from tools.errors import TunewiseError

# tiktoken downloads an encoding on first use; a blackholed network would hang it forever.
_LOAD_TIMEOUT_S = 30.0


@lru_cache(maxsize=4)
def get_encoding(name: str):
    """Return the tiktoken encoding `name`, or raise a TunewiseError saying how to provide it."""
    import tiktoken

    box: dict[str, object] = {}

    def load() -> None:
        try:
            box["enc"] = tiktoken.get_encoding(name)
        except BaseException as exc:  # noqa: BLE001 - reported below as one line
            box["err"] = exc

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(_LOAD_TIMEOUT_S)
    if "enc" in box:
        return box["enc"]
    reason = "timed out downloading it" if worker.is_alive() else f"{type(box['err']).__name__}: {str(box['err'])[:120]}"
    cache = os.environ.get("TIKTOKEN_CACHE_DIR", "(TIKTOKEN_CACHE_DIR not set)")
    raise TunewiseError(
        f"cannot load the tiktoken encoding '{name}' ({reason})",
        hint=f"tiktoken downloads it on first use; without network, point TIKTOKEN_CACHE_DIR at a folder holding its cached file (now: {cache})",
    )
