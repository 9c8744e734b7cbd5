"""GPU calibration for `tunewise estimate`: QLoRA tokens/s and peak VRAM of both backends on Llama-3.2-1B- and
Llama-3.1-8B-shaped models, next to what the estimator predicts for the same settings.

    python benchmarks/gpu_calibrate.py RESULTS.json [--steps 30] [--budget 450]

For a lent GPU machine with no downloads: each model is built from its catalog config (tools/data/base_models.json)
with random bf16 weights on the GPU and saved, with a small BPE tokenizer from tests/fakes (the model keeps its full
128,256-row vocabulary, so compute and memory match the real model). Each run is `tools.train.run` (what
`tunewise train --yes` calls) in its own process (4-bit, batch 2, 1,024 tokens, --steps), so peak VRAM is per run.
RESULTS.json is rewritten after every run, so a timeout keeps what finished. The 8B unsloth run is skipped when less
than a third of the budget is left.

Before the calibration runs, `gpu_checks` (a small model, a few steps, well under a minute) exercises the GPU paths
of issue 20 that no CPU can reach, and writes each verdict under "gpu_checks":
- finding 1, precision: each backend trains and run.json's dtype is what tools/train/device.py decides for this
  GPU's compute capability (fp16 below 8.0, bf16 from 8.0), with the facts recorded beside it;
- finding 2, GGUF: an unsloth run with --gguf q8_0 lists existing .gguf files and writes a Modelfile (llama.cpp must
  be buildable offline; otherwise the verdict says so);
- finding 5, base name: the adapter records exactly the base the run was given;
- finding 6, untrained rows: the model's end-of-turn rows are zeroed before training, so unsloth's trainer fixes
  them in place; the adapter must carry them (trainable_token_indices) and a reload must see them non-zero.

Needs on the GPU machine: trl, bitsandbytes, datasets, pydantic, unsloth and unsloth_zoo (as wheels), and
tiktoken's o200k_base file (the validator counts tokens with it): TIKTOKEN_CACHE_DIR, or .device/tiktoken-cache.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
for _cache in (
    ROOT / ".device" / "tiktoken-cache",
    ROOT / "shared" / "tiktoken-cache",
    ROOT.parent / "shared" / "tiktoken-cache",
):
    if _cache.is_dir():
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(_cache))
        break

SHAPES = ("Llama-3.2-1B", "Llama-3.1-8B")
BATCH, SEQ = 2, 1024


def versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("torch", "transformers", "trl", "peft", "bitsandbytes", "unsloth", "unsloth_zoo", "accelerate"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def write_data(path: Path, n: int = 96) -> Path:
    """Support conversations of 1,000-2,000 tokens: cut at 1,024, every step carries exactly 2 x 1,024 tokens."""
    from benchmarks.datagen import sentence

    rng = random.Random(0)
    with path.open("w") as fh:
        for i in range(n):
            user = " ".join(sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(6, 10)))
            answer = " ".join(sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(12, 24)))
            fh.write(
                json.dumps(
                    {
                        "messages": [
                            {"role": "user", "content": user},
                            {"role": "assistant", "content": f"{answer} (ref {i})"},
                        ]
                    }
                )
                + "\n"
            )
    return path


def build_model(shape: str, folder: Path) -> dict:
    """Random bf16 weights in the catalog shape, initialised on the GPU, saved with a tiny tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.fakes.tiny_model import build_tokenizer

    catalog = json.loads((ROOT / "tools" / "data" / "base_models.json").read_text())["models"][shape]["config"]
    fields = {k: v for k, v in catalog.items() if k != "model_type"}
    tokenizer = build_tokenizer(4096)
    config = LlamaConfig(
        **fields,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    started = time.perf_counter()
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config)
    torch.set_default_dtype(torch.float32)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return {"params": params, "build_seconds": round(time.perf_counter() - started, 1)}


def predicted(shape: str, gpu_name: str) -> dict:
    """Return what `tunewise estimate` says for this run; tokens given directly so its hours are not rounded to
    zero.
    """
    try:
        from tools.costs.estimate import EstimateInput, run

        result = run(
            EstimateInput(
                tokens=10_000_000,
                examples=10_000,
                provider="local",
                base_model=shape,
                lora_r=16,
                quant="4bit",
                max_seq_len=SEQ,
                batch_size=BATCH,
                epochs=1,
                gpu=gpu_name,
                gradient_checkpointing=True,
                optim_bits=8,
            )
        )
    except Exception as exc:  # the estimator is another module: report, do not lose the measurements
        return {"error": f"{type(exc).__name__}: {exc}"}
    option = next(o for o in result.options if o.provider == "local")
    tps = option.billed_tokens / (option.training_hours * 3600) if option.training_hours else None
    return {
        "gpu": option.gpu,
        "vram_gib": option.vram_gb,
        "tokens_per_second": round(tps, 1) if tps else None,
        "max_batch_size": option.max_batch_size,
    }


