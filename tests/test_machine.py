"""tools/machine.py and tools/costs/this_machine.py: what the machine has, and what a plan's local steps mean on it
(a tiny model trains on two CPU cores in minutes; the default 8B needs a GPU)."""

from __future__ import annotations

import pytest

from tools.costs.this_machine import CpuRates, cpu_rates, eval_here, in_words, train_here
from tools.errors import UsageError
from tools.machine import Machine, _visible, parse_smi, probe

CPU = Machine(cpu_cores=2)
H100 = Machine(gpus=["NVIDIA H100 80GB HBM3"], gpu_memory_gib=[79.65], cpu_cores=16)


def test_nvidia_smi_lines_and_cuda_visible_devices_are_read_as_torch_would():
    assert parse_smi("NVIDIA H100 80GB HBM3, 81559\nNVIDIA L4, 23034\nnot a line\n") == [
        ("NVIDIA H100 80GB HBM3", 79.65),
        ("NVIDIA L4", 22.49),
    ]
    assert _visible(None, 2) == [0, 1]
    assert _visible("", 2) == [] and _visible("-1", 2) == []
    assert _visible("1", 2) == [1] and _visible("0,5,1", 2) == [0]  # stops at the first invalid index
    assert _visible("GPU-8f6e", 2) == [0, 1]


def test_the_machine_can_be_described_for_another_host(monkeypatch):
    monkeypatch.setenv("TUNEWISE_MACHINE", '{"gpus": ["H100", "H100"], "gpu_memory_gib": [80, 80], "cpu_cores": 32}')
    machine = probe()
    assert machine.has_gpu and machine.describe() == "2 x H100"
    assert Machine(cpu_cores=1).describe() == "1 CPU core, no GPU"
    monkeypatch.setenv("TUNEWISE_MACHINE", '{"gpus": "H100"}')
    with pytest.raises(UsageError, match="TUNEWISE_MACHINE is not a machine"):
        probe()


def test_without_the_override_this_machine_is_probed(monkeypatch):
    monkeypatch.delenv("TUNEWISE_MACHINE")
    machine = probe()
    assert machine.cpu_cores >= 1 and len(machine.gpus) == len(machine.gpu_memory_gib)


def test_cpu_rates_are_dated_and_sourced():
    rates = cpu_rates()
    assert rates.date and "benchmarks/cpu_rate.py" in rates.source
    assert rates.train_flops_per_s_per_core > 1e9 and rates.decode_bytes_per_s > 1e8


def test_a_small_model_trains_here_and_the_default_8b_needs_a_gpu():
    small = train_here(CPU, base_model="SmolLM2-135M", trained_tokens=300_000)
    assert not small.needs_gpu and small.hours_here is not None and 0.1 < small.hours_here < 2
    assert small.note.startswith("on this machine (2 CPU cores, no GPU): about")
    big = train_here(CPU, base_model="Qwen3-8B", trained_tokens=600_000)
    assert big.needs_gpu and big.hours_here is not None and big.hours_here > 24
    assert big.note.startswith("needs a GPU: this machine has 2 CPU cores, no GPU") and "days" in big.note
    # more cores, proportionally less time
    wide = train_here(Machine(cpu_cores=4), base_model="SmolLM2-135M", trained_tokens=300_000)
    assert wide.hours_here == pytest.approx(small.hours_here / 2)


def test_a_gpu_machine_runs_it_unless_the_plan_needs_more_gpus():
    assert not train_here(H100, base_model="Qwen3-8B", trained_tokens=600_000).needs_gpu
    short = train_here(H100, base_model="Llama-3.1-70B", trained_tokens=600_000, gpus_needed=2)
    assert short.needs_gpu and short.note == "needs 2 GPUs; this machine has 1 x NVIDIA H100 80GB HBM3"


def test_an_unknown_model_on_a_cpu_is_not_guessed():
    unknown = train_here(CPU, base_model="acme/secret-model", trained_tokens=1000)
    assert unknown.needs_gpu and unknown.hours_here is None and "cannot be estimated" in unknown.note


def test_eval_generation_time_on_a_cpu():
    got = eval_here(CPU, base_model="SmolLM2-135M", generations=100, new_tokens=256, prompt_tokens=500)
    assert got is not None and not got.needs_gpu and got.hours_here is not None
    # decode dominates: 100 x 256 tokens, each streaming the fp32 weights once (about 10 tokens/s measured here)
    assert 0.3 < got.hours_here < 2
    slow = CpuRates(source="s", date="d", train_flops_per_s_per_core=1e10, decode_bytes_per_s=1e9, max_cpu_hours=2)
    slower = eval_here(CPU, base_model="SmolLM2-135M", generations=100, new_tokens=256, prompt_tokens=500, rates=slow)
    assert slower is not None and slower.needs_gpu and slower.hours_here is not None and slower.hours_here > 2
    assert eval_here(H100, base_model="SmolLM2-135M", generations=100, new_tokens=256, prompt_tokens=500) is None
    assert eval_here(CPU, base_model="Qwen3-8B", generations=99, new_tokens=256, prompt_tokens=500).needs_gpu


def test_durations_in_words():
    assert [in_words(h) for h in (0.001, 0.2, 3.5, 100)] == [
        "under a minute",
        "about 12 min",
        "about 3.5 h",
        "about 4 days",
    ]


def test_a_model_larger_than_the_memory_needs_a_gpu_however_short_the_run():
    small_ram = Machine(cpu_cores=2, memory_gib=24.0)
    one_step = train_here(small_ram, base_model="Qwen3-8B", trained_tokens=1000)
    assert one_step.needs_gpu and "24 GiB of memory cannot hold the model's 3" in one_step.note
    assert not train_here(small_ram, base_model="SmolLM2-135M", trained_tokens=1000).needs_gpu
    assert eval_here(small_ram, base_model="Qwen3-8B", generations=1, new_tokens=1, prompt_tokens=10).needs_gpu
    assert probe().memory_gib is None or probe().memory_gib > 0


def test_a_short_run_is_timed_by_its_steps(tmp_path):
    import json

    from typer.testing import CliRunner

    from agent.cli import app
    from tests.test_graphs import write_chat_data

    data = write_chat_data(tmp_path / "train.jsonl", 200)
    goal = "Answer in our house style, which is stable. A careful prompt fell short. Chats must stay on our servers."
    args = ["plan", "--goal", goal, "--data", str(data), "--non-interactive", "--json", "--answer"]

    def hours(*extra: str) -> float:
        out = json.loads(CliRunner().invoke(app, [*args, "base_model=SmolLM2-135M", *extra]).stdout)
        return next(s for s in out["plan"]["steps"] if s["step"] == "train")["here"]["hours_here"]

    full, short = hours(), hours("--answer", "max_steps=3")
    assert short == pytest.approx(full * 3 / 75, rel=0.05)  # 200 examples x 3 epochs / 8 per step = 75 steps
