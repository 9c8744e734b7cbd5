"""JSON that keeps its shape as models gain fields: optional fields left out while they are None.

A plan's JSON is what an approval hashes, and `--json` outputs are contracts (tests/golden/). A field added later
(a GPU machine's note, a gap-closure, a model's shutdown date) must not appear as `null` in the JSON of everything
made without it. `OmitNone` subclasses name those fields in `omit_if_none`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer


class OmitNone(BaseModel):
    """A model whose fields named in `omit_if_none` are left out of its JSON (and dumps) while they are None."""

    omit_if_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _without_unset_extras(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in self.omit_if_none and v is None)}
