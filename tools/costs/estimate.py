"""`tunewise estimate`: the dollars, hours and GPU memory of every path, side by side, before anything is spent.

Paths priced: prompting an OpenAI base model with today's long prompt; RAG (the base model with a short prompt
plus retrieved context); OpenAI fine-tuning (then the fine-tuned model with a short prompt); local LoRA/QLoRA
fine-tuning on each catalog GPU (then self-hosting the merged model on it). A fine-tuning path's break-even
month is its training cost over the monthly saving against prompting the base model.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.costs.vram import TrainingMemoryArgs, VramBreakdown
from tools.defaults import DEFAULT_FINE_TUNE_MODEL, DEFAULT_OPENAI_MODEL
from tools.errors import TunewiseError, UsageError

if TYPE_CHECKING:
    from tools.costs.catalog import TokenPrices

# The fine-tunable bases of step 5's OpenAI paths, and the current model for prompting (gpt-4.1-nano shut down on
# 2026-10-23; tools/data/openai.json).
DEFAULT_MODELS = (DEFAULT_FINE_TUNE_MODEL, "gpt-4.1", DEFAULT_OPENAI_MODEL)
DEFAULT_BASE_MODEL = "Qwen3-8B"  # the qlora_self_hosted path's default (tools/data/base_models.json path_defaults)
CACHE_MIN_TOKENS = 1024  # OpenAI caches a prompt prefix only from 1,024 tokens on


class Traffic(BaseModel):
    """One month's traffic: its requests, and each request's tokens today, once fine-tuned and in the answer."""

    model_config = ConfigDict(frozen=True)
    requests: int = Field(description="Requests a month.")
    long_prompt: float = Field(description="Prompt tokens per request today: system prompt, few-shot examples, input.")
    short_prompt: float = Field(description="Prompt tokens per request once fine-tuned (or with a short RAG prompt).")
    output: float = Field(description="Output tokens per request.")


class EstimateInput(BaseModel):
    """What `tunewise estimate` prices: the training data, the paths and models, the run's settings and the traffic."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        default=None,
        description="Training file whose tokens and examples to count (JSONL: chat, preference, Alpaca or ShareGPT).",
    )
    tokens: int | None = Field(default=None, ge=1, description="Tokens in the training data, when no file is given.")
    examples: int | None = Field(
        default=None, ge=1, description="Examples in the training data, when no file is given."
    )
    provider: Literal["openai", "local", "all"] = Field(default="all", description="Which fine-tuning paths to price.")
    models: list[str] = Field(
        default=list(DEFAULT_MODELS),
        min_length=1,
        description="OpenAI models to price for prompting, RAG and fine-tuning.",
    )
    base_model: str | None = Field(
        default=None,
        description=f"Open model to fine-tune locally: catalog name, folder with config.json or HF-cached repo id (default {DEFAULT_BASE_MODEL}).",
    )
    lora_r: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="LoRA rank; higher adds capacity and memory, 16 suits most behaviour tasks.",
    )
    target_modules: list[str] | None = Field(
        default=None,
        description="Modules that get LoRA adapters; default: every linear projection (Unsloth's default).",
    )
    quant: Literal["4bit", "16bit"] = Field(
        default="4bit", description="Frozen base weights in 4-bit (QLoRA) or 16-bit (LoRA)."
    )
    method: Literal["lora", "full"] = Field(
        default="lora", description="Train adapters (lora) or every weight (full, 16-bit only)."
    )
    max_seq_len: int = Field(
        default=2048, ge=16, description="Longest training sequence; memory is sized for a batch of these."
    )
    batch_size: int = Field(default=2, ge=1, description="Sequences per GPU step (Unsloth's notebooks use 2).")
    gradient_checkpointing: bool = Field(
        default=True, description="Recompute activations in backward: much less memory, ~1.5x the compute."
    )
    optim_bits: Literal[8, 32] = Field(default=8, description="AdamW state precision: 8-bit (bitsandbytes) or 32-bit.")
    gpu: str | None = Field(default=None, description="Price one GPU from the catalog instead of all of them.")
    epochs: Annotated[int, Field(ge=1, le=100)] | Literal["auto"] = Field(
        default="auto", description="Epochs, or 'auto' for OpenAI's default heuristic (used for local runs too)."
    )
    mfu: float = Field(default=0.35, gt=0, le=1, description="Share of the GPU's peak bf16 FLOP/s training achieves.")
    requests_per_month: int | None = Field(
        default=None, ge=0, description="Requests a month, to price inference and find the break-even month."
    )
    prompt_tokens: int | None = Field(
        default=None,
        ge=0,
        description="Prompt tokens per request today: system prompt plus few-shot examples plus input.",
    )
    finetuned_prompt_tokens: int | None = Field(
        default=None,
        ge=0,
        description="Prompt tokens per request once fine-tuned; default: the training file's mean prompt.",
    )
    output_tokens: int | None = Field(
        default=None, ge=0, description="Output tokens per request; default: the training file's mean answer."
    )
    rag_context_tokens: int = Field(
        default=2000, ge=0, description="Retrieved context per request on the RAG path (4 chunks of ~500 tokens)."
    )
    cached_prompt_fraction: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of prompt tokens OpenAI bills at the cached price (a static prefix of 1,024+ tokens).",
    )
    calibrate: str | None = Field(
        default=None,
        description="Run folder of a finished `tunewise train`: its measured tokens/s replaces the MFU assumption.",
    )
    prices_file: str | None = Field(
        default=None, description="JSON file layered over the shipped OpenAI and GPU prices."
    )
    today: dt.date | None = Field(
        default=None, description="Date to judge OpenAI's fine-tuning access and models' lives on; default today."
    )


