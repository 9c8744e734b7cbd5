"""What `tunewise eval` takes and what it reports: the input, the candidates' specs, and the result models.

Kept apart from the run (tools/evaluation/evaluate.py) so the report writer can read these types without
importing the run that calls it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from tools.errors import UsageError
from tools.models.spec import ModelSpec, parse_spec
from tools.records import OmitNone

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class EvalInput(BaseModel):
    """One `tunewise eval`: the eval file, the candidates, what +prompted and +rag add, the metrics' options, the
    report folder.
    """

    model_config = ConfigDict(extra="forbid")

    eval_file: Path = Field(
        description="Held-out examples (the eval.jsonl `tunewise split` wrote); their final "
        "assistant turns are the references."
    )
    candidates: list[str] = Field(
        min_length=1, description="NAME=SPEC, e.g. tuned=hf:BASE+adapter:RUN, prompted=openai:gpt-4.1-mini+prompted."
    )
    train_file: Path | None = Field(
        default=None, description="Where few-shot examples come from; must share no prompt with the eval file."
    )
    few_shot: int = Field(
        default=5, ge=0, le=50, description="Few-shot examples for +prompted candidates (the article's 3-5)."
    )
    system_prompt_file: Path | None = Field(
        default=None, description="System prompt for +prompted; default: the data's own."
    )
    collection: str | None = Field(default=None, description="Collection `tunewise index` built, for +rag candidates.")
    rag_k: int = Field(default=4, ge=1, le=20, description="Passages retrieved per question for +rag.")
    schema_path: Path | None = Field(default=None, description="JSON schema every output must validate against.")
    judge: str | None = Field(
        default=None, description="openai:MODEL to grade outputs pairwise against the reference (spends API tokens)."
    )
    max_examples: int | None = Field(default=None, ge=1, description="Evaluate only the first N usable examples.")
    max_new_tokens: int = Field(default=256, ge=1, le=8192, description="Longest reply generated per example.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0, description="0 is greedy: the same outputs every run.")
    seed: int = Field(default=0, description="Seeds the few-shot sample, the judge's order and the bootstrap.")
    target: float | None = Field(
        default=None, ge=0, le=1, description="The person's target on `target_metric`, for the gap-closure line."
    )
    target_metric: str | None = Field(default=None, description="The metric step 1 was judged on (gap-closure).")
    cache_dir: Path | None = Field(
        default=None, description="Keep every reply here, so a killed run resumes without generating it again."
    )
    out: Path = Field(description="Report folder: report.json, report.md, report.html, outputs.jsonl.")
    _specs: dict[str, ModelSpec] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Parse the candidates once, here: a bad spec is one clear error before anything runs."""
        self._specs = parse_candidates(self.candidates)

    @property
    def specs(self) -> dict[str, ModelSpec]:
        """Return the parsed candidates by name."""
        return self._specs


PAID_HOST = "api.openai.com"


def paid_models(inp: EvalInput, *, env_base_url: str | None) -> list[str]:
    """Return the models this evaluation bills on OpenAI itself, as "NAME (MODEL)": `openai:` candidates and the
    judge headed for api.openai.com (`env_base_url` is OPENAI_BASE_URL, which a spec without @URL uses).
    """
    named = list(inp.specs.items()) + ([("judge", parse_spec(inp.judge))] if inp.judge else [])
    env_url = env_base_url or ""
    return [
        f"{name} ({spec.model})"
        for name, spec in named
        if spec.kind == "openai" and (PAID_HOST in (spec.base_url or env_url) or not (spec.base_url or env_url))
    ]


class MetricValue(BaseModel):
    """One metric of one candidate: its mean and bootstrap 95% interval (None: NaN or not applicable)."""

    model_config = ConfigDict(frozen=True)
    mean: float | None = Field(description="On all examples; None when the metric applied to none.")
    low: float | None = Field(description="Bootstrap 95% interval, lower end.")
    high: float | None = Field(description="Bootstrap 95% interval, upper end.")


class CandidateResult(BaseModel):
    """One candidate's results: its name and spec, how many examples it answered, its metrics by name."""

    model_config = ConfigDict(frozen=True)
    name: str
    spec: str
    n: int = Field(description="Examples answered (the same ones for every candidate).")
    metrics: dict[str, MetricValue]


class EvalResult(OmitNone):
    """What `tunewise eval` found: every candidate's metrics, the winner, the verdict line and the report folder."""

    model_config = ConfigDict(frozen=True)
    omit_if_none = frozenset({"gap"})  # an evaluation without the three candidates keeps the JSON it always had
    candidates: list[CandidateResult]
    winner: str | None = Field(
        description="The candidate with the most significant wins, or None when none stands out."
    )
    verdict: str = Field(description="The top candidate against the runner-up, metric by metric, with intervals.")
    report_dir: str
    gap: Any = Field(
        default=None,
        description="tools/evaluation/gap.Gap when tuned, base and prompted ran: did fine-tuning earn its cost?",
    )


def parse_candidates(items: list[str]) -> dict[str, ModelSpec]:
    """Parse NAME=SPEC pairs into specs by name; raise TunewiseError (exit code 2) on a bad pair or a reused name."""
    out: dict[str, ModelSpec] = {}
    for item in items:
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise UsageError(
                f"bad --candidate '{item}'",
                hint="use NAME=SPEC, e.g. tuned=hf:BASE+adapter:RUN (names: letters, digits, . _ -)",
            )
        if name in out:
            raise UsageError(f"candidate name '{name}' is used twice", hint="give each candidate its own name")
        out[name] = parse_spec(spec)
    return out
