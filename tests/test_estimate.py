"""`tunewise estimate`: epochs, price arithmetic, break-even, availability, calibration and the CLI contract."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from tools.costs.epochs import openai_default_epochs
from tools.costs.estimate import EstimateInput, run
from tools.costs.gpu_time import flops_per_token, gpu_catalog
from tools.costs.lora_params import resolve_base_model
from tools.errors import TunewiseError

TODAY = dt.date(2026, 11, 28)


def _run(**kw):
    kw.setdefault("today", TODAY)
    return run(EstimateInput(**kw), hf_cache=Path("/nonexistent"))


def _option(result, option_id):
    return next(o for o in result.options if o.id == option_id)


@pytest.mark.parametrize(
    "examples,epochs",
    [
        (1, 25),
        (3, 25),
        (4, 25),
        (10, 10),
        (33, 3),
        (34, 3),
        (100, 3),
        (8_333, 3),
        (8_334, 2),
        (12_500, 2),
        (12_501, 1),
        (25_000, 1),
        (100_000, 1),
    ],
)
def test_openai_epochs_heuristic_at_its_edges(examples, epochs):
    assert openai_default_epochs(examples) == epochs
    assert _option(_run(tokens=1000, examples=examples, provider="openai"), "openai:gpt-4.1-mini").epochs == epochs


def test_training_price_is_file_tokens_times_epochs_times_price():
    result = _run(
        tokens=1_000_000,
        examples=100,
        provider="openai",
        models=["gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini"],
    )
    costs = {o.model: (o.billed_tokens, o.training_cost_usd) for o in result.options}
    assert costs == {
        "gpt-4.1": (3_000_000, 75.0),
        "gpt-4.1-mini": (3_000_000, 15.0),
        "gpt-4.1-nano": (3_000_000, 4.5),
        "gpt-4o": (3_000_000, 75.0),
        "gpt-4o-mini": (3_000_000, 9.0),
    }
    assert result.lora is None  # no local path asked for
    explicit = _run(tokens=1_000_000, examples=100, provider="openai", models=["gpt-4.1-mini"], epochs=5)
    assert explicit.options[0].training_cost_usd == 25.0


TRAFFIC = dict(
    prompt_tokens=3000, finetuned_prompt_tokens=200, output_tokens=200, models=["gpt-4.1-mini"], provider="openai"
)


def test_monthly_inference_and_break_even():
    # Ten months before gpt-4.1-mini's shutdown (2027-01-14), so month 7 falls inside the fine-tune's life.
    result = _run(
        tokens=1_000_000, examples=10_000, epochs=10, requests_per_month=10_000, today=dt.date(2026, 3, 1), **TRAFFIC
    )
    # prompting: 10k x (3000 x $0.40 + 200 x $1.60) / 1M; fine-tuned: 10k x (200 x $0.80 + 200 x $3.20) / 1M
    assert _option(result, "prompt:gpt-4.1-mini").monthly_inference_usd == 15.2
    assert _option(result, "rag:gpt-4.1-mini").monthly_inference_usd == 12.0  # (200 + 2000) x 0.40 + 200 x 1.60
    tuned = _option(result, "openai:gpt-4.1-mini")
    assert (tuned.training_cost_usd, tuned.monthly_inference_usd) == (50.0, 8.0)
    assert tuned.break_even_month == math.ceil(50.0 / (15.2 - 8.0)) == 7
    assert tuned.compared_with == "prompt:gpt-4.1-mini"


def test_break_even_past_the_models_shutdown_is_never_and_says_why():
    result = _run(tokens=1_000_000, examples=10_000, epochs=10, requests_per_month=10_000, **TRAFFIC)
    tuned = _option(result, "openai:gpt-4.1-mini")
    assert tuned.break_even_month is None and tuned.serves_until == dt.date(2027, 1, 14)
    never = [n for n in tuned.notes if n.startswith("break-even never")]
    assert never == [
        "break-even never: training would pay back in month 7, but a fine-tuned gpt-4.1-mini stops serving on "
        "2027-01-14, 1.5 months from 2026-11-28"
    ]


def test_no_break_even_when_fine_tuned_inference_costs_more():
    result = _run(
        tokens=1_000_000,
        examples=100,
        requests_per_month=10_000,
        **{**TRAFFIC, "prompt_tokens": 300, "finetuned_prompt_tokens": 300},
    )
    assert _option(result, "openai:gpt-4.1-mini").break_even_month is None


def test_cached_prompt_price_applies_only_from_1024_tokens():
    result = _run(tokens=1_000, examples=100, requests_per_month=1_000_000, cached_prompt_fraction=0.5, **TRAFFIC)
    # long prompt: 3000 x (0.5 x 0.40 + 0.5 x 0.10) + 200 x 1.60; the 200-token fine-tuned prompt is never cached
    assert _option(result, "prompt:gpt-4.1-mini").monthly_inference_usd == 1070.0
    assert _option(result, "openai:gpt-4.1-mini").monthly_inference_usd == 800.0


@pytest.mark.parametrize(
    "today,status,available",
    [
        (dt.date(2026, 5, 1), "open", True),  # before OpenAI's wind-down notice
        (dt.date(2026, 7, 1), "existing_only", True),  # closed to new organisations (2026-05-07)
        (dt.date(2026, 7, 2), "existing_only", True),  # ... and to those without fine-tuned inference in 60 days
        (TODAY, "existing_only", True),
        (dt.date(2027, 1, 6), "closed", False),  # no new jobs for anyone
        (dt.date(2027, 1, 14), "closed", False),  # and the base model shuts down
    ],
)
def test_openai_access_is_flagged_by_date(today, status, available):
    result = _run(tokens=1_000, examples=100, provider="openai", models=["gpt-4.1-mini"], today=today)
    option = _option(result, "openai:gpt-4.1-mini")
    assert (option.availability, option.available) == (status, available)
    assert option.serves_until == dt.date(2027, 1, 14)
    if status == "existing_only":
        rule = "served a fine-tuned model in the last 60 days" if today >= dt.date(2026, 7, 2) else "run fine-tuning"
        assert rule in option.notes[0] and "from nobody after 2027-01-05" in option.notes[0]
    if status == "closed":
        assert option.notes[0].startswith("OpenAI takes no new fine-tuning jobs since 2027-01-06")
    life = next(n for n in option.notes if "serves only until" in n)
    assert "2027-01-14" in life and "notice of 2026-10-14" in life


def test_a_shut_down_model_is_not_offered():
    result = _run(tokens=1_000, examples=100, provider="openai", models=["gpt-4.1-nano"], today=TODAY)
    option = _option(result, "openai:gpt-4.1-nano")
    assert (option.available, option.availability, option.serves_until) == (False, "closed", dt.date(2026, 10, 23))


def test_dataset_from_a_training_file(tmp_path: Path):
    from tools.dataset.validate import ValidateInput
    from tools.dataset.validate import run as validate

    rows = [
        {
            "messages": [
                {"role": "system", "content": "You are Acme's support agent."},
                {"role": "user", "content": f"Where is order {i}?"},
                {"role": "assistant", "content": f"Order {i} ships tomorrow; tracking follows by email."},
            ]
        }
        for i in range(40)
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    checked = validate(ValidateInput(path=path))
    result = _run(
        path=str(path), provider="openai", models=["gpt-4.1-mini"], requests_per_month=1000, prompt_tokens=2000
    )
    assert (result.dataset.examples, result.dataset.tokens) == (40, checked.tokens.total)
    assert result.options[-1].billed_tokens == checked.tokens.total * 3
    # Without --finetuned-prompt-tokens/--output-tokens the file's own mean prompt and answer are used.
    mean_prompt = (checked.tokens.total - checked.tokens.trained) / 40
    mean_output = checked.tokens.trained / 40
    expected = round(1000 * (mean_prompt * 0.80 + mean_output * 3.20) / 1e6, 2)
    assert _option(result, "openai:gpt-4.1-mini").monthly_inference_usd == expected


@pytest.mark.parametrize(
    "kw,match",
    [
        ({}, "nothing to estimate from"),
        ({"tokens": 10}, "nothing to estimate from"),
        ({"path": "x.jsonl", "tokens": 10, "examples": 1}, "not both"),
        ({"tokens": 10, "examples": 1, "requests_per_month": 5}, "needs --prompt-tokens"),
        ({"tokens": 10, "examples": 1, "requests_per_month": 5, "prompt_tokens": 9}, "--finetuned-prompt-tokens"),
        ({"tokens": 10, "examples": 1, "gpu": "TPU v5"}, "unknown GPU"),
        ({"tokens": 10, "examples": 1, "models": ["gpt-9"]}, "unknown OpenAI model"),
    ],
)
def test_usage_errors_are_one_clear_line(kw, match):
    with pytest.raises(TunewiseError, match=match) as err:
        _run(**kw)
    assert err.value.exit_code == 2


def test_local_options_cover_the_gpu_catalog():
    result = _run(tokens=10_000_000, examples=10_000, provider="local", base_model="Llama-3.1-8B")
    local = [o for o in result.options if o.provider == "local"]
    assert [o.gpu for o in local] == list(gpu_catalog().gpus)
    assert result.lora.trainable_params == 41_943_040 and result.lora.total_params == 8_030_261_248
    assert result.lora.trainable_percent == round(100 * 41_943_040 / 8_030_261_248, 4)
    assert all(o.fits and o.vram_gb == result.vram.total_gib for o in local)
    h100 = _option(result, "local:Llama-3.1-8B:H100")
    arch = resolve_base_model("Llama-3.1-8B")
    hours = (
        2 * 10_000_000 * flops_per_token(arch, seq_len=1000) / (989.4e12 * 0.35) / 3600
    )  # 2 epochs, mean 1,000 tokens
    assert h100.training_hours == round(hours, 3) and h100.training_cost_usd == round(hours * 2.99, 2)


def test_flops_per_token_follows_the_stated_model():
    arch = resolve_base_model("Llama-3.1-8B")
    n = arch.matmul_params
    assert flops_per_token(arch, method="lora", gradient_checkpointing=False, seq_len=1) == pytest.approx(
        4 * n, rel=1e-4
    )
    assert flops_per_token(arch, method="lora", seq_len=1) == pytest.approx(6 * n, rel=1e-4)
    assert flops_per_token(arch, method="full", gradient_checkpointing=False, seq_len=1) == pytest.approx(
        6 * n, rel=1e-4
    )
    assert flops_per_token(arch, method="full", seq_len=1) == pytest.approx(8 * n, rel=1e-4)


def test_a_model_too_big_for_a_gpu_says_so():
    result = _run(
        tokens=1_000_000, examples=1_000, provider="local", base_model="Llama-3.1-70B", quant="16bit", gpu="RTX 4090"
    )
    (option,) = [o for o in result.options if o.provider == "local"]
    assert option.fits is False and option.max_batch_size == 0 and "GiB" in option.notes[0]
    assert option.training_cost_usd is None and option.training_hours is None  # no price for a run that cannot start


def test_prices_file_overrides_openai_and_gpu_prices(tmp_path: Path):
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({"models": {"gpt-4.1-mini": {"training": 10.0}}, "gpus": {"H100": {"usd_per_hour": 10.0}}})
    )
    base = _run(tokens=1_000_000, examples=100, gpu="H100", models=["gpt-4.1-mini"])
    cheap = _run(tokens=1_000_000, examples=100, gpu="H100", models=["gpt-4.1-mini"], prices_file=str(prices))
    assert _option(cheap, "openai:gpt-4.1-mini").training_cost_usd == 30.0
    h100, h100_over = _option(base, "local:Qwen3-8B:H100"), _option(cheap, "local:Qwen3-8B:H100")
    assert h100_over.training_cost_usd == pytest.approx(h100.training_hours * 10.0, abs=0.01)
    assert h100_over.training_cost_usd != h100.training_cost_usd


def _write_run(tmp_path: Path, **fields) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps(fields))
    return run_dir


def test_calibration_on_the_same_gpu_and_model_reproduces_the_measured_speed(tmp_path: Path):
    run_dir = _write_run(
        tmp_path,
        tokens_per_second=4000.0,
        device="cuda:NVIDIA H100 80GB HBM3",
        base_model="Llama-3.1-8B",
        hyperparameters={"max_seq_len": 1000, "batch_size": 2, "lora_r": 16, "load_in_4bit": True},
    )
    result = _run(
        tokens=8_000_000,
        examples=8_000,
        provider="local",
        base_model="Llama-3.1-8B",
        calibrate=str(run_dir),
        max_seq_len=1000,
    )
    h100 = _option(result, "local:Llama-3.1-8B:H100")
    assert h100.training_hours == round(3 * 8_000_000 / 4000 / 3600, 3)
    assert any("measured on H100" in n for n in result.notes)
    # The measured MFU carries to the other GPUs in proportion to their peak FLOP/s.
    a100 = _option(result, "local:Llama-3.1-8B:A100 80GB")
    assert a100.training_hours == pytest.approx(h100.training_hours * 989.4 / 312.0, rel=1e-3)


def test_calibration_from_a_smaller_model_is_scaled_and_said(tmp_path: Path):
    run_dir = _write_run(
        tmp_path,
        tokens_per_second=2000.0,
        device="cpu",
        base_model="SmolLM2-135M",
        hyperparameters={"max_seq_len": 512},
    )
    result = _run(tokens=1_000_000, examples=1_000, provider="local", calibrate=str(run_dir), max_seq_len=512)
    cpu = _option(result, "local:Qwen3-8B:cpu")  # the default base (the qlora_self_hosted path's)
    small, big = resolve_base_model("SmolLM2-135M"), resolve_base_model("Qwen3-8B")
    speed = 2000.0 * flops_per_token(small, seq_len=512) / flops_per_token(big, seq_len=512)
    assert cpu.training_hours == round(3 * 1_000_000 / speed / 3600, 3)
    assert any("scaled" in n and "SmolLM2-135M" in n for n in result.notes)
    assert any("keep the 35% MFU" in n for n in result.notes)


@pytest.mark.parametrize(
    "content,match",
    [
        (None, "no run.json"),
        ('{\n  "device": "cpu",,\n}', "not valid JSON"),
        ('{"device": "cpu", "base_model": "SmolLM2-135M"}', "no 'tokens_per_second'"),
        ('{"tokens_per_second": -1, "device": "cpu", "base_model": "SmolLM2-135M"}', "positive number"),
        ('{"tokens_per_second": 9, "device": "cpu", "base_model": "nope-7b"}', "base_model: unknown base model"),
        ('{"tokens_per_second": 9e9, "device": "cuda:NVIDIA L4", "base_model": "SmolLM2-135M"}', "of a L4's peak"),
        (
            '{"tokens_per_second": 9, "device": "cpu", "base_model": "SmolLM2-135M", "hyperparameters": {"max_seq_len": "x"}}',
            "max_seq_len must be",
        ),
    ],
)
def test_bad_run_folders_are_clear(tmp_path: Path, content, match):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    if content is not None:
        (run_dir / "run.json").write_text(content)
    with pytest.raises(TunewiseError, match=match) as err:
        _run(tokens=1000, examples=10, provider="local", calibrate=str(run_dir))
    assert err.value.path.endswith("run.json")


def test_cli_json_keeps_the_contract():
    out = CliRunner().invoke(
        app,
        [
            "estimate",
            "--tokens",
            "5000000",
            "--examples",
            "10000",
            "--gpu",
            "H100",
            "--model",
            "gpt-4.1-mini",
            "--requests-per-month",
            "1000",
            "--prompt-tokens",
            "3000",
            "--finetuned-prompt-tokens",
            "200",
            "--output-tokens",
            "200",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert set(data["dataset"]) >= {"examples", "tokens"}
    required = {
        "id",
        "provider",
        "model",
        "gpu",
        "epochs",
        "billed_tokens",
        "training_cost_usd",
        "training_hours",
        "vram_gb",
        "fits",
        "monthly_inference_usd",
        "available",
    }
    assert all(required <= set(o) for o in data["options"])
    assert set(data["lora"]) >= {"base_model", "trainable_params", "total_params", "trainable_percent"}


def test_cli_table_and_errors():
    runner = CliRunner()
    out = runner.invoke(app, ["estimate", "--tokens", "100000", "--examples", "200", "--gpu", "L4"])
    assert out.exit_code == 0 and "openai:gpt-4.1-mini" in out.stdout and "local:Qwen3-8B:L4" in out.stdout
    bad = runner.invoke(app, ["estimate", "--tokens", "1", "--examples", "1", "--epochs", "many"])
    assert bad.exit_code == 2 and "--epochs must be" in bad.stderr and "Traceback" not in bad.output
    bad = runner.invoke(app, ["estimate", "--tokens", "1", "--examples", "1", "--lora-r", "0"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --lora-r")


def test_installed_entry_point(tmp_path: Path):
    exe = Path(sys.executable).with_name("tunewise")
    done = subprocess.run(
        [
            str(exe),
            "estimate",
            "--tokens",
            "1000000",
            "--examples",
            "100",
            "--provider",
            "openai",
            "--model",
            "gpt-4.1-nano",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["options"][0]["training_cost_usd"] == 4.5