class Dataset(BaseModel):
    """The training data as counted: examples and tokens, and where they came from (a file path or 'given')."""

    model_config = ConfigDict(frozen=True)
    examples: int
    tokens: int = Field(description="Tokens in the file, all roles: what OpenAI bills per epoch.")
    trained_tokens: int | None = Field(default=None, description="Assistant tokens the model learns to produce.")
    source: str


class EstimateOption(BaseModel):
    """One priced path: training cost (USD), hours and memory, monthly inference (USD) and break-even month."""

    model_config = ConfigDict(frozen=True)
    id: str
    provider: Literal["openai", "local"]
    path: Literal["prompting", "rag", "fine-tune"]
    model: str
    gpu: str | None = None
    epochs: int | None = None
    billed_tokens: int | None = Field(default=None, description="Trained tokens: tokens in the file x epochs.")
    training_cost_usd: float | None = None
    training_hours: float | None = None
    vram_gb: float | None = Field(
        default=None, description="Training memory in GiB (2^30 bytes), the unit GPU sizes are quoted in."
    )
    fits: bool | None = None
    max_batch_size: int | None = None
    monthly_inference_usd: float | None = None
    break_even_month: int | None = Field(
        default=None, description="Month in which the saving against prompting has repaid training; None if never."
    )
    compared_with: str | None = None
    available: bool = Field(default=True, description="Whether a new job can be created on the estimate's date.")
    availability: str = Field(
        default="open", description="OpenAI fine-tuning: open, existing_only (recent customers only) or closed."
    )
    serves_until: dt.date | None = Field(
        default=None, description="OpenAI fine-tunes: the day the model stops serving (its base's shutdown)."
    )
    notes: list[str] = []


class LoraSummary(BaseModel):
    """The local run's adapters: rank, target modules and trainable parameters against the model's total."""

    model_config = ConfigDict(frozen=True)
    base_model: str
    method: str
    lora_r: int
    target_modules: list[str]
    trainable_params: int
    total_params: int
    trainable_percent: float


class EstimateResult(BaseModel):
    """Every priced path side by side, with the data, the LoRA summary, the memory breakdown and notes."""

    model_config = ConfigDict(frozen=True)
    dataset: Dataset
    options: list[EstimateOption]
    lora: LoraSummary | None = None
    vram: VramBreakdown | None = Field(
        default=None, description="Training memory by term, GiB, at the requested batch size."
    )
    notes: list[str] = []


