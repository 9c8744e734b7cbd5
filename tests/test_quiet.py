"""agent.quiet: third-party log records and warnings reach the log file, not the terminal; --verbose keeps them.

Run in child processes: the set-up changes the process's logging for good, and torch's handlers are attached when
torch is first imported, which has to happen after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOISE = """
import logging, warnings
import torch  # attaches torch's own stderr handlers, which quiet_start swaps for the file
logging.getLogger("torch.utils._pytree").warning("pytree register_constant() on Enum subclasses is deprecated")
logging.getLogger("torchao").warning("Failed to load _C_mxfp8.so")
logging.getLogger("bitsandbytes.backends.cpu.ops").warning("Failed to load CPU gemm_4bit_forward from kernels-community")
warnings.warn("a library's DeprecationWarning", UserWarning)
print("our own line")
"""


def _run(tmp_path: Path, prelude: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TUNEWISE_HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", prelude + NOISE], env=env, capture_output=True, text=True, timeout=300)


def test_library_noise_goes_to_the_log_file(tmp_path):
    log = tmp_path / "logs" / "serve.log"
    done = _run(
        tmp_path, f"from agent.quiet import quiet_start; quiet_start(__import__('pathlib').Path({str(log)!r}))\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "our own line\n" and done.stderr == ""
    text = log.read_text()
    for needle in ("pytree", "_C_mxfp8", "gemm_4bit_forward", "DeprecationWarning"):
        assert needle in text


def test_without_quiet_start_the_noise_is_on_the_terminal(tmp_path):
    done = _run(tmp_path, "")
    assert done.returncode == 0 and "pytree" in done.stderr and "gemm_4bit_forward" in done.stderr
    assert not (tmp_path / "logs").exists()


def test_the_cli_quiets_heavy_commands_unless_verbose(tmp_path, monkeypatch):
    import logging

    from agent import cli

    handlers = list(logging.root.handlers)
    try:
        monkeypatch.setattr(sys, "argv", ["tunewise", "serve", "DIR", "--verbose"])
        cli._quiet("serve")
        assert sys.argv == ["tunewise", "serve", "DIR"] and logging.root.handlers == handlers
        monkeypatch.setattr(sys, "argv", ["tunewise", "validate", "x.jsonl"])
        cli._quiet("validate")
        assert logging.root.handlers == handlers  # light commands are left alone
    finally:
        logging.root.handlers[:] = handlers


BARS = """
import datasets
from tqdm import tqdm
for _ in tqdm(range(3), desc="Loading weights"):
    pass
datasets.Dataset.from_dict({"x": [1, 2, 3]}).map(lambda r: r, desc="Truncating train dataset")
print("our own line")
"""


def test_library_progress_bars_stay_off_the_terminal(tmp_path):
    def run(prelude: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO), "TUNEWISE_HOME": str(tmp_path)}
        for name in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
            env.pop(name, None)
        return subprocess.run(
            [sys.executable, "-c", prelude + BARS], env=env, capture_output=True, text=True, timeout=300
        )

    loud = run("")
    assert "Loading weights" in loud.stderr and "Truncating train dataset" in loud.stderr  # what a person saw
    quiet = run(
        f"from agent.quiet import quiet_start; quiet_start(__import__('pathlib').Path({str(tmp_path / 'x.log')!r}))\n"
    )
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "our own line\n" and "Loading weights" not in quiet.stderr
    assert "Truncating" not in quiet.stderr and "it/s" not in quiet.stderr
