"""GPU catalog, training time from a FLOPs model, self-hosting capacity, and calibration from a finished run.

FLOPs model (per trained token; N = weights in matrix multiplies: every linear layer plus the lm_head):
- a forward pass costs 2N, plus attention's score and value products: 2 * layers * seq * q_dim with a causal
  mask (4 * seq * q_dim per layer without one).
- LoRA: forward + the backward pass for activation gradients through the frozen weights = 2 forwards (about 4N);
  the frozen weights get no weight gradients. Gradient checkpointing recomputes the forward: 3 forwards (6N).
- full fine-tuning: forward + activation and weight gradients = 3 forwards (6N); with checkpointing 4 (8N).
- hours = tokens x epochs x FLOPs per token / (peak dense bf16 FLOP/s x MFU). MFU 35% is a typical single-GPU
  LoRA figure; `--calibrate RUN_DIR` replaces it with what a finished run measured.
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tools.costs.lora_params import Architecture, resolve_base_model
from tools.errors import TunewiseError, UsageError

HOURS_PER_MONTH = 730  # 8,760 hours a year / 12: an always-on server
# Serving assumptions: prefill is a large matmul (vLLM-class servers reach ~40% of peak); decode is bound by
# memory bandwidth and reaches ~5% of peak FLOP/s at moderate concurrency.
PREFILL_MFU = 0.40
DECODE_MFU = 0.05


class Gpu(BaseModel):
    """One GPU: peak dense bf16 TFLOP/s, memory in GiB and USD per GPU-hour on demand; `aliases` are its other names."""

    model_config = ConfigDict(frozen=True)
    name: str
    aliases: list[str] = []
    peak_bf16_tflops: float
    memory_gib: float
    usd_per_hour: float


class GpuCatalog(BaseModel):
    """The GPUs tunewise prices, by catalog name, with the data's source and date."""

    model_config = ConfigDict(frozen=True)
    source: str
    date: str
    gpus: dict[str, Gpu]

    def find(self, name: str) -> Gpu | None:
        """Match a catalog name, an alias or a CUDA device name such as 'cuda:NVIDIA A100-SXM4-80GB'; None if none fits."""
        key = _normalise(name)
        for gpu in self.gpus.values():
            if key in {_normalise(gpu.name), *(_normalise(a) for a in gpu.aliases)}:
                return gpu
        # Device names carry extra words ("NVIDIA H100 PCIe"): take the longest name whose words appear in order
        # inside them; whole words only, so an L40S is not taken for an L4.
        words = _words(key)
        candidates = [
            (len(n), g)
            for g in self.gpus.values()
            for n in {_normalise(g.name), *map(_normalise, g.aliases)}
            if _contains(words, _words(n))
        ]
        return max(candidates, key=lambda c: c[0])[1] if candidates else None

    def get(self, name: str) -> Gpu:
        """Return the GPU `name` matches (as find() does); raise TunewiseError (exit code 2) for an unknown one."""
        gpu = self.find(name)
        if gpu is None:
            raise UsageError(
                f"unknown GPU '{name}'",
                hint=f"use one of {', '.join(self.gpus)}, or add it to a --prices file",
            )
        return gpu


def _normalise(name: str) -> str:
    key = name.strip().lower().removeprefix("cuda:").strip()
    for word in ("nvidia ", "geforce "):
        key = key.replace(word, "")
    return key.strip()


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in re.split(r"[^a-z0-9]+", text) if w)


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    return bool(part) and any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))


def gpu_catalog(prices_file: str | None = None) -> GpuCatalog:
    """Return the shipped GPU data, with a prices file's "gpus" entries layered over it (a partial entry overrides fields)."""
    data = json.loads(resources.files("tools.data").joinpath("gpus.json").read_text("utf-8"))
    if prices_file:
        path = Path(prices_file)
        try:
            extra = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise TunewiseError("prices file not found", path=str(path), hint="check the --prices path") from None
        except json.JSONDecodeError as exc:
            raise TunewiseError(
                f"prices file is not valid JSON ({exc.msg})", path=str(path), line=exc.lineno, hint="fix the JSON"
            ) from None
        for name, entry in (extra.get("gpus") or {}).items():
            data["gpus"][name] = {**data["gpus"].get(name, {}), **entry}
        if extra.get("gpus") and "_gpus_date" in extra:
            data["_date"] = extra["_gpus_date"]
    try:
        gpus = {name: Gpu(name=name, **entry) for name, entry in data["gpus"].items()}
    except Exception as exc:  # pydantic's message names the missing field
        raise TunewiseError(
            f"GPU data is incomplete: {exc}".splitlines()[0],
            path=prices_file,
            hint="each GPU needs peak_bf16_tflops, memory_gib and usd_per_hour",
        ) from exc
    return GpuCatalog(source=data["_source"], date=data["_date"], gpus=gpus)


