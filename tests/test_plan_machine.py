"""A plan that knows the machine it runs on (issue 31): the default 8B base on a machine without a GPU is said to
need one before approval, in the human view and in --json, and approving it runs the steps before training and
stops there; a tiny model's steps give their time on this machine instead."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli import app
from graphs.state import PlanStep, TrainInputs
from graphs.steps import Ledger, needs_gpu
from tests.test_graphs import write_chat_data
from tools.costs.this_machine import HereEstimate
from tools.errors import TunewiseError
from tools.machine import Machine

GOAL = "Answer in our house style, which is stable. A careful prompt fell short. Chats must stay on our servers."


def _plan(tmp_path, *extra: str) -> list[str]:
    data = write_chat_data(tmp_path / "train.jsonl", 200)
    return ["plan", "--goal", GOAL, "--data", str(data), "--non-interactive", "--today", "2026-12-06", *extra]


def test_the_default_8b_on_a_machine_without_a_gpu_is_said_to_need_one(tmp_path):
    planned = json.loads(CliRunner().invoke(app, [*_plan(tmp_path), "--json"]).stdout)
    plan = planned["plan"]
    assert plan["machine"] == "2 CPU cores, no GPU"
    train = next(s for s in plan["steps"] if s["step"] == "train")
    assert train["here"]["needs_gpu"] is True and train["here"]["hours_here"] > 2  # tools/data/cpu.json's limit
    assert train["here"]["note"].startswith("needs a GPU: this machine has 2 CPU cores, no GPU")

    shown = CliRunner().invoke(app, _plan(tmp_path))
    screen = " ".join(shown.stdout.split())
    assert "This machine: 2 CPU cores, no GPU. The train and eval steps need a GPU:" in screen
    assert "Approving here runs the steps before train and stops there" in screen
    assert "tunewise resume" in screen and "--approve" in screen


def test_approving_it_here_stops_before_training_and_starts_nothing(tmp_path):
    result = CliRunner().invoke(app, [*_plan(tmp_path), "--approve"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "error: the train step needs a GPU: this machine has 2 CPU cores, no GPU" in said
    assert "run `tunewise resume" in said and "on a machine with a GPU" in said
    run = next((tmp_path / ".tunewise" / "runs").iterdir())
    ledger = Ledger(run / "ledger.json").read()
    assert ledger["split"]["status"] == "done" and "train" not in ledger  # nothing started, nothing to resume twice


def test_a_gpu_machine_runs_the_step_the_plan_said_needs_one():
    here = HereEstimate(machine="2 CPU cores, no GPU", needs_gpu=True, hours_here=40.0, note="needs a GPU: slow")
    step = PlanStep(
        step="train",
        tool="tools.train",
        inputs=TrainInputs(backend="unsloth", model=None, gpu="RTX 4090", base_model=None, option="x"),
        here=here,
    )
    needs_gpu(step, Machine(gpus=["NVIDIA L4"], gpu_memory_gib=[22.5], cpu_cores=8), "s1")  # no error
    with pytest.raises(TunewiseError, match="the train step needs a GPU: slow"):
        needs_gpu(step, Machine(cpu_cores=2), "s1")


def test_a_tiny_model_gives_its_time_on_this_machine(tmp_path):
    from tests.fakes.tiny_model import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny")
    planned = json.loads(
        CliRunner().invoke(app, [*_plan(tmp_path), "--answer", f"base_model={model}", "--json"]).stdout
    )
    steps = {s["step"]: s for s in planned["plan"]["steps"]}
    assert steps["train"]["here"]["needs_gpu"] is False and steps["eval"]["here"]["needs_gpu"] is False
    assert steps["train"]["hours"] == steps["train"]["here"]["hours_here"] < 0.1  # the hours column is this machine's
    assert "on this machine (2 CPU cores, no GPU): under a minute" in steps["train"]["description"]


def test_the_70b_paths_deploy_over_the_gpus_they_trained_on():
    goal = (
        "Draft clauses in our firm's style for a complex legal domain where quality matters most. We have 3,000 good "
        "examples, a careful prompt fell short, the style is stable, and the data must stay on our servers."
    )
    out = json.loads(CliRunner().invoke(app, ["plan", "--goal", goal, "--non-interactive", "--json"]).stdout)
    steps = {s["step"]: s["inputs"] for s in out["plan"]["steps"]}
    assert out["recommendation"]["fine_tune_path"] in ("lora_70b", "qlora_70b")
    assert steps["deploy"]["tensor_parallel"] == steps["train"]["gpus"] >= 1