def train(backend: str, model: Path, data: Path, out: Path, steps: int, timeout: float) -> dict:
    """One `tools.train.run` in a fresh process (so peak VRAM is this run's); running this script is the approval."""
    spec = {
        "data": str(data),
        "backend": backend,
        "base_model": str(model),
        "output": str(out),
        "max_steps": steps,
        "batch_size": BATCH,
        "grad_accum": 1,
        "max_seq_len": SEQ,
        "save_steps": 100_000,
        "warmup_steps": 2,
        "load_in_4bit": True,
    }
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--run-one", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    row: dict = {"process_seconds": round(time.perf_counter() - started, 1)}
    if proc.returncode != 0:
        log = (out / "train.log").read_text()[-1500:] if (out / "train.log").is_file() else ""
        return {
            **row,
            "error": (proc.stderr.strip().splitlines() or ["?"])[-1][:500],
            "log_tail": log or proc.stderr[-1500:],
        }
    run = json.loads((out / "run.json").read_text())
    return {
        **row,
        **{
            k: run.get(k)
            for k in (
                "device",
                "dtype",
                "quantized_4bit",
                "steps",
                "tokens_trained",
                "tokens_per_second",
                "wall_seconds",
                "peak_vram_gib",
                "final_loss",
                "warnings",
            )
        },
    }


