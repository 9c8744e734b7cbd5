"""The synthesize tool's typed input and result: what to draft from, with which models, and what each stage kept."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

STAGES = ("drafted", "valid", "unique", "passed_judge", "accepted")


class SynthInput(BaseModel):
    """One synthesis run: the seeds, how many drafts, the teacher and judge, the documents, where to write."""

    model_config = ConfigDict(extra="forbid")
    seeds: Path = Field(description="The good examples (chat JSONL) the drafts are modelled on.")
    n: int = Field(ge=1, le=100_000, description="How many drafts to make.")
    teacher: str = Field(description="Model spec that drafts: openai:MODEL, openai:MODEL@URL (vLLM, Ollama), hf:PATH.")
    judge: str | None = Field(default=None, description="Model spec that scores the drafts [default: the teacher].")
    docs: Path | None = Field(default=None, description="Documents the requests may draw on (a folder or a file).")
    out: Path = Field(description="The training file written: the training seeds plus the accepted drafts.")
    held_out: int | None = Field(
        default=None, ge=1, description="Real examples frozen for evaluation first [default: the plan's size]."
    )
    threshold: int = Field(default=4, ge=1, le=5, description="The judge's lowest passing score (1-5).")
    per_call: int = Field(default=10, ge=1, le=50, description="Requests drafted per teacher call.")
    seed: int = Field(default=0, description="Which seeds each call is shown (the same seed, the same calls).")

    @property
    def work(self) -> Path:
        """The run's folder beside the output file: the frozen split, the paid replies, the review files."""
        return self.out.parent / f"{self.out.stem}-review"

    @property
    def judge_spec(self) -> str:
        """The judge's spec: the teacher's own when none was named."""
        return self.judge or self.teacher


class Counts(BaseModel):
    """How many drafts were left after each stage."""

    drafted: int = 0
    valid: int = 0
    unique: int = 0
    passed_judge: int = 0
    accepted: int = 0


class SynthResult(BaseModel):
    """What a synthesis run made: the counts per stage, what it spent, and the files a person reviews."""

    counts: Counts
    cost_usd: float = Field(description="What the calls made in this run cost (replies kept from a killed run: $0).")
    estimated_usd: float
    teacher: str
    judge: str
    seeds: int = Field(description="Training seeds the drafts were modelled on (the held-out ones never shown).")
    held_out: int
    held_out_file: str
    train_seeds_file: str
    review_html: str
    review_jsonl: str
    out: str
    pending: int = Field(description="Kept drafts no person has accepted or rejected yet.")
    calls_paid: int = Field(description="Teacher and judge calls made in this run; calls kept from before are free.")
    calls_kept: int
    dropped: dict[str, int] = Field(default_factory=dict, description="Why drafts were dropped, by reason.")
    notes: list[str] = Field(default_factory=list)
