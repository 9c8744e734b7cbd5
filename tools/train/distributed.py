"""What one rank of a multi-process run needs: the process group (with a timeout), rank 0's word, and an exit when
the launcher is gone.

`accelerate launch` runs torch's elastic agent, which starts every rank in a session of its own and watches them:
when one dies it stops the others within a second or two. What it cannot do is outlive a kill -9 of itself, and
then nobody stops the ranks; so each rank watches its parent and leaves when it changes. The process-group
timeout bounds the rest: a rank that is alive but stuck ends the run after `timeout_s` instead of never.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

# Longer than rank 0 alone loading a 70B checkpoint while the others wait at the next collective; a dead rank is
# noticed by the launcher in seconds, so this only bounds a rank that hangs while alive.
TIMEOUT_S = 1800
PARENT_POLL_S = 0.5


def start(*, rank: int, cuda: bool, timeout_s: float = TIMEOUT_S) -> None:
    """Join the process group the launcher set up (gloo on CPUs, accelerate's choice on GPUs) with a timeout.

    transformers passes no timeout when it starts a CPU process group (TrainingArguments._setup_devices), so the
    group is started here first; the trainer then finds it initialised and reuses it.
    """
    from datetime import timedelta

    from accelerate import PartialState

    _watch_parent(rank)
    kwargs: dict[str, Any] = {"timeout": timedelta(seconds=timeout_s)}
    if not cuda:
        kwargs["backend"] = "gloo"  # MPI may be compiled in; the launcher set up a TCP rendezvous for gloo
    PartialState(cpu=not cuda, **kwargs)


def share(value: Any) -> Any:
    """Return rank 0's `value` on every rank (the others pass anything)."""
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def finish() -> None:
    """Destroy the process group, if one was started."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _watch_parent(rank: int) -> None:
    """Exit when the launcher that started this rank dies (this process is then re-parented)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        sys.stderr.write(f"rank {rank}: the launcher (pid {parent}) is gone; stopping this rank\n")
        sys.stderr.flush()
        os._exit(1)

    threading.Thread(target=watch, name="tunewise-parent-watch", daemon=True).start()
