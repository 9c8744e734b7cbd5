"""Generations already paid for, kept on disk so a killed evaluation resumes without generating them again.

Each line of CACHE/NAME.jsonl is one reply with the hash of what produced it: the candidate's spec, the exact
conversation it was sent (few-shot and context included), max_new_tokens and the temperature. A batch is appended
after it returns, in one write, so a kill loses at most the batch in flight. Used by step 1's measurement
(tools/measure/prompt.py), whose examples may be billed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tools.models.generation import Generation


def key(spec: str, conversation: list[dict], max_new_tokens: int, temperature: float) -> str:
    """Return the hash of everything that makes a reply what it is."""
    body = json.dumps([spec, conversation, max_new_tokens, temperature], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


class GenerationLedger:
    """The replies of one candidate, by key."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / f"{name}.jsonl"
        self.done: dict[str, Generation] = {}
        if self.path.is_file():
            for line in self.path.read_text("utf-8").splitlines():
                try:
                    row: dict[str, Any] = json.loads(line)
                    self.done[row["key"]] = Generation.model_validate(row["generation"])
                except (ValueError, KeyError):
                    continue  # a line cut by a kill: that reply is generated again

    def add(self, keys: list[str], generations: list[Generation]) -> None:
        """Append a batch's replies in one write, flushed to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps({"key": k, "generation": g.model_dump()}, ensure_ascii=False) + "\n"
            for k, g in zip(keys, generations)
        )
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(lines)
            fh.flush()
            os.fsync(fh.fileno())
        self.done.update(zip(keys, generations))
