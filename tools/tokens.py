"""tiktoken encodings, loaded once, with a clear message instead of a hang when one cannot be had.

tiktoken rebuilds an encoding's 200,000 ranks from base64 text on every start (~0.12 s for o200k_base); the
ranks are kept here as a marshal file next to the other tunewise caches, which loads in ~0.04 s. `validate`
and `estimate` start that much sooner. The file is keyed by tiktoken's version and rebuilt when unreadable.
"""

from __future__ import annotations

import marshal
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, cast

from tools.errors import TunewiseError

if TYPE_CHECKING:
    import tiktoken

# tiktoken downloads an encoding on first use; a blackholed network would hang it forever.
_LOAD_TIMEOUT_S = 30.0
_SPEC_KEYS = {"name", "pat_str", "mergeable_ranks", "special_tokens"}


def cache_dir() -> Path:
    """Return $TUNEWISE_CACHE_DIR, else $XDG_CACHE_HOME/tunewise, else ~/.cache/tunewise."""
    explicit = os.environ.get("TUNEWISE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tunewise"


def _spec_file(name: str) -> Path:
    import tiktoken

    return cache_dir() / "tiktoken" / f"{name}-{tiktoken.__version__}.marshal"


def _load(name: str) -> tiktoken.Encoding:
    """Build the encoding from its marshal cache, else from tiktoken's constructor (and write the cache); a plugin's
    encoding is left to tiktoken's own loading, uncached.
    """
    import tiktoken

    path = _spec_file(name)
    try:
        spec = marshal.loads(path.read_bytes())
        if isinstance(spec, dict) and spec.keys() == _SPEC_KEYS and spec["name"] == name:
            return tiktoken.Encoding(**spec)
    except (OSError, ValueError, EOFError, TypeError):
        pass  # no cache yet, or a damaged one: rebuilt below
    try:
        from tiktoken_ext.openai_public import ENCODING_CONSTRUCTORS
    except ImportError:
        ENCODING_CONSTRUCTORS = {}
    if name not in ENCODING_CONSTRUCTORS:
        return tiktoken.get_encoding(name)  # a plugin's encoding: tiktoken's own loading, uncached
    spec = ENCODING_CONSTRUCTORS[name]()
    if spec.keys() == _SPEC_KEYS:
        try:
            from tools.atomic import atomic_open

            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(path, "wb", encoding=None) as fh:
                fh.write(marshal.dumps(spec))
        except OSError:
            pass  # a read-only home only costs the faster start
    return tiktoken.Encoding(**spec)


@lru_cache(maxsize=4)
def get_encoding(name: str) -> tiktoken.Encoding:
    """Return the tiktoken encoding `name`, or raise a TunewiseError saying how to provide it."""
    box: dict[str, object] = {}

    def load() -> None:
        try:
            box["enc"] = _load(name)
        except BaseException as exc:  # noqa: BLE001 - reported below as one line
            box["err"] = exc

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(_LOAD_TIMEOUT_S)
    if "enc" in box:
        return cast("tiktoken.Encoding", box["enc"])  # set only from _load's result
    reason = (
        "timed out downloading it" if worker.is_alive() else f"{type(box['err']).__name__}: {str(box['err'])[:120]}"
    )
    cache = os.environ.get("TIKTOKEN_CACHE_DIR", "(TIKTOKEN_CACHE_DIR not set)")
    raise TunewiseError(
        f"cannot load the tiktoken encoding '{name}' ({reason})",
        hint=f"tiktoken downloads it on first use; without network, point TIKTOKEN_CACHE_DIR at a folder holding its cached file (now: {cache})",
    )
