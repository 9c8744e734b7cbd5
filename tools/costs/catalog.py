"""OpenAI model facts and prices from the dated data file, with user overrides."""

from __future__ import annotations

import datetime as dt
import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tools.errors import TunewiseError, UsageError


class TokenPrices(BaseModel):
    """Inference prices in USD per 1M tokens: input, cached input and output."""

    model_config = ConfigDict(frozen=True)
    input: float
    cached_input: float
    output: float


class DatedFact(BaseModel):
    """One published fact the catalogue rests on: what it says, where it was read, and what kind of page that is."""

    model_config = ConfigDict(frozen=True)
    claim: str
    url: str
    page: Literal["OpenAI's own page", "a copy of OpenAI's page", "a third-party page"]
    published: str | None = None  # the notice's own date, when it has one
    read: str  # the day tunewise read it


class OpenAIModel(BaseModel):
    """One OpenAI model: its tokenizer encoding, per-example token limit, whether it fine-tunes, its prices, and the
    day it shuts down (its fine-tuned versions with it), when OpenAI has announced one.
    """

    model_config = ConfigDict(frozen=True)
    name: str
    encoding: str
    max_example_tokens: int = 0  # 0: not fine-tunable, so no training example limit
    fine_tunable: bool
    training: float = 0.0  # USD per 1M trained tokens
    finetuned: TokenPrices | None = None  # inference on a fine-tuned version; None when it cannot be fine-tuned
    base: TokenPrices
    shutdown: dt.date | None = None
    shutdown_source: DatedFact | None = None
    price_source: DatedFact | None = None  # for a model priced after the pricing page's date (_date)

    def alive(self, today: dt.date, *, margin_days: int = 0) -> bool:
        """Tell whether the model still answers `margin_days` after `today` (no announced shutdown: it does)."""
        return self.shutdown is None or (self.shutdown - today).days > margin_days


class EmbeddingModel(BaseModel):
    """One OpenAI embedding model: its price, vector size and input limit."""

    model_config = ConfigDict(frozen=True)
    name: str
    price: float  # USD per 1M input tokens
    dimensions: int
    max_input_tokens: int
    shortenable: bool  # the API takes a `dimensions` parameter


Access = Literal["open", "existing_only", "closed"]


class FineTuningAccess(BaseModel):
    """Who may still create OpenAI fine-tuning jobs, by date: OpenAI's wind-down of its self-serve platform."""

    model_config = ConfigDict(frozen=True)
    new_organisations_closed: dt.date  # organisations that never fine-tuned can no longer start
    recent_use_required: dt.date  # from here, only organisations that served a fine-tuned model recently
    recent_use_days: int
    all_closed: dt.date  # no new jobs for anyone
    sources: list[DatedFact]

    def status(self, today: dt.date | None = None) -> Access:
        """Return 'open' (anyone), 'existing_only' (only OpenAI's existing fine-tuning customers) or 'closed'."""
        today = today or dt.date.today()
        if today >= self.all_closed:
            return "closed"
        if today >= self.new_organisations_closed:
            return "existing_only"
        return "open"

    def rule(self, today: dt.date | None = None) -> str:
        """Say who may still create jobs on `today`, in words that fit after "OpenAI takes new jobs only from"."""
        today = today or dt.date.today()
        if today >= self.recent_use_required:
            return f"organisations that served a fine-tuned model in the last {self.recent_use_days} days"
        return "organisations that have run fine-tuning before"

    def source(self, word: str) -> DatedFact | None:
        """Return the first source whose claim mentions `word` (e.g. a date), for citing it beside that fact."""
        return next((f for f in self.sources if word in f.claim), None)


class OpenAICatalog(BaseModel):
    """The OpenAI price list: models, embeddings, fine-tuning availability and example minimums, with its source and date."""

    model_config = ConfigDict(frozen=True)
    source: str
    date: str
    models: dict[str, OpenAIModel]
    fine_tuning: FineTuningAccess
    min_examples: int
    recommended_min_examples: int
    embeddings: dict[str, EmbeddingModel] = {}

    def embedding(self, name: str) -> EmbeddingModel | None:
        """Return the embedding model's price and size, or None for a model the price list does not know."""
        return self.embeddings.get(name.removeprefix("openai:"))

    def model(self, name: str) -> OpenAIModel:
        """Resolve a model name, a dated snapshot or an `ft:` model to its catalog entry."""
        key = name.removeprefix("openai:")
        if key.startswith("ft:"):
            key = key.split(":")[1]
        # Longest prefix wins, so gpt-4.1-mini-2025-04-14 maps to gpt-4.1-mini, not gpt-4.1.
        for known in sorted(self.models, key=len, reverse=True):
            if key == known or key.startswith(known + "-"):
                return self.models[known]
        raise UsageError(
            f"unknown OpenAI model '{name}'",
            hint=f"use one of {', '.join(sorted(self.models))}, or add it to a --prices file",
        )


def _read_json(path: Path | None) -> dict:
    if path is None:
        return json.loads(resources.files("tools.data").joinpath("openai.json").read_text("utf-8"))
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise TunewiseError("prices file not found", path=str(path), hint="check the --prices path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TunewiseError(f"prices file is not valid JSON ({exc})", path=str(path), hint="fix the JSON") from None


@lru_cache(maxsize=8)
def _load(override: str | None) -> OpenAICatalog:
    data = _read_json(None)
    if override:
        extra = _read_json(Path(override))
        for name, entry in extra.get("models", {}).items():
            data["models"][name] = {**data["models"].get(name, {}), **entry}
        for name, entry in extra.get("embeddings", {}).items():
            if name.startswith("_"):
                continue
            data.setdefault("embeddings", {})[name] = {**data.get("embeddings", {}).get(name, {}), **entry}
        for key in ("fine_tuning", "_date", "_source"):
            if key in extra:
                data[key] = extra[key]
    try:
        models = {name: OpenAIModel(name=name, **entry) for name, entry in data["models"].items()}
        embeddings = {
            name: EmbeddingModel(name=name, **entry)
            for name, entry in data.get("embeddings", {}).items()
            if not name.startswith("_")
        }
        return OpenAICatalog(
            source=data["_source"],
            date=data["_date"],
            models=models,
            fine_tuning=FineTuningAccess(**data["fine_tuning"]),
            min_examples=data["min_examples"],
            recommended_min_examples=data["recommended_min_examples"],
            embeddings=embeddings,
        )
    except Exception as exc:  # pydantic's message names the bad field
        raise TunewiseError(
            f"prices data is incomplete: {exc}", path=override, hint="compare with tools/data/openai.json"
        ) from exc


def openai_catalog(prices_file: str | os.PathLike[str] | None = None) -> OpenAICatalog:
    """Return the catalog, with `prices_file` (or TUNEWISE_PRICES_FILE) layered over the shipped data."""
    override = prices_file or os.environ.get("TUNEWISE_PRICES_FILE")
    return _load(str(override) if override else None)
