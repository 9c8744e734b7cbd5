"""Every device decision of a training run, as pure functions of the device facts.

`detect()` is the only function here that looks at the machine (torch.cuda, the launcher's environment,
/proc/cpuinfo); everything else takes a `DeviceFacts` and returns a decision, so a CPU-only test covers the T4,
A100, two-GPU and FSDP branches by passing facts in. run.json records the facts each run was decided on.

Why each rule (read against the installed libraries; see issue 20):
- precision: a GPU computes bf16 natively from compute capability 8.0 (Ampere). `torch.cuda.is_bf16_supported`
  defaults to `including_emulation=True` and says yes on a T4 or V100 too; unsloth decides by capability >= 8 and
  loads fp16 there, so a bf16 trainer config then crashes in unsloth's "Model is in float16 precision" check.
- CPU precision: unsloth 2026.10 loads bf16 weights on a CPU with AVX512-BF16 / AMX / Arm BF16 and fp32 elsewhere;
  we make that choice ourselves and pass the dtype in, so it is recorded and a test can run both paths on any CPU.
  The hf backend stays fp32 on a CPU (no autocast there; fp32 keeps the LoRA updates exact).
- optimizer: bitsandbytes' 8-bit AdamW steps plain tensors; FSDP2 shards parameters as DTensors, so under the
  multi-process launcher the fused torch AdamW is used (unsloth swaps the same way, models/rl.py, unsloth#3551).
- device map: one process pins the model to its own GPU; under FSDP the shards are placed by FSDP.
- GPUs per trainer: with several GPUs visible to one process, transformers' Trainer would use nn.DataParallel,
  which trl 1.15 refuses; one process trains on one GPU.
- base-model name: unsloth maps a hub name to its own pre-quantised `-bnb-4bit` (or 16-bit mirror) repo unless
  told `use_exact_model_name=True`; the adapter would then record that repo as its base.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from typing import Any, Literal

Launcher = Literal["none", "accelerate"]
Backend = Literal["unsloth", "hf"]
CPU_BF16_ENV = "TUNEWISE_CPU_BF16"  # "0"/"1": override the CPU's bf16 fact (tests run both paths on any CPU)


@dataclass(frozen=True)
class DeviceFacts:
    """What the machine is, as far as a training run's decisions go."""

    gpu_count: int = 0  # CUDA devices visible to this process
    capability: tuple[int, int] | None = None  # compute capability of the GPU this process trains on
    gpu_name: str | None = None
    launcher: Launcher = "none"
    processes: int = 1  # processes the launcher started (WORLD_SIZE)
    local_rank: int = 0
    cpu_bf16: bool = False  # the CPU computes bf16 in hardware (AVX512-BF16 / AMX-BF16 / Arm BF16)

    @property
    def cuda(self) -> bool:
        """Whether this process sees a CUDA GPU."""
        return self.gpu_count > 0

    @property
    def distributed(self) -> bool:
        """Whether a launcher started more than one process (one trainer per process)."""
        return self.launcher != "none" and self.processes > 1

    def to_json(self) -> dict[str, Any]:
        """Return the facts as run.json records them (`capability` as a list)."""
        out = asdict(self)
        out["capability"] = list(self.capability) if self.capability else None
        return out


@dataclass(frozen=True)
class Precision:
    """The dtype a run loads and computes in, and the trainer's bf16 / fp16 mixed-precision flags."""

    dtype: Literal["bfloat16", "float16", "float32"]  # the dtype the weights are loaded and computed in
    bf16: bool  # the trainer's mixed-precision flags
    fp16: bool


def cpu_bf16_from_flags(flags: frozenset[str] | set[str], machine: str) -> bool:
    """Native bf16 compute from the CPU's feature flags (the same rule unsloth_zoo.cpu.runtime uses)."""
    machine = machine.lower()
    if machine in ("x86_64", "amd64", "i686", "x86"):
        return bool(set(flags) & {"avx512_bf16", "amx_bf16"})
    if machine in ("aarch64", "arm64"):
        return "bf16" in flags
    return False