def _dataset(inp: EstimateInput) -> tuple[Dataset, list[str]]:
    if inp.path and (inp.tokens or inp.examples):
        raise UsageError("give a training FILE or --tokens/--examples, not both")
    if inp.path:
        from tools.dataset.validate import ValidateInput
        from tools.dataset.validate import run as validate

        checked = validate(ValidateInput(path=Path(inp.path), model=inp.models[0]))
        if checked.valid_examples == 0:
            raise TunewiseError(
                "no valid examples to estimate from", path=inp.path, hint=f"run `tunewise validate {inp.path}`"
            )
        notes = (
            [
                f"{checked.examples - checked.valid_examples} invalid examples left out; run `tunewise validate {inp.path}`"
            ]
            if checked.valid_examples < checked.examples
            else []
        )
        return Dataset(
            examples=checked.valid_examples,
            tokens=checked.tokens.total,
            trained_tokens=checked.tokens.trained,
            source=inp.path,
        ), notes
    if inp.tokens and inp.examples:
        return Dataset(examples=inp.examples, tokens=inp.tokens, source="given"), []
    raise UsageError("nothing to estimate from", hint="give a training FILE, or both --tokens N and --examples N")


def _api_monthly(requests: int, prompt: float, output: float, prices: TokenPrices, cached: float) -> float:
    share = cached if prompt >= CACHE_MIN_TOKENS else 0.0
    per_request = prompt * ((1 - share) * prices.input + share * prices.cached_input) + output * prices.output
    return round(requests * per_request / 1_000_000, 2)


def _break_even(training: float | None, monthly: float | None, baseline: float | None) -> int | None:
    if training is None or monthly is None or baseline is None or baseline - monthly <= 0:
        return None
    return max(1, math.ceil(training / (baseline - monthly)))


def _traffic(inp: EstimateInput, data: Dataset) -> Traffic | None:
    """Return the month's traffic, or None without --requests-per-month."""
    if inp.requests_per_month is None:
        return None
    if inp.prompt_tokens is None:
        raise UsageError("--requests-per-month needs --prompt-tokens (today's prompt per request)")
    mean_prompt = mean_output = None
    if data.trained_tokens is not None:
        mean_prompt = (data.tokens - data.trained_tokens) / data.examples
        mean_output = data.trained_tokens / data.examples
    short = inp.finetuned_prompt_tokens if inp.finetuned_prompt_tokens is not None else mean_prompt
    output = inp.output_tokens if inp.output_tokens is not None else mean_output
    if short is None or output is None:
        raise UsageError("without a training file, give --finetuned-prompt-tokens and --output-tokens")
    return Traffic(
        requests=inp.requests_per_month,
        long_prompt=float(inp.prompt_tokens),
        short_prompt=float(short),
        output=float(output),
    )


def _openai_options(
    inp: EstimateInput, data: Dataset, epochs: int, traffic: Traffic | None, today: dt.date
) -> tuple[list[EstimateOption], list[str]]:
    from tools.costs.catalog import openai_catalog
    from tools.costs.openai_access import access_line, break_even_within_life, life_line

    catalog = openai_catalog(inp.prices_file)
    status = catalog.fine_tuning.status(today)
    ft_note = access_line(catalog, today)
    options: list[EstimateOption] = []
    for name in inp.models:
        info = catalog.model(name)
        prompting = rag = None
        if traffic is not None:
            prompting = _api_monthly(
                traffic.requests, traffic.long_prompt, traffic.output, info.base, inp.cached_prompt_fraction
            )
            rag = _api_monthly(
                traffic.requests,
                traffic.short_prompt + inp.rag_context_tokens,
                traffic.output,
                info.base,
                inp.cached_prompt_fraction,
            )
            options.append(
                EstimateOption(
                    id=f"prompt:{name}",
                    provider="openai",
                    path="prompting",
                    model=name,
                    training_cost_usd=0.0,
                    monthly_inference_usd=prompting,
                    serves_until=info.shutdown,
                )
            )
            options.append(
                EstimateOption(
                    id=f"rag:{name}",
                    provider="openai",
                    path="rag",
                    model=name,
                    training_cost_usd=0.0,
                    monthly_inference_usd=rag,
                    serves_until=info.shutdown,
                    notes=[f"{inp.rag_context_tokens} retrieved tokens per request"],
                )
            )
        if inp.provider == "local" or not info.fine_tunable or info.finetuned is None:
            continue
        billed = data.tokens * epochs
        cost = round(billed * info.training / 1_000_000, 2)
        monthly = (
            _api_monthly(
                traffic.requests, traffic.short_prompt, traffic.output, info.finetuned, inp.cached_prompt_fraction
            )
            if traffic is not None
            else None
        )
        # A fine-tuned model serves only until its base shuts down: break-even past that day never comes.
        month, never = break_even_within_life(_break_even(cost, monthly, prompting), info, today)
        alive = info.alive(today)
        option_notes = [n for n in (ft_note, life_line(info, today), never) if n]
        options.append(
            EstimateOption(
                id=f"openai:{name}",
                provider="openai",
                path="fine-tune",
                model=name,
                epochs=epochs,
                billed_tokens=billed,
                training_cost_usd=cost,
                monthly_inference_usd=monthly,
                break_even_month=month,
                compared_with=f"prompt:{name}" if traffic is not None else None,
                available=status != "closed" and alive,
                availability=status if alive else "closed",
                serves_until=info.shutdown,
                notes=option_notes,
            )
        )
    notes = ([f"OpenAI prices as of {catalog.date}"] if options else []) + (
        [ft_note] if ft_note and inp.provider != "local" else []
    )
    return options, notes


