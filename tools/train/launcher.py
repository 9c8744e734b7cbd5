"""Scale-out: an accelerate config and `accelerate launch` running the same `tunewise train` in N processes.

On CUDA machines the config is FSDP2 over the GPUs; on a machine without CUDA it is DDP over N CPU processes
(gloo), so the multi-process path runs anywhere. `launch` spawns the launcher, relays rank 0's progress (rank 0
writes `TUNEWISE_EVENT <json>` lines on its stdout; everything else goes to OUTPUT/train.log) and turns a dead
rank or launcher into one clear error. `plan` is the dry run: write the config, return the command.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.atomic import write_text
from tools.errors import TunewiseError, UsageError
from tools.progress import Progress, silent
from tools.train.config import TrainInput, TrainResult
from tools.train.metrics import update_of

CONFIG_NAME = "accelerate_config.yaml"
EVENT_MARK = "TUNEWISE_EVENT "  # the prefix of rank 0's event lines on the shared stdout
EVENTS_ENV = "TUNEWISE_EVENTS"  # set for the ranks: rank 0 then reports through event lines instead of printing
RESUME_HINT = "its log has the details; --resume continues from the newest complete checkpoint"
_REPO = Path(__file__).resolve().parents[2]


class LaunchPlan(BaseModel):
    """What `--launcher accelerate --dry-run` wrote and what to run."""

    model_config = ConfigDict(frozen=True)

    launcher: str = "accelerate"
    config_file: str
    num_processes: int
    command: str = Field(description="The shell command that trains in every process.")
    notes: list[str]


def accelerate_config(num_processes: int, *, cuda: bool = True, mixed_precision: str = "bf16") -> dict:
    """Build the accelerate config: FSDP2 with full-state-dict saves on GPUs (the adapter is written whole by rank 0); DDP on CPUs."""
    common = {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        "machine_rank": 0,
        "num_machines": 1,
        "num_processes": num_processes,
        "main_process_port": 0,  # 0: a free port, so two runs can share a box
        "rdzv_backend": "static",
        "same_network": True,
        "main_training_function": "main",
    }
    if not cuda:
        # accelerate's MULTI_CPU type launches through mpirun; MULTI_GPU is its torchrun path, and each rank then
        # trains on the CPU (use_cpu) over gloo. No FSDP: accelerate enables it only for accelerator groups, never
        # for MULTI_CPU (AcceleratorState), so a CPU run is DDP whatever the config says.
        return {
            **common,
            "distributed_type": "MULTI_GPU",
            "mixed_precision": "no",
            "use_cpu": True,
            "downcast_bf16": "no",
        }
    return {
        **common,
        "distributed_type": "FSDP",
        "downcast_bf16": "no",
        "fsdp_config": {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",  # one shard unit per decoder layer
            "fsdp_cpu_ram_efficient_loading": True,  # rank 0 reads the weights, the others get shards
            "fsdp_offload_params": False,
            "fsdp_reshard_after_forward": True,  # ZeRO-3-like: least memory per GPU
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_activation_checkpointing": False,  # the trainer's gradient checkpointing does this
        },
        "mixed_precision": mixed_precision,  # fp16 on pre-Ampere GPUs, as the trainer (tools/train/device.py)
        "use_cpu": False,
    }


def train_flags(inp: TrainInput) -> list[str]:
    """Return the `tunewise train` flags that reproduce `inp` (defaults left out)."""
    defaults = TrainInput(data=inp.data, base_model=inp.base_model, output=inp.output)
    args = [str(inp.data), "--backend", inp.backend, "--base-model", inp.base_model, "--output", str(inp.output)]
    for name in TrainInput.model_fields:
        value = getattr(inp, name)
        if name in ("data", "backend", "base_model", "output") or value == getattr(defaults, name):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, list):
            args += [flag, ",".join(value)]
        else:
            args += [flag, str(value)]
    return args


def check(inp: TrainInput, processes: int) -> None:
    """Refuse what the launcher cannot run, before anything is checked, approved or written."""
    if inp.backend != "hf":
        raise UsageError(
            "--launcher accelerate runs the hf backend (unsloth's multi-GPU mode has its own launcher)",
            hint="use --backend hf --launcher accelerate",
        )
    if processes < 1:
        raise UsageError(f"--processes must be at least 1, not {processes}")


def _write_config(inp: TrainInput, processes: int, cuda: bool) -> Path:
    import yaml

    config = Path(inp.output) / CONFIG_NAME
    mixed = "bf16"  # a dry run on a machine without GPUs writes the config for an Ampere-or-newer one
    if cuda:
        import torch

        from tools.train import device

        if torch.cuda.is_available():
            mixed = device.accelerate_mixed_precision(device.detect("accelerate"))
    write_text(config, yaml.safe_dump(accelerate_config(processes, cuda=cuda, mixed_precision=mixed), sort_keys=False))
    return config


def plan(inp: TrainInput, *, processes: int | None, gpus: int) -> LaunchPlan:
    """Write the GPU machine's OUTPUT/accelerate_config.yaml (FSDP2) and return its launch command; nothing trains."""
    notes = []
    if processes is None:
        processes = gpus if gpus >= 2 else 2
        if gpus < 2:
            notes.append(
                f"this machine has {gpus} CUDA GPU(s); the config assumes 2: set num_processes to the number "
                "of GPUs of the machine that runs it"
            )
    check(inp, processes)
    config = _write_config(inp, processes, cuda=True)
    command = [
        "accelerate",
        "launch",
        "--config_file",
        str(config),
        "-m",
        "agent.cli",
        "train",
        *train_flags(inp),
        "--yes",
    ]
    notes.append(
        "--yes is in the command because running it is the approval; every process runs `tunewise train`: "
        "rank 0 checks the data and writes the run folder, the processes shard the model (FSDP) and split "
        "each batch"
    )
    if not gpus:
        notes.append(
            "without --dry-run on this machine (no CUDA), tunewise runs the processes itself on the CPU "
            "(DDP over gloo) instead"
        )
    return LaunchPlan(config_file=str(config), num_processes=processes, command=shlex.join(command), notes=notes)