def run_one(spec: str) -> None:
    from tools.errors import TunewiseError
    from tools.train.config import TrainInput
    from tools.train.run import run

    try:
        run(TrainInput(**json.loads(spec)))
    except TunewiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def gpu_checks(work: Path, data: Path) -> dict:
    """Check findings 1, 2, 5 and 6 of issue 20 on this GPU (see the module docstring)."""
    import torch
    from safetensors.torch import load_file, save_file

    from tests.fakes.tiny_model import EOT, build_tiny_model
    from tools.train import device

    model = build_tiny_model(
        work / "checks-model",
        hidden_size=256,
        heads=4,
        kv_heads=2,
        intermediate_size=512,
        vocab_size=512,
        max_positions=2048,
        init_std=0.02,
    )
    weights = load_file(str(model / "model.safetensors"))
    eot = json.loads((model / "tokenizer.json").read_text())["added_tokens"]
    eot_id = next(t["id"] for t in eot if t["content"] == EOT)
    for key in ("model.embed_tokens.weight", "lm_head.weight"):
        weights[key][eot_id] = 0  # an untrained row, like <|eot_id|> in a Llama-3 base
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    facts = device.detect()
    verdicts: dict = {"device_facts": facts.to_json(), "expected_dtype": device.precision(facts, "unsloth").dtype}
    for backend in ("hf", "unsloth"):
        out = work / f"checks-{backend}"
        spec = {
            "data": str(data),
            "backend": backend,
            "base_model": str(model),
            "output": str(out),
            "max_steps": 6,
            "batch_size": 2,
            "grad_accum": 1,
            "max_seq_len": 256,
            "save_steps": 100_000,
            "warmup_steps": 1,
            "load_in_4bit": False,
            "merge": backend == "unsloth",
            **({"gguf": "q8_0"} if backend == "unsloth" else {}),
        }
        proc = subprocess.run(
            [sys.executable, __file__, "--run-one", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        if not (out / "run.json").is_file() or proc.returncode != 0:
            verdicts[backend] = {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:500]}
            continue
        run = json.loads((out / "run.json").read_text())
        adapter = Path(run["adapter_dir"])
        config = json.loads((adapter / "adapter_config.json").read_text())
        row: dict = {
            "finding_1_dtype": run.get("dtype"),
            "finding_1_ok": run.get("dtype") == device.precision(facts, backend).dtype,
            "device_facts": run.get("device_facts"),
            "finding_5_base": config.get("base_model_name_or_path"),
            "finding_5_ok": config.get("base_model_name_or_path") == str(model),
        }
        if backend == "unsloth":
            files = run.get("gguf_files") or []
            row["finding_2_gguf_files"] = files
            row["finding_2_ok"] = bool(files) and all(Path(f).is_file() for f in files) and bool(run.get("modelfile"))
            if not files:
                row["finding_2_warnings"] = [w for w in run.get("warnings", []) if "GGUF" in w]
            indices = config.get("trainable_token_indices") or {}
            row["finding_6_rows"] = indices
            from peft import PeftModel
            from transformers import AutoModelForCausalLM

            merged = PeftModel.from_pretrained(
                AutoModelForCausalLM.from_pretrained(model), str(adapter)
            ).merge_and_unload()
            fixed = float(merged.get_input_embeddings().weight[eot_id].abs().sum())
            row["finding_6_reloaded_eot_row_abs_sum"] = fixed
            row["finding_6_ok"] = eot_id in indices.get("embed_tokens", []) and fixed > 0
        verdicts[backend] = row
    torch.cuda.empty_cache()
    return verdicts


def check_tiktoken() -> str | None:
    """Check that tiktoken's encoding is at hand: the validator counts tokens with it, and it cannot download on a
    machine without network. Return None if it is, else what went wrong and how to carry the cache.
    """
    try:
        from tools.tokens import get_encoding

        get_encoding("o200k_base")
        return None
    except Exception as exc:
        return (
            f"{exc}; copy ../shared/tiktoken-cache into the repo (e.g. .device/tiktoken-cache), carry it, and set "
            "TIKTOKEN_CACHE_DIR to it"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="?")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for everything, model builds included")
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one)
        return
    if args.results is None:
        parser.error("give the RESULTS.json path")
    began = time.monotonic()

    import torch

    report: dict = {
        "versions": versions(),
        "settings": {"batch_size": BATCH, "max_seq_len": SEQ, "steps": args.steps, "quant": "4bit", "lora_r": 16},
        "runs": [],
    }
    problem = "no CUDA device" if not torch.cuda.is_available() else check_tiktoken()
    if problem:
        report["error"] = problem
        args.results.write_text(json.dumps(report, indent=2))
        raise SystemExit(1)
    gpu = torch.cuda.get_device_name(0)
    report["gpu"] = gpu
    work = Path(tempfile.mkdtemp(prefix="tunewise-calibrate-"))
    atexit.register(shutil.rmtree, work, True)  # 8B weights are 16 GB
    data = write_data(work / "train.jsonl")
    try:
        report["gpu_checks"] = gpu_checks(work, data)
    except Exception as exc:  # the calibration below is the other half of this run: keep going
        report["gpu_checks"] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    args.results.write_text(json.dumps(report, indent=2))
    print(json.dumps({"gpu_checks": report["gpu_checks"]}, default=str)[:3000], flush=True)
    for shape in SHAPES:
        left = args.budget - (time.monotonic() - began)
        if left < 90:
            report["runs"].append({"shape": shape, "skipped": f"only {left:.0f} s of the budget left"})
            break
        model = work / shape
        built = build_model(shape, model)
        estimate = predicted(shape, gpu)
        for backend in ("hf", "unsloth"):
            left = args.budget - (time.monotonic() - began)
            if left < (args.budget / 3 if shape == SHAPES[-1] and backend == "unsloth" else 60):
                report["runs"].append({"shape": shape, "backend": backend, "skipped": f"only {left:.0f} s left"})
                continue
            row = {
                "shape": shape,
                "backend": backend,
                **built,
                "predicted": estimate,
                **train(backend, model, data, work / f"{shape}-{backend}", args.steps, timeout=left - 10),
            }
            tps, want = row.get("tokens_per_second"), estimate.get("tokens_per_second")
            if tps and want:
                row["measured_over_predicted_tokens_per_second"] = round(tps / want, 3)
            if row.get("peak_vram_gib") and estimate.get("vram_gib"):
                row["measured_over_predicted_vram"] = round(row["peak_vram_gib"] / estimate["vram_gib"], 3)
            report["runs"].append(row)
            args.results.write_text(json.dumps(report, indent=2))
            print(
                json.dumps(
                    {
                        k: row.get(k)
                        for k in ("shape", "backend", "tokens_per_second", "peak_vram_gib", "predicted", "error")
                    }
                ),
                flush=True,
            )
    report["seconds"] = round(time.monotonic() - began, 1)
    args.results.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
