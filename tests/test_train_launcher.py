"""`tunewise train --launcher accelerate --processes 2` on the CPU (two gloo processes, DDP) with the tests' tiny
Llama: a rank killed mid-run ends the run with one line; a resume after kill -9 of the launcher continues from the
newest complete checkpoint; the finished run is one run folder (one adapter that reloads, run.json saying 2
processes, tensorboard events with the loss) whose loss curve is the single-process run's. The three launches
share one run folder to keep the suite quick."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tests.test_train import files  # noqa: F401 (the tiny model and the capitals data, built once per module)
from tools.train import checkpoints
from tools.train.config import TrainInput
from tools.train.metrics import read_metrics
from tools.train.run import run

pytestmark = pytest.mark.slow
runner = CliRunner()
STEPS, SAVE = 24, 3
# Same data, seed and global batch (2 processes x 2 = 1 process x 4): the two runs differ only in the order the
# all-reduce adds the two halves of each gradient, a float32 rounding (~1e-7 relative, measured). 1e-3 leaves
# that room to grow over the steps and still fails on any real difference (a shard seeing other examples, a loss
# averaged over the wrong count), which moves the loss by 1e-2 or more from the first step on.
LOSS_RTOL = 1e-3


def _launch(files, out: Path, *extra: str) -> subprocess.Popen:
    entry = Path(sys.executable).with_name("tunewise")
    cmd = [
        str(entry),
        "train",
        str(files["train"]),
        "--backend",
        "hf",
        "--base-model",
        str(files["model"]),
        "--output",
        str(out),
        "--max-steps",
        str(STEPS),
        "--save-steps",
        str(SAVE),
        "--lr",
        "1e-2",
        "--batch-size",
        "2",
        "--grad-accum",
        "1",
        "--max-seq-len",
        "128",
        "--report-to",
        "tensorboard",
        "--launcher",
        "accelerate",
        "--processes",
        "2",
        "--yes",
        "--json",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _ranks(out: Path) -> dict[int, int]:
    """{rank: pid} of the training processes working on `out`."""
    import psutil

    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if str(out) in (proc.info["cmdline"] or []) and "RANK" in (env := proc.environ()):
                found[int(env["RANK"])] = proc.pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _wait_for_checkpoint_after(proc: subprocess.Popen, out: Path, step: int) -> Path:
    deadline = time.monotonic() + 300
    while True:
        newest = checkpoints.newest_complete(out / "checkpoints")
        if newest is not None and checkpoints.checkpoint_step(newest) > step:
            return newest
        assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
        assert time.monotonic() < deadline, "no new checkpoint within 5 minutes"
        time.sleep(0.02)


def test_two_cpu_processes_train_one_run_that_survives_a_dead_rank_and_a_killed_launcher(files, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "run"
    # 1. A rank dies: the launcher stops the other one and the command ends with one line, not a hang.
    first = _launch(files, out)
    _wait_for_checkpoint_after(first, out, 0)
    ranks = _ranks(out)
    assert sorted(ranks) == [0, 1]
    os.kill(ranks[1], signal.SIGKILL)
    stdout, stderr = first.communicate(timeout=60)  # the bound for a dead rank to end the run
    assert first.returncode == 1 and stdout == b""
    line = stderr.decode().strip()
    assert "\n" not in line and "rank 1 of 2 was killed by SIGKILL" in line and "--resume" in line, line
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    assert not _ranks(out)

    # 2. Resumed, then the launcher itself is killed -9: its ranks leave too (nothing trains on, unobserved).
    second = _launch(files, out, "--resume")
    resumed_from = checkpoints.newest_complete(out / "checkpoints")
    _wait_for_checkpoint_after(second, out, checkpoints.checkpoint_step(resumed_from))
    os.killpg(second.pid, signal.SIGKILL)  # the tunewise command and `accelerate launch`, like a crash
    second.wait()
    deadline = time.monotonic() + 30
    while _ranks(out):
        assert time.monotonic() < deadline, "the ranks outlived their launcher"
        time.sleep(0.2)
    newest = checkpoints.newest_complete(out / "checkpoints")
    assert checkpoints.checkpoint_step(newest) < STEPS

    # 3. Resumed again: it continues from the newest complete checkpoint and finishes.
    third = _launch(files, out, "--resume")
    stdout, stderr = third.communicate(timeout=600)
    assert third.returncode == 0, stderr.decode()[-3000:]
    result = json.loads(stdout)
    assert (result["status"], result["steps"], result["total_steps"], result["device"]) == (
        "succeeded",
        STEPS,
        STEPS,
        "cpu",
    )
    assert Path(result["resumed_from"]).name == newest.name
    saved = json.loads((out / "run.json").read_text())
    assert saved["processes"] == 2 and saved["launcher"] == "accelerate" and saved["status"] == "succeeded"
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))  # one writer, no step twice
    first_loss, last_loss = sum(r["loss"] for r in records[:3]) / 3, sum(r["loss"] for r in records[-3:]) / 3
    assert last_loss < first_loss - 2.0, f"loss went {first_loss:.2f} -> {last_loss:.2f}"
    assert sorted(p.name for p in out.iterdir() if "adapter" in p.name) == ["adapter"]  # one adapter, no leftovers
    assert all((p / checkpoints.MARKER).is_file() for p in checkpoints.all_checkpoints(out / "checkpoints"))
    _assert_loads_and_generates(files["model"], out / "adapter")
    _assert_tensorboard_has_the_loss(out, steps=STEPS)

    # The same run in one process with the same global batch: the curves agree step by step.
    single = run(
        TrainInput(
            data=files["train"],
            base_model=str(files["model"]),
            output=tmp_path / "single",
            backend="hf",
            max_steps=STEPS,
            save_steps=STEPS,
            lr=1e-2,
            batch_size=4,
            grad_accum=1,
            max_seq_len=128,
        )
    )
    assert single.steps == STEPS
    alone = [r["loss"] for r in read_metrics(tmp_path / "single" / "metrics.jsonl")]
    assert alone == pytest.approx([r["loss"] for r in records], rel=LOSS_RTOL)


def _assert_loads_and_generates(base_dir: Path, adapter_dir: Path) -> None:
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = load_file(adapter_dir / "adapter_model.safetensors")
    assert any(k.endswith("lora_B.weight") and v.abs().max() > 0 for k, v in adapter.items())  # B starts at zero
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), adapter_dir).eval()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of Italy?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        new = model.generate(**prompt, max_new_tokens=8, do_sample=False)[0, prompt["input_ids"].shape[1] :]
    assert len(new) > 0


def _assert_tensorboard_has_the_loss(out: Path, *, steps: int) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logged: set[int] = set()
    event_files = list(out.rglob("events.out.tfevents.*"))
    assert event_files, "no tensorboard event files under the run folder"
    for path in event_files:
        events = EventAccumulator(str(path))
        events.Reload()
        if "train/loss" in events.Tags()["scalars"]:
            logged |= {e.step for e in events.Scalars("train/loss")}
    assert logged == set(range(1, steps + 1))


def test_the_launcher_options_are_checked_before_anything_runs(files, tmp_path: Path) -> None:  # noqa: F811
    base = [
        "train",
        str(files["train"]),
        "--base-model",
        str(files["model"]),
        "--output",
        str(tmp_path / "run"),
        "--yes",
    ]
    alone = runner.invoke(app, base + ["--backend", "hf", "--processes", "2"])
    assert alone.exit_code == 2 and "--launcher accelerate" in alone.output
    unsloth = runner.invoke(app, base + ["--backend", "unsloth", "--launcher", "accelerate"])
    assert unsloth.exit_code == 2 and "runs the hf backend" in unsloth.output
    tracker = runner.invoke(app, base + ["--backend", "hf", "--report-to", "comet"])
    assert tracker.exit_code == 2 and "--report-to" in tracker.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("path", ["qlora_70b", "lora_70b"])
def test_the_70b_plans_train_through_the_launcher_on_the_gpus_they_price(path: str, tmp_path: Path) -> None:
    from graphs.plan import build_plan
    from graphs.state import DecisionRecord
    from tools.decision import Facts, decide

    facts = Facts(examples=2000, prompting="fell_short")
    state = {
        "recommendation": {"approach": "fine_tune", "fine_tune_path": path, "rationale": "a 70B path"},
        "decision": DecisionRecord(**decide(facts).model_dump(), facts=facts),
        "validation": None,
        "preset": {},
        "data_path": None,
        "goal": "",
    }
    plan = build_plan(state, embedder=None, chroma_dir=tmp_path / "chroma").as_json()
    train = next(s for s in plan["steps"] if s["step"] == "train")
    gpus = plan["estimate"]["gpus"]
    assert train["inputs"]["launcher"] == "accelerate" and train["inputs"]["backend"] == "hf"
    assert train["inputs"]["processes"] == train["inputs"]["gpus"] == gpus
    assert f"{gpus} x H100" in train["description"] and "accelerate launch" in train["description"]
    assert train["cost_usd"] == plan["estimate"]["training_cost_usd"] > 0
    if path == "lora_70b":  # 16-bit 70B does not fit one H100: the same compute over several, in less wall time
        assert gpus >= 2 and train["hours"] == pytest.approx(plan["estimate"]["training_hours"])


def test_an_approved_70b_train_step_goes_through_the_launcher(files, tmp_path: Path) -> None:  # noqa: F811
    """The execute step hands a launcher step to `tools.train.launcher` (here refused there, before any process
    starts: the launcher runs the hf backend only); the real 2-process run is the CLI test above."""
    from graphs import steps
    from tests.fakes.plans import plan_with, train_step
    from tools.approval import approve
    from tools.errors import TunewiseError

    plan = plan_with(train_step(files["model"], backend="unsloth", launcher="accelerate", processes=2))
    state = {
        "approval": approve(plan.as_json(), approved_by="test").model_dump(),
        "session": "x",
        "data_path": str(files["train"]),
    }
    with pytest.raises(TunewiseError, match="runs the hf backend"):
        steps.run_step(
            "train", plan, state, steps.RUNNERS, tmp_path / "session", tmp_path / "chroma", lambda event: None
        )
    assert not (tmp_path / "session" / "train").exists()