def run(inp: TrainInput, *, processes: int | None, progress: Progress | None = None) -> TrainResult:
    """Train in `processes` processes (default: every GPU, or 2 CPU processes without CUDA) after `preflight` and the
    approval; return rank 0's result. Spends GPU time. `progress` hears rank 0's updates, as `tools.train.run`'s.
    """
    import torch

    cuda = torch.cuda.is_available()
    count = processes or (torch.cuda.device_count() if cuda else 2)
    out = Path(inp.output)
    out.mkdir(parents=True, exist_ok=True)
    try:
        result = launch(inp, processes=count, cuda=cuda, progress=progress or silent, log_path=out / "train.log")
    except (TunewiseError, KeyboardInterrupt) as exc:
        _record_end(out, exc)
        raise
    return TrainResult(**result)


def _record_end(out: Path, exc: BaseException) -> None:
    """Every rank is gone: say in run.json how it ended when rank 0 could not (it was killed, not stopped)."""
    import datetime as dt

    from tools.atomic import write_json

    path = out / "run.json"
    try:
        record = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return
    if record.get("status") not in ("running", "failed"):  # rank 0 may have blamed the peer that hung up on it
        return
    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    record.update(
        status=status, error=str(exc) or status, ended_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    )
    write_json(path, record)


def launch(inp: TrainInput, *, processes: int, cuda: bool, progress: Progress, log_path: Path) -> dict[str, Any]:
    """Run `accelerate launch` over N processes and return rank 0's result; raise one clear error if a process
    or the launcher dies.
    """
    import os

    check(inp, processes)
    config = _write_config(inp, processes, cuda)
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config),
        "-m",
        "agent.cli",
        "train",
        *train_flags(inp),
        "--yes",
        "--json",
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{EVENTS_ENV: "1"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO), env.get("PYTHONPATH", "")) if p)
    if not cuda:
        # The cores shared out, not one thread each (torchrun's default) nor every core each.
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
        # accelerate names a CPU rank's device "cpu:<rank>", and torch.load cannot map a resumed checkpoint's
        # optimizer state to that name (transformers maps to args.device when world_size > 1): plain "cpu".
        env["ACCELERATE_TORCH_DEVICE"] = "cpu"
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    with log_path.open("ab") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                at = line.find(EVENT_MARK)
                if at < 0:
                    if line.strip():  # an event line's leading newline leaves an empty one
                        log.write(raw)
                    continue
                if at:
                    log.write(line[:at].rstrip().encode() + b"\n")  # `at` indexes the decoded line
                try:
                    event = json.loads(line[at + len(EVENT_MARK) :])
                except json.JSONDecodeError:
                    continue
                if (update := update_of(event)) is not None:
                    progress(update)
                elif event.get("event") == "result":
                    result = {k: v for k, v in event.items() if k != "event"}
                elif event.get("event") == "error":
                    error = event
            code = proc.wait()
        except KeyboardInterrupt:
            _stop(proc)
            raise
    killed = _killed_rank(log_path) if code != 0 else None
    if killed is not None:  # the others' errors (a peer that hung up) follow from this one
        raise TunewiseError(
            f"training process rank {killed[0]} of {processes} was killed by {_signal(killed[1])}; "
            "the launcher stopped the others",
            path=str(log_path),
            hint=RESUME_HINT,
        )
    if error is not None:
        raise TunewiseError.from_event(error)
    if result is None or code != 0:
        raise TunewiseError(_failure(code, log_path, processes), path=str(log_path), hint=RESUME_HINT)
    return result


def _report(log_path: Path) -> list[tuple[int, int]]:
    """(rank, exit code) of each failed process in torch's last failure report in the log, root cause first."""
    text = log_path.read_text("utf-8", "replace")
    start = text.rfind("Failures:")
    if start < 0:
        return []
    found = [
        (int(r), int(c)) for r, c in re.findall(r"rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", text[start:], flags=re.S)
    ]
    root = text.rfind("Root Cause")
    first = re.search(r"rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)", text[root:], flags=re.S) if root >= 0 else None
    if first:
        found.insert(0, (int(first.group(1)), int(first.group(2))))
    return found


def _killed_rank(log_path: Path) -> tuple[int, int] | None:
    """Return the rank a signal killed from outside (not the SIGTERM the launcher sends the survivors), with the signal."""
    for rank, code in _report(log_path):
        if code < 0 and -code != signal.SIGTERM:
            return rank, -code
    return None


def _failure(code: int, log_path: Path, processes: int) -> str:
    """One line for how the run ended when no rank was killed: the launcher itself, or a rank's exit code."""
    if code < 0:
        return (
            f"the accelerate launcher was killed by {_signal(-code)}; its {processes} training processes "
            "stopped with it"
        )
    report = _report(log_path)
    if not report:
        return f"the accelerate launcher ended with code {code} before rank 0 reported a result"
    rank, died = report[0]
    how = f"was killed by {_signal(-died)}" if died < 0 else f"exited with code {died}"
    return f"training process rank {rank} of {processes} {how}; the launcher stopped the others"


def _signal(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return f"signal {number}"


def _stop(proc: subprocess.Popen) -> None:
    """Wait up to 60 s for the launcher, which got the same Ctrl-C and stops its ranks; then kill it."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
