"""What this machine has to train and serve on: its NVIDIA GPUs and CPU cores, read without importing torch.

The plan names the GPU it prices ("1 x RTX 4090"); what matters before approval is whether the machine that will
run the steps has one. `probe()` asks `nvidia-smi` (present wherever the NVIDIA driver is) and honours
CUDA_VISIBLE_DEVICES as torch would; it takes a few milliseconds where there is no driver, so `tunewise plan` can
ask on every run without loading torch (seconds). Whoever builds a run probes once and passes the `Machine` in.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.errors import UsageError

# Describe another machine than this one, as JSON ({"gpus": ["H100"], "gpu_memory_gib": [80], "cpu_cores": 16}):
# plan here for the GPU host the steps will run on; the tests pin it so no test depends on the machine it runs on.
MACHINE_ENV = "TUNEWISE_MACHINE"


class Machine(BaseModel):
    """The GPUs (name and memory in GiB, as visible to this process) and the CPU cores this process may use."""

    model_config = ConfigDict(frozen=True)
    gpus: list[str] = Field(default_factory=list)
    gpu_memory_gib: list[float] = Field(default_factory=list)
    cpu_cores: int = 1
    memory_gib: float | None = None  # the machine's RAM (MemTotal); None where it cannot be read

    @property
    def has_gpu(self) -> bool:
        """Whether a CUDA GPU is visible."""
        return bool(self.gpus)

    def describe(self) -> str:
        """Say what the machine has, in a few words: "2 CPU cores, no GPU", "2 x NVIDIA H100 80GB HBM3"."""
        cores = f"{self.cpu_cores} CPU core{'s' if self.cpu_cores != 1 else ''}"
        if not self.gpus:
            return f"{cores}, no GPU"
        names = sorted(set(self.gpus))
        return ", ".join(f"{self.gpus.count(n)} x {n}" for n in names)


def probe(timeout: float = 5.0) -> Machine:
    """Look at this machine: `nvidia-smi`'s GPUs (filtered by CUDA_VISIBLE_DEVICES) and the usable CPU cores; or
    the machine TUNEWISE_MACHINE describes.
    """
    described = os.environ.get(MACHINE_ENV)
    if described:
        try:
            return Machine.model_validate_json(described)
        except ValidationError as exc:
            raise UsageError(
                f"{MACHINE_ENV} is not a machine: {exc.errors()[0]['msg']}",
                hint='e.g. TUNEWISE_MACHINE=\'{"gpus": ["H100"], "gpu_memory_gib": [80], "cpu_cores": 16}\'',
            ) from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    found = _nvidia_smi(timeout)
    visible = _visible(os.environ.get("CUDA_VISIBLE_DEVICES"), len(found))
    chosen = [found[i] for i in visible]
    return Machine(
        gpus=[n for n, _ in chosen], gpu_memory_gib=[m for _, m in chosen], cpu_cores=cores, memory_gib=_memory()
    )


def _memory() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _nvidia_smi(timeout: float) -> list[tuple[str, float]]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        done = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # a driver that hangs or is broken: as good as no GPU
        return []
    return parse_smi(done.stdout) if done.returncode == 0 else []


def parse_smi(text: str) -> list[tuple[str, float]]:
    """Read `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` (MiB) as (name, GiB) pairs."""
    out: list[tuple[str, float]] = []
    for line in text.splitlines():
        name, _, mib = line.rpartition(",")
        try:
            out.append((name.strip(), round(float(mib) / 1024, 2)))
        except ValueError:
            continue
    return out


def _visible(setting: str | None, count: int) -> list[int]:
    """Return the indices CUDA_VISIBLE_DEVICES leaves visible: all when unset; none for "" or "-1"; a list of
    indices up to the first invalid one, as the CUDA runtime reads it (UUIDs count as unknown: all are kept).
    """
    if setting is None:
        return list(range(count))
    kept: list[int] = []
    for part in setting.split(","):
        part = part.strip()
        if part.startswith(("GPU-", "MIG-")):
            return list(range(count))
        if not part.isdigit() or int(part) >= count:
            break
        kept.append(int(part))
    return kept
