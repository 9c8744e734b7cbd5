"""What OpenAI's fine-tuning wind-down means on a given day, in the words every command uses.

The dated facts live in tools/data/openai.json (`fine_tuning`, each model's `shutdown`, each with its source); this
module turns them into the lines that `tunewise plan`, `estimate`, `train --backend openai` and the demo print, so
the same day gives the same truth everywhere.
"""

from __future__ import annotations

import datetime as dt
import math

from tools.costs.catalog import DatedFact, OpenAICatalog, OpenAIModel

DAYS_PER_MONTH = 365.25 / 12


def _cite(fact: DatedFact | None) -> str:
    """Say where a fact was read: 'OpenAI's deprecations notice of 2026-10-14, read on a copy of OpenAI's page'."""
    if fact is None:
        return "tools/data/openai.json"
    when = f" of {fact.published}" if fact.published else ""
    return f"notice{when}, {fact.page}: {fact.url}"


def access_line(catalog: OpenAICatalog, today: dt.date) -> str | None:
    """Say who may create OpenAI fine-tuning jobs on `today`; None while anyone may."""
    access = catalog.fine_tuning
    status = access.status(today)
    source = _cite(access.source("Jan 6, 2027"))
    if status == "closed":
        return f"OpenAI takes no new fine-tuning jobs since {access.all_closed} ({source})"
    if status == "existing_only":
        last = access.all_closed - dt.timedelta(days=1)
        return (
            f"OpenAI's self-serve fine-tuning is winding down: on {today} it takes new jobs only from "
            f"{access.rule(today)}, and from nobody after {last} ({source})"
        )
    return None


def life_line(model: OpenAIModel, today: dt.date) -> str | None:
    """Say until when a fine-tuned `model` can serve (its base's shutdown); None when no shutdown is announced."""
    if model.shutdown is None:
        return None
    days = (model.shutdown - today).days
    left = f"{days} days from {today}" if days > 0 else "already past"
    return (
        f"a fine-tuned {model.name} serves only until {model.shutdown}, when its base model shuts down ({left}; "
        f"{_cite(model.shutdown_source)})"
    )


def months_of_life(model: OpenAIModel, today: dt.date) -> float | None:
    """Return how many months a model fine-tuned today can serve; None when no shutdown is announced."""
    if model.shutdown is None:
        return None
    return max(0.0, (model.shutdown - today).days / DAYS_PER_MONTH)


def break_even_within_life(month: int | None, model: OpenAIModel, today: dt.date) -> tuple[int | None, str | None]:
    """Return the break-even month if it falls inside the model's life, else None and why it never comes."""
    life = months_of_life(model, today)
    if month is None or life is None or month <= math.floor(life):
        return month, None
    return None, (
        f"break-even never: training would pay back in month {month}, but a fine-tuned {model.name} stops serving on "
        f"{model.shutdown}, {life:.1f} months from {today}"
    )


def path_note(
    catalog: OpenAICatalog,
    framework: str,
    chosen: str,
    model: str | None,
    today: dt.date,
    base: str | None,
    *,
    said_no: bool = False,
) -> str | None:
    """Say in one sentence why the plan runs `chosen` where the article's table picks `framework`; None when they
    agree. `model` is the table's OpenAI model, `base` the self-hosted base model the plan trains instead;
    `said_no`: the person said their organisation is not a recent customer (else it was assumed).
    """
    if framework == chosen or model is None:
        return None
    info = catalog.model(model)
    access = catalog.fine_tuning
    status = access.status(today)
    if status == "closed":
        why = f"OpenAI takes no new fine-tuning jobs since {access.all_closed}"
    else:
        whose = "yours is not one" if said_no else "yours was not said to be one"
        why = f"OpenAI takes new fine-tuning jobs only from {access.rule(today)}, and {whose}"
    if info.shutdown is not None:
        why += f"; and a fine-tuned {model} would stop serving on {info.shutdown}"
    instead = f"QLoRA on {base}, an open model you host," if base else "a self-hosted open model"
    return (
        f"The article's table picks {framework} (OpenAI fine-tuning on {model}), but on {today} {why}; so the plan "
        f"runs {chosen} instead: {instead} priced in GPU hours (sources: {_cite(access.source('Jan 6, 2027'))})."
    )


def refuse_retired(catalog: OpenAICatalog, name: str, today: dt.date) -> None:
    """Raise, in one line, when a model the user named has shut down by `today`; before any money is spent. A model
    the catalogue does not know (a fine-tune's own name, another provider's) is left to its endpoint.
    """
    from tools.defaults import DEFAULT_OPENAI_MODEL
    from tools.errors import TunewiseError, UsageError

    try:
        info = catalog.model(name)
    except TunewiseError:
        return
    if not info.alive(today):
        raise UsageError(
            f"{name} shut down on {info.shutdown} ({_cite(info.shutdown_source)})",
            hint=f"name a current model, e.g. openai:{DEFAULT_OPENAI_MODEL}, or a self-hosted one (hf:NAME)",
        )