def _local_options(
    inp: EstimateInput,
    data: Dataset,
    epochs: int,
    traffic: Traffic | None,
    baseline: tuple[str, float | None] | None,
    hf_cache: Path | None,
) -> tuple[list[EstimateOption], LoraSummary, VramBreakdown, list[str]]:
    from tools.costs import gpu_time, lora_params, vram

    arch = lora_params.resolve_base_model(inp.base_model or DEFAULT_BASE_MODEL, hf_cache)
    targets = lora_params.resolve_targets(arch, inp.target_modules)
    trainable = (
        arch.total_params if inp.method == "full" else lora_params.lora_trainable_params(arch, inp.lora_r, targets)
    )
    memory_args = TrainingMemoryArgs(
        trainable_params=trainable,
        quant=inp.quant,
        method=inp.method,
        seq_len=inp.max_seq_len,
        gradient_checkpointing=inp.gradient_checkpointing,
        optim_bits=inp.optim_bits,
        lora_r=inp.lora_r,
        lora_modules=len([t for t in targets if t != "lm_head"]),
    )
    need = vram.training_vram(arch, batch_size=inp.batch_size, **memory_args)
    catalog = gpu_time.gpu_catalog(inp.prices_file)
    gpus = [catalog.get(inp.gpu)] if inp.gpu else list(catalog.gpus.values())
    mean_len = min(inp.max_seq_len, max(1, round(data.tokens / data.examples)))
    fpt = gpu_time.flops_per_token(
        arch, method=inp.method, gradient_checkpointing=inp.gradient_checkpointing, seq_len=mean_len
    )
    trained = data.tokens * epochs
    mfu, notes = (
        inp.mfu,
        [f"GPU prices and specs as of {catalog.date}; training time assumes {inp.mfu:.0%} of peak bf16 FLOP/s"],
    )
    calib = None
    if inp.calibrate:
        calib = gpu_time.read_calibration(
            inp.calibrate,
            catalog,
            hf_cache=hf_cache,
            method=inp.method,
            gradient_checkpointing=inp.gradient_checkpointing,
            default_seq_len=inp.max_seq_len,
        )
        scale = calib.flops_per_token / fpt
        sized = (
            ""
            if abs(scale - 1) < 1e-9
            else f" (speed scaled by {scale:.3g}: the FLOPs per token of {calib.base_model} over those of {arch.name})"
        )
        if calib.measured_mfu is not None:
            mfu = calib.measured_mfu
            notes[0] = (
                f"GPU prices and specs as of {catalog.date}; training time uses the {mfu:.1%} MFU measured on {calib.gpu} by {calib.run_dir}{sized}"
            )
        else:
            notes.append(
                f"{calib.run_dir} ran on {calib.device}: its {calib.tokens_per_second:g} tokens/s{sized} times the "
                f"{calib.device} row; GPU rows keep the {inp.mfu:.0%} MFU assumption"
            )
    serve_gib = vram.serving_gib(arch)
    options = []
    for gpu in gpus:
        hours = gpu_time.training_hours(trained, fpt, gpu, mfu)
        cost: float | None = round(hours * gpu.usd_per_hour, 2)
        monthly = None
        if traffic is not None:
            count = gpu_time.serving_gpus(
                arch,
                gpu,
                prompt_tokens=traffic.requests * traffic.short_prompt,
                output_tokens=traffic.requests * traffic.output,
                memory_gib=serve_gib,
            )
            monthly = round(count * gpu_time.HOURS_PER_MONTH * gpu.usd_per_hour, 2)
        fits = need.total_gib <= gpu.memory_gib
        if not fits:  # a price for a run that cannot start would only invite picking it
            cost = None  # and its hours are left out below
        options.append(
            EstimateOption(
                id=f"local:{arch.name}:{gpu.name}",
                provider="local",
                path="fine-tune",
                model=arch.name,
                gpu=gpu.name,
                epochs=epochs,
                billed_tokens=trained,
                training_cost_usd=cost,
                training_hours=round(hours, 3) if fits else None,
                vram_gb=need.total_gib,
                fits=fits,
                max_batch_size=vram.max_batch_size(arch, gpu.memory_gib, **memory_args),
                monthly_inference_usd=monthly,
                break_even_month=_break_even(cost, monthly, baseline[1] if baseline else None),
                compared_with=baseline[0] if baseline else None,
                notes=[]
                if fits
                else [
                    f"needs {need.total_gib} GiB, has {gpu.memory_gib}: lower --batch-size or --max-seq-len, or use 4bit"
                ],
            )
        )
    if calib is not None and calib.measured_mfu is None:
        hours = trained / (calib.tokens_per_second * calib.flops_per_token / fpt) / 3600
        options.append(
            EstimateOption(
                id=f"local:{arch.name}:{calib.device}",
                provider="local",
                path="fine-tune",
                model=arch.name,
                gpu=calib.device,
                epochs=epochs,
                billed_tokens=trained,
                training_cost_usd=0.0,
                training_hours=round(hours, 3),
                notes=["measured on your own machine; its running cost is not counted"],
            )
        )
    lora = LoraSummary(
        base_model=arch.name,
        method=inp.method,
        lora_r=inp.lora_r,
        target_modules=targets,
        trainable_params=trainable,
        total_params=arch.total_params,
        trainable_percent=round(100 * trainable / arch.total_params, 4),
    )
    return options, lora, need, notes


