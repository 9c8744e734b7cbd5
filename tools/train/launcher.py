"""Scale-out: an accelerate config (FSDP2 over every GPU of one machine) and the `accelerate launch` command that
runs the same `tunewise train` on all of them. Nothing is trained here; the user runs the printed command."""

from __future__ import annotations

import shlex
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tools.atomic import write_text
from tools.errors import TunewiseError
from tools.train.config import TrainInput

CONFIG_NAME = "accelerate_config.yaml"


class LaunchPlan(BaseModel):
    """What `--launcher accelerate` wrote and what to run."""

    model_config = ConfigDict(frozen=True)

    launcher: str = "accelerate"
    config_file: str
    num_processes: int
    command: str = Field(description="The shell command that trains on every GPU.")
    notes: list[str]


def accelerate_config(num_processes: int) -> dict:
    """FSDP2 with full-state-dict saves, so the LoRA adapter is written whole by rank 0."""
    return {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
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
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": "bf16",
        "num_machines": 1,
        "num_processes": num_processes,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }


def _flags(inp: TrainInput) -> list[str]:
    """The CLI flags that reproduce `inp` (defaults left out)."""
    defaults = TrainInput(data=inp.data, base_model=inp.base_model, output=inp.output)
    args = [str(inp.data), "--backend", inp.backend, "--base-model", inp.base_model, "--output", str(inp.output)]
    for name in TrainInput.model_fields:
        value = getattr(inp, name)
        if name in ("data", "backend", "base_model", "output", "resume") or value == getattr(defaults, name):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, list):
            args += [flag, ",".join(value)]
        else:
            args += [flag, str(value)]
    return args


def plan(inp: TrainInput, *, gpus: int) -> LaunchPlan:
    """Write OUTPUT/accelerate_config.yaml and return the launch command (a dry run: nothing trains)."""
    import yaml

    if inp.backend != "hf":
        raise TunewiseError("--launcher accelerate runs the hf backend (unsloth's multi-GPU mode has its own launcher)",
                            hint="use --backend hf --launcher accelerate", exit_code=2)
    notes = []
    processes = gpus
    if gpus < 2:
        processes = 2
        notes.append(f"this machine has {gpus} CUDA GPU(s); the config assumes 2: set num_processes to the number "
                     "of GPUs of the machine that runs it")
    out = Path(inp.output)
    config = out / CONFIG_NAME
    write_text(config, yaml.safe_dump(accelerate_config(processes), sort_keys=False))
    command = ["accelerate", "launch", "--config_file", str(config), "-m", "agent.cli", "train", *_flags(inp), "--yes"]
    notes.append("--yes is in the command because running it is the approval; the processes shard the model (FSDP) "
                 "and split each batch")
    return LaunchPlan(config_file=str(config), num_processes=processes, command=shlex.join(command), notes=notes)
