"""The agent's state: plain JSON values only (the SQLite checkpointer stores them), and never a secret.

Side-effect objects (the interviewer with its client, the step runners) travel in the run `Context`, which
LangGraph hands to nodes but never writes to the session database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal, TypedDict

Source = Literal["stated", "inferred", "asked", "assumed"]
# planned: nothing in the plan can run (no data or docs yet, or nothing to spend on), so the plan is the result.
Status = Literal[
    "interviewing",
    "awaiting_answer",
    "awaiting_approval",
    "over_budget",
    "approved",
    "rejected",
    "executing",
    "planned",
    "completed",
    "failed",
]

# The framework's steps in order: (key, primary fact the step resolves, title).
STEPS: list[tuple[str, str, str]] = [
    ("prompt", "prompting", "1. Can a better prompt solve it?"),
    ("problem", "problem", "2. Is the problem knowledge or behaviour?"),
    ("data", "examples", "3. Is there enough good training data?"),
    ("stability", "stable", "4. Is the behaviour stable?"),
    ("path", "private", "5. Which path?"),
]
STEP_OF_FACT = {fact: key for key, fact, _ in STEPS}


def merge(left: dict | None, right: dict | None) -> dict:
    """Reducer: later keys win, so each node returns only what it learned."""
    return {**(left or {}), **(right or {})}


def append(left: list | None, right: list | None) -> list:
    return [*(left or []), *(right or [])]


class Fact(TypedDict):
    value: Any
    source: Source
    evidence: str


class StepRecord(TypedDict):
    step: str
    question: str
    answer: Any
    source: Source
    evidence: str


class AgentState(TypedDict, total=False):
    session: str
    goal: str
    data_path: str | None
    docs_dir: str | None
    budget_usd: float | None
    interactive: bool
    preset: dict[str, str]  # --answer KEY=VALUE, read like answers to the questions
    today: str | None  # ISO date for OpenAI's availability; None means today (tests pin it)
    interviewer: str  # "offline" or "llm:MODEL": said to the user, never a key
    facts: Annotated[dict[str, Fact], merge]
    steps: Annotated[dict[str, StepRecord], merge]
    questions: Annotated[list[dict], append]  # asked of nobody and assumed (non-interactive)
    retries: Annotated[dict[str, int], merge]
    transcript: Annotated[list[dict], append]  # {"role": "agent"|"user", "text"}
    doubts: Annotated[dict[str, str | None], merge]  # fact -> why its reading is in doubt (two readings); None: settled
    reading_pending: bool  # intake read the goal with the rules only; the full reading is merged after the first answer
    asking: str | None  # the step that is asking again (its reply could not be read)
    confirmed: bool  # the person accepted the list of what was read (interactive); corrections reset it
    confirm_note: str | None  # why the last reply to the confirm list could not be read
    validation: dict | None
    recommendation: dict  # the --json contract: approach, fine_tune_path, rationale
    decision: dict  # the full decision: notes, collect, the facts it was made from
    plan: dict
    approval: dict | None
    decision_note: str | None  # why the last approval answer was refused
    executed: Annotated[dict[str, dict], merge]
    report: dict
    status: Status


@dataclass
class Context:
    """Per-run objects with side effects; LangGraph passes them to nodes and does not persist them."""

    interviewer: Any = None  # .extract(text, focus=) -> list[Finding]
    # The goal's reading started before the graph ran (agent.interviewer.early.GoalReading): .goal, .quick (rules
    # only, ready), .result() (the full reading; may wait for the embedder), .read_quickly(text, focus=).
    reading: Any = None
    runners: dict[str, Callable[..., dict]] | None = None  # step name -> runner; None: graphs.pipeline.RUNNERS
    approved_by: str = "cli"
    extras: dict[str, Any] = field(default_factory=dict)