def flops_per_token(
    arch: Architecture, *, method: str = "lora", gradient_checkpointing: bool = True, seq_len: int = 2048
) -> float:
    """Return the training FLOPs per token under the model in this module's docstring."""
    forward = 2 * arch.matmul_params + 2 * arch.num_hidden_layers * seq_len * arch.q_dim
    passes = (2 if method == "lora" else 3) + (1 if gradient_checkpointing else 0)
    return forward * passes


def training_hours(tokens: int, flops_per_tok: float, gpu: Gpu, mfu: float) -> float:
    """Return the hours `tokens` trained tokens take on `gpu` at `mfu` (a share of its peak bf16 FLOP/s)."""
    return tokens * flops_per_tok / (gpu.peak_bf16_tflops * 1e12 * mfu) / 3600


def serving_gpus(arch: Architecture, gpu: Gpu, *, prompt_tokens: float, output_tokens: float, memory_gib: float) -> int:
    """Return how many GPUs serve a month's tokens, and at least enough to hold the model."""
    seconds = (
        2
        * arch.matmul_params
        * (prompt_tokens / PREFILL_MFU + output_tokens / DECODE_MFU)
        / (gpu.peak_bf16_tflops * 1e12)
    )
    for_compute = math.ceil(seconds / 3600 / HOURS_PER_MONTH)
    for_memory = math.ceil(memory_gib / gpu.memory_gib)
    return max(1, for_compute, for_memory)


class Calibration(BaseModel):
    """What a finished `tunewise train` run measured."""

    model_config = ConfigDict(frozen=True)
    run_dir: str
    tokens_per_second: float
    device: str
    gpu: str | None  # catalog name of the run's GPU, None on CPU or an unknown GPU
    base_model: str
    flops_per_token: float  # of the run's own model and sequence length
    measured_mfu: float | None


def read_calibration(
    run_dir: str,
    catalog: GpuCatalog,
    *,
    hf_cache: Path | None,
    method: str,
    gradient_checkpointing: bool,
    default_seq_len: int,
) -> Calibration:
    """Read RUN_DIR/run.json and turn its tokens/s into an MFU when it ran on a catalog GPU."""
    path = Path(run_dir) / "run.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise TunewiseError(
            "no run.json in the run folder",
            path=str(path),
            hint="pass the folder a finished `tunewise train` run wrote",
        ) from None
    except json.JSONDecodeError as exc:
        raise TunewiseError(f"run.json is not valid JSON ({exc.msg})", path=str(path), line=exc.lineno) from None
    if not isinstance(data, dict):
        raise TunewiseError("run.json must hold a JSON object", path=str(path), line=1)
    for key in ("tokens_per_second", "device", "base_model"):
        if key not in data:
            raise TunewiseError(f"run.json has no '{key}'", path=str(path), hint="was the run finished?")
    tps = data["tokens_per_second"]
    if not isinstance(tps, (int, float)) or isinstance(tps, bool) or tps <= 0:
        raise TunewiseError(f"tokens_per_second must be a positive number, got {tps!r}", path=str(path))
    hyper = data.get("hyperparameters") or {}
    seq_len = hyper.get("max_seq_len") if isinstance(hyper, dict) else None
    if seq_len is not None and (not isinstance(seq_len, int) or isinstance(seq_len, bool) or seq_len < 1):
        raise TunewiseError(f"hyperparameters.max_seq_len must be a positive integer, got {seq_len!r}", path=str(path))
    try:
        arch = resolve_base_model(str(data["base_model"]), hf_cache)
    except TunewiseError as exc:
        raise TunewiseError(f"its base_model: {exc.message}", path=str(path), hint=exc.hint) from None
    fpt = flops_per_token(
        arch, method=method, gradient_checkpointing=gradient_checkpointing, seq_len=seq_len or default_seq_len
    )
    device = str(data["device"])
    gpu = catalog.find(device) if device.lower().startswith("cuda") else None
    mfu = tps * fpt / (gpu.peak_bf16_tflops * 1e12) if gpu else None
    if gpu is not None and mfu is not None and mfu > 1:
        raise TunewiseError(
            f"{tps:g} tokens/s of {arch.name} would be {mfu:.0%} of a {gpu.name}'s peak",
            path=str(path),
            hint="check the run's device and base_model",
        )
    return Calibration(
        run_dir=str(run_dir),
        tokens_per_second=float(tps),
        device=device,
        gpu=gpu.name if gpu else None,
        base_model=str(data["base_model"]),
        flops_per_token=fpt,
        measured_mfu=round(mfu, 4) if mfu is not None else None,
    )
