"""The prices of a plan's steps: the training step on the chosen path (through `tools.costs.estimate`), and the
held-out evaluation. Pure functions of the data's size, the path and the dated price files.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from tools.defaults import DEFAULT_FINE_TUNE_MODEL, DEFAULT_OPENAI_MODEL
from tools.records import OmitNone

if TYPE_CHECKING:
    from tools.models.spec import ModelSpec

TOKENS_PER_EXAMPLE = 500  # the article's "10,000 training examples averaging 500 tokens each"
EVAL_MAX = 100  # the article: "a held-out evaluation set: 50-100 examples the model never saw"
EVAL_CANDIDATES = 3  # tuned vs base vs prompt-engineered
FEW_SHOT_PRICED = 4  # the prompted candidate carries this many few-shot examples (tools/dataset/few_shot.py)

# Step 5's paths as estimate inputs and train settings. The self-hosted paths' base models are dated choices in
# tools/data/base_models.json ("path_defaults": licence, context, the day chosen, sources); `--answer
# base_model=PATH` replaces them, e.g. with a local folder.
PATHS: dict[str, dict[str, Any]] = {
    "openai_gpt41_mini": {"provider": "openai", "model": DEFAULT_FINE_TUNE_MODEL, "backend": "openai"},
    "openai_gpt41": {"provider": "openai", "model": "gpt-4.1", "backend": "openai"},
    "qlora_self_hosted": {"provider": "local", "quant": "4bit", "gpu": "RTX 4090", "backend": "unsloth"},
    # The 70B paths train through `accelerate launch` (hf backend, FSDP), one process per GPU the estimate needs.
    "qlora_70b": {"provider": "local", "quant": "4bit", "gpu": "H100", "backend": "hf", "launcher": "accelerate"},
    "lora_70b": {"provider": "local", "quant": "16bit", "gpu": "H100", "backend": "hf", "launcher": "accelerate"},
}


def path_default(path: str) -> dict[str, Any]:
    """Return a self-hosted path's dated default base: base_model, catalog, licence, context_tokens, chosen, why."""
    from tools.costs.lora_params import base_model_catalog

    entry: dict[str, Any] = base_model_catalog()["path_defaults"][path]
    return entry


for _path, _spec in PATHS.items():
    if _spec["provider"] == "local":
        _default = path_default(_path)
        _spec.update(base_model=_default["base_model"], catalog=_default["catalog"])


class TrainingEstimate(OmitNone):
    """The training step's price on one path: the estimate option picked, its cost, time and memory."""

    # `serves_until` left out when unset, so a plan approved before it existed hashes as it did
    omit_if_none = frozenset({"serves_until"})

    option: str
    provider: str
    model: str
    gpu: str | None
    epochs: int | None
    billed_tokens: int | None
    vram_gb: float | None
    fits: bool | None
    available: bool
    training_cost_usd: float | None
    training_hours: float | None
    gpus: int  # more than 1 when no single GPU holds the model: the same compute spread over N (FSDP)
    notes: list[str]
    tokens_assumed: bool  # True: no training file, so tokens are TOKENS_PER_EXAMPLE per example
    summary: str = ""
    serves_until: dt.date | None = None  # OpenAI fine-tunes: the day the model stops serving (its base's shutdown)


