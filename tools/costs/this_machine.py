"""How long a step would take on the machine that will run it, and whether that machine can run it at all.

The plan prices self-hosted training on a GPU it names (the catalogue's cheapest that fits). When the machine the
plan runs on has no GPU, a person must hear before approving what that means: a tiny model trains on its CPU in
minutes (say how long), an 8B model would take days (say it needs a GPU, and how to run the step on one). The CPU
figures are measured (tools/data/cpu.json, by benchmarks/cpu_rate.py); the FLOPs per token are the training
estimate's own model (tools/costs/gpu_time.flops_per_token).
"""

from __future__ import annotations

import json
from importlib import resources

from pydantic import BaseModel, ConfigDict

from tools.costs.gpu_time import flops_per_token
from tools.costs.lora_params import Architecture, resolve_base_model
from tools.errors import TunewiseError
from tools.machine import Machine

CPU_PARAM_BYTES = 4  # a CPU without bf16 generates in fp32 (tools/train/device.inference_dtype)


class CpuRates(BaseModel):
    """What a CPU core does (tools/data/cpu.json), with the data's source and date."""

    model_config = ConfigDict(frozen=True)
    source: str
    date: str
    train_flops_per_s_per_core: float
    decode_bytes_per_s: float
    max_cpu_hours: float


class HereEstimate(BaseModel):
    """A step on the machine that will run it: whether it needs a GPU this machine lacks, its time here, and the
    sentence the plan shows.
    """

    model_config = ConfigDict(frozen=True)
    machine: str
    needs_gpu: bool
    hours_here: float | None
    note: str


def cpu_rates() -> CpuRates:
    """Read the measured CPU rates shipped in tools/data/cpu.json."""
    data = json.loads(resources.files("tools.data").joinpath("cpu.json").read_text("utf-8"))
    return CpuRates(source=data["_source"], date=data["_date"], **{k: v for k, v in data.items() if k[0] != "_"})


def in_words(hours: float) -> str:
    """Say a duration for a plan: "under a minute", "about 12 min", "about 3.5 h", "about 4 days"."""
    if hours * 60 < 1:
        return "under a minute"
    if hours < 1:
        return f"about {round(hours * 60)} min"
    return f"about {hours:.1f} h" if hours < 48 else f"about {hours / 24:.0f} days"


def _architecture(base_model: str | None) -> Architecture | None:
    if not base_model:
        return None
    try:
        return resolve_base_model(base_model)
    except TunewiseError:  # an unknown model: no FLOPs to count, so no time to give
        return None


def train_here(
    machine: Machine,
    *,
    base_model: str | None,
    trained_tokens: int,
    gpus_needed: int = 1,
    rates: CpuRates | None = None,
) -> HereEstimate:
    """Judge the train step on `machine`: on its GPUs (enough of them?), else on its CPU cores when the time is sane.

    `trained_tokens` counts every epoch (the estimate's billed tokens).
    """
    where = machine.describe()
    if machine.has_gpu:
        if len(machine.gpus) < gpus_needed:
            return HereEstimate(
                machine=where,
                needs_gpu=True,
                hours_here=None,
                note=f"needs {gpus_needed} GPUs; this machine has {where}",
            )
        return HereEstimate(machine=where, needs_gpu=False, hours_here=None, note=f"runs on this machine's {where}")
    rates = rates or cpu_rates()
    arch = _architecture(base_model)
    if arch is None:
        return HereEstimate(
            machine=where,
            needs_gpu=True,
            hours_here=None,
            note=f"this machine has {where}, and the time on its CPU cannot be estimated for {base_model}: run the "
            f"train step on a GPU",
        )
    held = _too_big(machine, arch, where)
    if held is not None:
        return held
    seconds = trained_tokens * flops_per_token(arch) / (machine.cpu_cores * rates.train_flops_per_s_per_core)
    return _judged(where, seconds / 3600, rates, "training")


def _too_big(machine: Machine, arch: Architecture, where: str) -> HereEstimate | None:
    """Say the model needs a GPU when its fp32 weights alone (how a CPU without bf16 loads them) exceed the RAM."""
    need = arch.total_params * CPU_PARAM_BYTES / 2**30
    if machine.memory_gib is None or need <= machine.memory_gib:
        return None
    return HereEstimate(
        machine=where,
        needs_gpu=True,
        hours_here=None,
        note=f"needs a GPU: this machine has {where}, and its {machine.memory_gib:g} GiB of memory cannot hold the "
        f"model's {need:.0f} GiB of fp32 weights",
    )


def eval_here(
    machine: Machine,
    *,
    base_model: str | None,
    generations: int,
    new_tokens: int,
    prompt_tokens: float,
    rates: CpuRates | None = None,
) -> HereEstimate | None:
    """Judge the eval step's local generation on `machine`: `generations` replies of up to `new_tokens` each.

    None on a GPU machine or for an unknown model: no sentence to add.
    """
    arch = _architecture(base_model)
    if machine.has_gpu or arch is None or generations == 0:
        return None
    held = _too_big(machine, arch, machine.describe())
    if held is not None:
        return held
    rates = rates or cpu_rates()
    params = arch.matmul_params
    decode = generations * new_tokens * params * CPU_PARAM_BYTES / rates.decode_bytes_per_s
    prefill = generations * prompt_tokens * 2 * params / (machine.cpu_cores * rates.train_flops_per_s_per_core)
    return _judged(machine.describe(), (decode + prefill) / 3600, rates, "generating")


def _judged(where: str, hours: float, rates: CpuRates, doing: str) -> HereEstimate:
    hours = round(hours, 5)  # about a tenth of a second: the plan's JSON stays short and equal to the hours column
    if hours <= rates.max_cpu_hours:
        return HereEstimate(
            machine=where, needs_gpu=False, hours_here=hours, note=f"on this machine ({where}): {in_words(hours)}"
        )
    return HereEstimate(
        machine=where,
        needs_gpu=True,
        hours_here=hours,
        note=f"needs a GPU: this machine has {where}, and {doing} on its CPU would take {in_words(hours)}",
    )
