"""One shape for "how far along is it": every tool that takes a while reports through a `Progress` callback.

Indexing reports files and chunks, training its optimizer steps with the loss, evaluation its examples per stage,
deployment what it is doing in words, an OpenAI job its status. Each says it with one `Update`, so a front-end
(the CLI's bars, the demo's stage lines, the graph's step events) has a single reader, not one per tool.
"""

from __future__ import annotations

from typing import Callable

from pydantic import BaseModel, ConfigDict, Field


class Update(BaseModel):
    """One report from a running tool; every field is optional, and a reader shows what it understands."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    done: int | None = Field(default=None, description="Units finished (files, chunks, optimizer steps, examples).")
    total: int | None = Field(default=None, description="Units in all, when the tool knows it.")
    unit: str | None = Field(default=None, description="What `done` counts, in words: 'steps', 'examples', 'chunks'.")
    stage: str | None = Field(default=None, description="The tool's own phase: 'embed', 'generate', 'judge' ...")
    message: str | None = Field(default=None, description="One line the tool says, for a person.")
    metrics: dict[str, float] = Field(
        default_factory=dict, description="Numbers worth watching: loss, tokens_per_s, learning_rate."
    )
    kind: str | None = Field(default=None, description="The tool's event name, where it has one ('log', 'status').")


Progress = Callable[[Update], None]


def silent(update: Update) -> None:
    """Ignore the update: the Progress of a caller that watches nothing."""