def eval_count(examples: int) -> int:
    """Return how many examples to hold out for evaluation: 10%, between 10 and EVAL_MAX, leaving 50 to train on."""
    count = min(EVAL_MAX, max(10, examples // 10))
    return count if examples - count >= 50 else max(1, examples // 5)


def training_estimate(
    path: str, examples: int, *, tokens_total: int | None, base_model: str | None, today: dt.date | None = None
) -> TrainingEstimate:
    """Price the training step on `path` with tools.costs.estimate, picking the GPU (the path's, else the cheapest).

    `tokens_total` comes from the validated file; None assumes TOKENS_PER_EXAMPLE per example.
    """
    from tools.costs.estimate import EstimateInput, run

    spec = PATHS[path]
    tokens = tokens_total if tokens_total is not None else examples * TOKENS_PER_EXAMPLE
    args: dict[str, Any] = {
        "tokens": max(1, tokens),
        "examples": max(1, examples),
        "provider": spec["provider"],
        "today": today,
    }
    if spec["provider"] == "openai":
        args["models"] = [spec["model"]]
    else:
        args.update(base_model=base_model or spec["catalog"], quant=spec["quant"])
    result = run(EstimateInput(**args))
    options = [o for o in result.options if o.path == "fine-tune"]
    option = next((o for o in options if o.provider == "openai"), None) or _pick_gpu(options, spec.get("gpu"))
    out = TrainingEstimate(
        option=option.id,
        provider=option.provider,
        model=option.model,
        gpu=option.gpu,
        epochs=option.epochs,
        billed_tokens=option.billed_tokens,
        vram_gb=option.vram_gb,
        fits=option.fits,
        available=option.available,
        training_cost_usd=option.training_cost_usd,
        training_hours=option.training_hours,
        gpus=1,
        serves_until=option.serves_until,
        # the option and the estimate both carry OpenAI's access notice: said once
        notes=list(dict.fromkeys([*option.notes, *result.notes])),
        tokens_assumed=tokens_total is None,
    )
    if option.fits is False and option.gpu is not None and option.vram_gb is not None:
        # no single GPU holds it: price the same compute on enough GPUs (ideal scaling)
        fit = run(EstimateInput(**{**args, "quant": "4bit", "gpu": option.gpu}))
        same = next(o for o in fit.options if o.path == "fine-tune")
        gpus = math.ceil(option.vram_gb / _gpu_memory(option.gpu))
        out.gpus = gpus
        out.training_cost_usd = same.training_cost_usd
        out.training_hours = round((same.training_hours or 0) / gpus, 3)
        out.notes.append(
            f"{option.vram_gb} GiB of training memory needs {gpus} x {option.gpu} (FSDP); cost and "
            f"time are the same compute spread over {gpus} GPUs, assuming ideal scaling"
        )
    where = f"{out.gpus} x {option.gpu}" if option.gpu else "OpenAI"
    base = base_model or spec.get("base_model") or option.model
    out.summary = f"fine-tune {base} on {where}: {option.epochs} epochs, {option.billed_tokens:,} trained tokens" + (
        f", {option.vram_gb} GiB" if option.vram_gb else ""
    )
    return out


def _pick_gpu(options: list[Any], preferred: str | None) -> Any:
    """Return the preferred GPU's option when it fits, else the cheapest that fits, else the preferred one anyway."""
    fitting = [o for o in options if o.fits]
    return (
        next((o for o in fitting if o.gpu == preferred), None)
        or min(fitting, key=lambda o: o.training_cost_usd, default=None)
        or next((o for o in options if o.gpu == preferred), options[0])
    )


def _gpu_memory(name: str) -> float:
    from tools.costs.gpu_time import gpu_catalog

    return float(gpu_catalog(None).get(name).memory_gib)


def billed_model(spec: ModelSpec) -> str | None:
    """Return the OpenAI model a spec bills for: an `openai:` model on OpenAI's own endpoint; None for a local
    model or another endpoint (vLLM, Ollama: no per-token bill).
    """
    return spec.model if spec.kind == "openai" and spec.base_url is None else None


def eval_cost(
    path: str | None, tokens_per_example: float | None, count: int, *, prompted: str | None = DEFAULT_OPENAI_MODEL
) -> float:
    """Bound the evaluation's OpenAI bill in USD: every token billed at the output price, the prompted candidate
    carrying its few-shot examples. `path` None is the prompt-engineering plan, which prompts the OpenAI model
    `prompted` (None: a local model or endpoint, which bills nothing). A local path, or no token count (no data yet),
    costs 0.0: local candidates run on the training machine.
    """
    if tokens_per_example is None or (path is not None and not path.startswith("openai")):
        return 0.0
    if path is None and prompted is None:
        return 0.0
    from tools.costs.catalog import openai_catalog

    info = openai_catalog().model(PATHS[path]["model"] if path else prompted or DEFAULT_OPENAI_MODEL)
    prices = (info.finetuned or info.base) if path else info.base
    candidates = EVAL_CANDIDATES if path else EVAL_CANDIDATES - 1
    tokens = count * tokens_per_example * (candidates + FEW_SHOT_PRICED)
    return round(tokens * prices.output / 1e6, 2)
