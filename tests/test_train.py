"""`tunewise train --backend unsloth|hf` on a tiny Llama built on the CPU: it learns, only the adapter changes, the
adapter reloads and stops at the end-of-turn token, a SIGKILLed run resumes to the same step count, and bad input,
missing approval and impossible exports are refused before any model loads."""

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
from tests.fakes.tiny_model import EOT, build_tiny_model
from tools.approval import approve
from tools.progress import Update
from tools.train import checkpoints
from tools.train.config import TrainInput
from tools.train.metrics import read_metrics
from tools.train.run import run

pytestmark = pytest.mark.slow
runner = CliRunner()
CAPITALS = [
    ("France", "Paris"),
    ("Italy", "Rome"),
    ("Germany", "Berlin"),
    ("Spain", "Madrid"),
    ("Portugal", "Lisbon"),
    ("Austria", "Vienna"),
    ("Norway", "Oslo"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
    ("Peru", "Lima"),
    ("Chile", "Santiago"),
    ("Kenya", "Nairobi"),
    ("Greece", "Athens"),
    ("Poland", "Warsaw"),
    ("Ireland", "Dublin"),
    ("Cuba", "Havana"),
]
SYSTEM = "Answer in one sentence."


def chat(country: str, city: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"What is the capital of {country}?"},
            {"role": "assistant", "content": f"The capital of {country} is {city}."},
        ]
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train")
    (root / "train.jsonl").write_text("".join(json.dumps(chat(c, k)) + "\n" for c, k in CAPITALS))
    (root / "eval.jsonl").write_text("".join(json.dumps(chat(c, k)) + "\n" for c, k in CAPITALS[:4]))
    bad = [chat(*CAPITALS[0]), {"messages": [{"role": "user", "content": "no answer here"}]}]
    (root / "bad.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad))
    return {
        "model": build_tiny_model(root / "tiny"),
        "train": root / "train.jsonl",
        "eval": root / "eval.jsonl",
        "bad": root / "bad.jsonl",
    }


def fast(files, output: Path, **over) -> TrainInput:
    """Settings that make the tiny model learn in a couple of dozen steps."""
    settings = dict(
        data=files["train"],
        base_model=str(files["model"]),
        output=output,
        lr=1e-2,
        batch_size=4,
        grad_accum=1,
        warmup_steps=2,
        max_seq_len=128,
    )
    return TrainInput(**{**settings, **over})


def assert_only_the_adapter_changed(base_dir: Path, out: Path, alpha_over_r: float = 1.0) -> None:
    """merged = base + (alpha/r)·B·A on every adapted module and = base everywhere else: the base stayed frozen."""
    import torch
    from safetensors.torch import load_file

    base, merged = load_file(base_dir / "model.safetensors"), load_file(out / "merged" / "model.safetensors")
    adapter = load_file(out / "adapter" / "adapter_model.safetensors")
    assert any(k.endswith("lora_B.weight") and v.abs().max() > 0 for k, v in adapter.items())  # B starts at zero
    adapted = 0
    for name, weight in base.items():
        got = merged[name].float()
        module = "base_model.model." + name.removesuffix(".weight")
        if f"{module}.lora_A.weight" not in adapter:
            assert torch.equal(got, weight.to(merged[name].dtype).float()), name
            continue
        delta = alpha_over_r * adapter[f"{module}.lora_B.weight"].float() @ adapter[f"{module}.lora_A.weight"].float()
        torch.testing.assert_close(got, weight + delta, rtol=2e-2, atol=2e-3)  # merged is 16-bit
        adapted += delta.abs().max() > 1e-2
    assert adapted >= 10, "LoRA barely moved the adapted weights"


def assert_reloads_and_stops_at_end_of_turn(base_dir: Path, adapter_dir: Path) -> str:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), adapter_dir).eval()
    stops = GenerationConfig.from_pretrained(adapter_dir).eos_token_id
    eot = tokenizer.convert_tokens_to_ids(EOT)
    assert eot in stops
    prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "What is the capital of Italy?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**prompt, eos_token_id=stops, max_new_tokens=40, do_sample=False)
    new = out[0, prompt["input_ids"].shape[1] :].tolist()
    assert new[-1] == eot, f"did not stop at the end-of-turn token: {tokenizer.decode(new)!r}"
    return tokenizer.decode(new)