def precision(facts: DeviceFacts, backend: Backend) -> Precision:
    """Decide the training precision: bf16 on a GPU of capability 8.0+, fp16 below; bf16 weights without autocast for
    unsloth on a bf16 CPU; fp32 otherwise.
    """
    if facts.cuda:
        if facts.capability is not None and facts.capability[0] >= 8:
            return Precision("bfloat16", bf16=True, fp16=False)
        return Precision("float16", bf16=False, fp16=True)  # T4 / V100: bf16 only emulated
    if backend == "unsloth" and facts.cpu_bf16:
        return Precision("bfloat16", bf16=False, fp16=False)  # bf16 weights, no autocast (unsloth's CPU path)
    return Precision("float32", bf16=False, fp16=False)


def inference_dtype(facts: DeviceFacts) -> Literal["bfloat16", "float16", "float32"]:
    """Return the dtype to load a model in to generate or merge: 16-bit on a GPU by capability, fp32 on a CPU."""
    return precision(facts, "hf").dtype


def merge_dtype(facts: DeviceFacts) -> Literal["bfloat16", "float16"]:
    """Return the merged export's dtype, always 16-bit: fp16 only on a GPU that would emulate bf16."""
    return "float16" if facts.cuda and precision(facts, "hf").dtype == "float16" else "bfloat16"


def accelerate_mixed_precision(facts: DeviceFacts) -> Literal["bf16", "fp16", "no"]:
    """`mixed_precision` for the launcher's accelerate config: the trainer's precision, in accelerate's words."""
    mixed = precision(facts, "hf")
    return "bf16" if mixed.bf16 else "fp16" if mixed.fp16 else "no"


def optimizer(facts: DeviceFacts) -> str:
    """Return the trainer's `optim`: torch AdamW on a CPU, fused torch AdamW under FSDP, 8-bit AdamW on one GPU."""
    if not facts.cuda:
        return "adamw_torch"  # bitsandbytes has no CPU 8-bit optimizer
    if facts.distributed:
        return "adamw_torch_fused"  # bnb's 8-bit AdamW cannot step FSDP2's DTensor shards
    return "adamw_8bit"  # the article's 8-bit optimizer states on one GPU


def device_map(facts: DeviceFacts) -> dict[str, int] | None:
    """Return the model's `device_map`: this process's GPU, or None on a CPU or under FSDP (the launcher places it)."""
    if not facts.cuda or facts.distributed:
        return None  # CPU: transformers' default; FSDP: the launcher places the shards
    return {"": facts.local_rank}


def trainer_gpus(facts: DeviceFacts) -> int:
    """GPUs one trainer process drives: never more than one (no nn.DataParallel, which trl refuses)."""
    return 1 if facts.cuda else 0


def unsloth_model_name(requested: str) -> dict[str, Any]:
    """Load exactly the model the user named, so the adapter's recorded base is the one eval, serve and merge use."""
    return {"model_name": requested, "use_exact_model_name": True}


def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="ignore") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip().lower() in ("flags", "features"):
                    return frozenset(value.lower().split())
    except OSError:
        pass
    return frozenset()


def detect_cpu_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware; TUNEWISE_CPU_BF16 (0/1, true/false, ...) overrides /proc/cpuinfo."""
    override = os.environ.get(CPU_BF16_ENV, "").strip().lower()
    if override in ("0", "1", "true", "false", "yes", "no", "on", "off"):
        return override in ("1", "true", "yes", "on")
    return cpu_bf16_from_flags(_cpu_flags(), platform.machine())


def detect(launcher: Launcher | None = None) -> DeviceFacts:
    """Read the facts of this process's machine. The launcher is read from accelerate's environment unless given."""
    import torch

    processes = int(os.environ.get("WORLD_SIZE", "1") or 1)
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if launcher is None:
        launcher = "accelerate" if processes > 1 else "none"  # `accelerate launch` sets WORLD_SIZE
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    capability = name = None
    if count:
        index = min(local_rank, count - 1)
        capability = tuple(torch.cuda.get_device_capability(index))
        name = torch.cuda.get_device_name(index)
    return DeviceFacts(
        gpu_count=count,
        capability=capability,
        gpu_name=name,
        launcher=launcher,
        processes=processes,
        local_rank=local_rank,
        cpu_bf16=detect_cpu_bf16(),
    )
