"""Teacher and judge calls that are paid once: each reply is kept on disk (tools/evaluation/ledger.py) as its batch
returns, so a killed run, run again, sends only the calls it has no reply for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tools.evaluation.ledger import GenerationLedger, key
from tools.models.generation import Generation
from tools.progress import Progress, Update

BATCH = 8  # calls sent together: one batch is what a kill can cost


@dataclass
class Spend:
    """What the calls of one run cost: calls paid now, calls found kept, and the USD of the paid ones."""

    approved_usd: float | None
    paid: int = 0
    kept: int = 0
    usd: float = 0.0
    by_stage: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, made: list[Generation], price_in: float, price_out: float) -> None:
        """Count a paid batch at its prices (USD per 1M prompt and completion tokens; 0 for a local model)."""
        cost = sum(g.prompt_tokens * price_in + g.completion_tokens * price_out for g in made) / 1e6
        self.paid += len(made)
        self.usd += cost
        self.by_stage[stage] = self.by_stage.get(stage, 0.0) + cost


class OverBudget(Exception):
    """The next batch would take the spend past the approval: stopped before sending it."""


def generate_kept(
    stage: str,
    spec: str,
    load: Callable[[], Any],
    conversations: list[list[dict]],
    *,
    folder: Path,
    max_new_tokens: int,
    temperature: float,
    spend: Spend,
    prices: tuple[float, float],
    progress: Progress,
) -> list[Generation]:
    """Reply to each conversation with the model `load()` builds (only if some reply is missing), in order.

    Before each paid batch the spend so far is checked against the approval: a run never goes past it.
    """
    ledger = GenerationLedger(folder, stage.replace(" ", "_"))
    keys = [key(spec, c, max_new_tokens, temperature) for c in conversations]
    first = {k: i for i, k in reversed(list(enumerate(keys)))}  # the same conversation twice is asked once
    spend.kept += sum(1 for k in first if k in ledger.done)
    out: list[Generation] = []
    generator = None
    for start in range(0, len(conversations), BATCH):
        batch = [
            i for i in range(start, min(len(keys), start + BATCH)) if first[keys[i]] == i and keys[i] not in ledger.done
        ]
        if batch:
            if spend.approved_usd is not None and spend.usd > spend.approved_usd:
                raise OverBudget(stage)
            generator = generator or load()
            made = generator.generate(
                [conversations[i] for i in batch], max_new_tokens=max_new_tokens, temperature=temperature
            )
            ledger.add([keys[i] for i in batch], made)
            spend.add(stage, made, *prices)
        out += [ledger.done[k] for k in keys[start : start + BATCH]]
        progress(Update(stage=stage, done=len(out), total=len(conversations), unit="calls"))
    return out