# The unsloth run depends on a CPU feature: unsloth trains in bf16 weights where the CPU computes bf16 natively
# (AVX512-BF16, AMX, Arm BF16) and in fp32 elsewhere. Both paths run here on any CPU (TUNEWISE_CPU_BF16 sets the
# fact; bf16 is only emulated, slower, without it). The hf backend trains in fp32 on every CPU.
#
# Full-batch steps (all 16 examples) and lora_alpha 32: with batch 4, alpha 16, 24 steps left the tiny model at
# loss ~2.1, answering garbage in fp32 and bf16 alike (0/16 answers right, top-2 logit gaps ~0.05), and whether
# greedy decoding happened to reach the end-of-turn token within 40 tokens flipped with bf16 rounding. Trained
# this way the loss falls smoothly to ~0.6 and the model answers "The capital of Italy is Rome." and stops.
LEARN = dict(max_steps=24, save_steps=8, eval_steps=8, batch_size=16, lora_alpha=32)


@pytest.mark.parametrize(
    ("backend", "cpu_bf16"),
    [("hf", None), ("unsloth", "1"), ("unsloth", "0")],
    ids=["hf", "unsloth-bf16", "unsloth-fp32"],
)
def test_a_run_learns_changes_only_the_adapter_and_reloads(
    files, tmp_path: Path, monkeypatch, backend: str, cpu_bf16: str | None
) -> None:
    if cpu_bf16 is not None:
        monkeypatch.setenv("TUNEWISE_CPU_BF16", cpu_bf16)
    out = tmp_path / "run"
    events: list[Update] = []
    result = run(
        fast(files, out, backend=backend, eval_file=files["eval"], merge=True, **LEARN), progress=events.append
    )
    assert (result.status, result.steps, result.total_steps, result.device) == ("succeeded", 24, 24, "cpu")
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 25))
    assert all({"step", "loss", "learning_rate", "tokens_per_second"} <= r.keys() for r in records)
    assert [r["step"] for r in records if "eval_loss" in r] == [8, 16, 24]
    first, last = sum(r["loss"] for r in records[:3]) / 3, sum(r["loss"] for r in records[-3:]) / 3
    assert last < first - 2.0, f"loss went {first:.2f} -> {last:.2f}"
    evals = [r["eval_loss"] for r in records if "eval_loss" in r]
    assert result.best_eval_loss == min(evals) and evals[-1] < evals[0]
    assert_only_the_adapter_changed(files["model"], out, alpha_over_r=LEARN["lora_alpha"] / 16)
    assert_reloads_and_stops_at_end_of_turn(files["model"], out / "adapter")
    saved = json.loads((out / "run.json").read_text())
    if cpu_bf16 is not None:  # the precision decided from the CPU's bf16 fact, and the fact, are on record
        assert saved["dtype"] == ("bfloat16" if cpu_bf16 == "1" else "float32")
        assert saved["device_facts"]["cpu_bf16"] is (cpu_bf16 == "1") and saved["device_facts"]["gpu_count"] == 0
    assert saved["status"] == "succeeded" and saved["tokens_trained"] == result.tokens_trained > 0
    assert (
        saved["tokens_per_second"] > 0 and saved["end_of_turn"] == EOT and saved["adapter_dir"] == str(out / "adapter")
    )
    from tools.digest import file_sha256

    assert saved["data_sha256"] == file_sha256(files["train"]) and saved["hyperparameters"]["lr"] == 1e-2
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert f'PARAMETER stop "{EOT}"' in (out / "Modelfile").read_text()
    assert [p.name for p in checkpoints.all_checkpoints(out / "checkpoints")] == ["checkpoint-16", "checkpoint-24"]
    assert all((p / checkpoints.MARKER).is_file() for p in checkpoints.all_checkpoints(out / "checkpoints"))
    assert any(u.kind == "start" and u.message == "training on cpu" and u.total == 24 for u in events)
    logged = [u for u in events if u.kind == "log" and "loss" in u.metrics]
    assert [u.done for u in logged] == list(range(1, 25)) and {u.unit for u in logged} == {"steps"}
    assert all({"loss", "learning_rate", "tokens_per_s"} <= u.metrics.keys() for u in logged)
    assert [u.done for u in events if "eval_loss" in u.metrics] == [8, 16, 24]
    assert any(u.kind == "status" and u.message == "saving the adapter" for u in events)
    if backend == "unsloth":
        assert "training on CPU" in (out / "train.log").read_text()  # unsloth's own banner names the device