def run(inp: EstimateInput, *, hf_cache: Path | None = None) -> EstimateResult:
    """Price every path (prompting, RAG, OpenAI and local fine-tuning): training cost, time, GPU memory, monthly inference and break-even."""
    from tools.costs.epochs import openai_default_epochs
    from tools.costs.lora_params import default_hf_cache

    data, notes = _dataset(inp)
    epochs = inp.epochs if isinstance(inp.epochs, int) else openai_default_epochs(data.examples)
    traffic = _traffic(inp, data)
    options, api_notes = _openai_options(inp, data, epochs, traffic, inp.today or dt.date.today())
    notes += api_notes
    lora = memory = None
    if inp.provider in ("local", "all"):
        baseline = next(((o.id, o.monthly_inference_usd) for o in options if o.path == "prompting"), None)
        local, lora, memory, local_notes = _local_options(
            inp, data, epochs, traffic, baseline, hf_cache if hf_cache is not None else default_hf_cache()
        )
        options += local
        notes += local_notes
    if data.source != "given":
        notes.append(
            "tokens are counted with the OpenAI model's tokenizer; an open model's own tokenizer may count 10-30% differently"
        )
    if inp.epochs == "auto":
        notes.append(f"{epochs} epochs: OpenAI's default for {data.examples} examples, used for local runs too")
    return EstimateResult(dataset=data, options=options, lora=lora, vram=memory, notes=notes)