def _start(files, out: Path, backend: str, *extra: str) -> subprocess.Popen:
    entry = Path(sys.executable).with_name("tunewise")  # the installed console script
    cmd = [
        str(entry),
        "train",
        str(files["train"]),
        "--backend",
        backend,
        "--base-model",
        str(files["model"]),
        "--output",
        str(out),
        "--max-steps",
        "12",
        "--save-steps",
        "2",
        "--lr",
        "1e-2",
        "--batch-size",
        "4",
        "--grad-accum",
        "1",
        "--max-seq-len",
        "128",
        "--yes",
        "--json",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.parametrize("backend", ["hf", "unsloth"])
def test_a_killed_run_resumes_from_its_newest_complete_checkpoint(files, tmp_path: Path, backend: str) -> None:
    out = tmp_path / "run"
    proc = _start(files, out, backend)
    deadline = time.monotonic() + 240
    while checkpoints.newest_complete(out / "checkpoints") is None:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 4 minutes"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: the CLI and the unsloth worker, like a crash
    proc.wait()
    assert json.loads((out / "run.json").read_text())["status"] == "running"  # it never got to say otherwise
    newest = checkpoints.newest_complete(out / "checkpoints")
    assert checkpoints.checkpoint_step(newest) < 12
    (out / "checkpoints" / "checkpoint-11").mkdir()  # what a kill in the middle of a save leaves
    (out / "checkpoints" / "checkpoint-11" / "optimizer.pt").write_bytes(b"half")

    again = runner.invoke(
        app,
        [
            "train",
            str(files["train"]),
            "--backend",
            backend,
            "--base-model",
            str(files["model"]),
            "--output",
            str(out),
            "--max-steps",
            "12",
            "--yes",
        ],
    )
    assert again.exit_code == 1 and "already holds a training run" in again.output and "--resume" in again.output
    changed = runner.invoke(
        app,
        [
            "train",
            str(files["train"]),
            "--backend",
            backend,
            "--base-model",
            str(files["model"]),
            "--output",
            str(out),
            "--max-steps",
            "12",
            "--save-steps",
            "2",
            "--lr",
            "5e-3",
            "--batch-size",
            "4",
            "--grad-accum",
            "1",
            "--max-seq-len",
            "128",
            "--yes",
            "--resume",
        ],
    )
    assert changed.exit_code == 1 and "different settings" in changed.output and "lr" in changed.output

    resumed = _start(files, out, backend, "--resume")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr.decode()[-3000:]
    result = json.loads(stdout)
    assert (result["steps"], result["total_steps"], result["status"]) == (12, 12, "succeeded")
    assert Path(result["resumed_from"]).name == newest.name
    assert any("removed half-written checkpoint(s) checkpoint-11" in w for w in result["warnings"])
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl")] == list(range(1, 13))  # no step twice
    state = json.loads((out / "checkpoints" / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == 12 and (out / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize("backend", ["hf", "unsloth"])
def test_invalid_data_stops_the_run_before_any_model_loads(files, tmp_path: Path, backend: str) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            str(files["bad"]),
            "--backend",
            backend,
            "--base-model",
            str(files["model"]),
            "--output",
            str(tmp_path / "run"),
            "--yes",
        ],
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and f"{files['bad']}:2: example_missing_assistant_message" in result.output
    assert not (tmp_path / "run").exists()


def test_training_needs_approval_and_checks_the_plan(files, tmp_path: Path) -> None:
    args = [
        "train",
        str(files["train"]),
        "--backend",
        "hf",
        "--base-model",
        str(files["model"]),
        "--output",
        str(tmp_path / "run"),
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--max-seq-len",
        "128",
    ]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "needs approval" in refused.output and "--yes" in refused.output
    plan = {"steps": [{"step": "index", "cost_usd": 0.0}], "total_usd": 0.0}
    unplanned = tmp_path / "unplanned.json"
    unplanned.write_text(json.dumps({"plan": plan, "approval": approve(plan, approved_by="test").model_dump()}))
    result = runner.invoke(app, args + ["--plan", str(unplanned)])
    assert result.exit_code == 1 and "has no 'train' step" in result.output
    assert not (tmp_path / "run").exists()
    plan = {"steps": [{"step": "train", "cost_usd": 0.0}], "total_usd": 0.0}
    approved = tmp_path / "approved.json"
    approved.write_text(json.dumps({"plan": plan, "approval": approve(plan, approved_by="test").model_dump()}))
    result = runner.invoke(app, args + ["--plan", str(approved), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] == 2


def test_gguf_says_where_it_cannot_work(files, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("UNSLOTH_LLAMA_CPP_PATH", str(tmp_path / "no-llama.cpp"))
    base = [
        "train",
        str(files["train"]),
        "--base-model",
        str(files["model"]),
        "--output",
        str(tmp_path / "run"),
        "--yes",
        "--gguf",
        "q4_k_m",
    ]
    on_cpu = runner.invoke(app, base + ["--backend", "unsloth"])
    assert on_cpu.exit_code == 1 and "cannot work on this machine" in on_cpu.output and "--merge" in on_cpu.output
    with_hf = runner.invoke(app, base + ["--backend", "hf"])
    assert with_hf.exit_code == 2 and "exports through unsloth" in with_hf.output
    assert not (tmp_path / "run").exists()


def test_accelerate_launcher_is_a_dry_run_with_a_config_accelerate_reads(files, tmp_path: Path) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            str(files["train"]),
            "--backend",
            "hf",
            "--base-model",
            str(files["model"]),
            "--output",
            str(out),
            "--lora-r",
            "8",
            "--packing",
            "--launcher",
            "accelerate",
            "--dry-run",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    config = load_config_from_file(plan["config_file"])
    assert config.distributed_type == "FSDP" and config.fsdp_config["fsdp_version"] == 2
    assert config.num_processes == plan["num_processes"] >= 2
    assert plan["command"].startswith(
        f"accelerate launch --config_file {out / 'accelerate_config.yaml'} -m agent.cli "
        f"train {files['train']} --backend hf"
    )
    assert "--lora-r 8" in plan["command"] and "--packing" in plan["command"] and "--yes" in plan["command"]
    assert sorted(p.name for p in out.iterdir()) == ["accelerate_config.yaml"]  # nothing trained
    # The printed command is itself a valid `tunewise train` invocation (tried here as another dry run).
    words = plan["command"].split()
    again = runner.invoke(app, words[words.index("train") :] + ["--launcher", "accelerate", "--dry-run", "--json"])
    assert again.exit_code == 0, again.output


def test_the_guard_warns_and_early_stopping_keeps_the_best_adapter(files, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    def ask(i: int, answer: str) -> str:
        return (
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"Name a city in {CAPITALS[i][0]}."},
                        {"role": "assistant", "content": answer},
                    ]
                }
            )
            + "\n"
        )

    # Every training answer is Paris and every eval answer Rome: the model memorises Paris, so the training loss
    # heads to zero while the eval loss, after the shared format is learnt, climbs.
    (tmp_path / "paris.jsonl").write_text("".join(ask(i, "Paris.") for i in range(12)))
    (tmp_path / "rome.jsonl").write_text("".join(ask(i, "Rome.") for i in range(4)))
    out = tmp_path / "run"
    result = run(
        fast(
            files,
            out,
            backend="hf",
            data=tmp_path / "paris.jsonl",
            eval_file=tmp_path / "rome.jsonl",
            max_steps=40,
            save_steps=2,
            early_stopping=True,
        )
    )
    assert result.status == "stopped_early" and result.steps < 40
    assert any("near zero" in w for w in result.warnings)
    assert any("rose two evaluations in a row" in w and "stopping" in w for w in result.warnings)
    evals = [(r["step"], r["eval_loss"]) for r in read_metrics(out / "metrics.jsonl") if "eval_loss" in r]
    best_step, best = min(evals, key=lambda e: e[1])
    assert result.best_eval_loss == best and best_step < result.steps
    kept = load_file(out / "checkpoints" / f"checkpoint-{best_step}" / "adapter_model.safetensors")
    final = load_file(out / "adapter" / "adapter_model.safetensors")
    assert kept.keys() == final.keys() and all(torch.equal(kept[k], final[k]) for k in kept)
    assert json.loads((out / "run.json").read_text())["status"] == "stopped_early"
