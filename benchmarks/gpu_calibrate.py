"""GPU calibration for `tunewise estimate`: QLoRA tokens/s and peak VRAM of both backends on Llama-3.2-1B- and
Llama-3.1-8B-shaped models, next to what the estimator predicts for the same settings.

    python benchmarks/gpu_calibrate.py RESULTS.json [--steps 30] [--budget 450]

For a lent GPU machine with no downloads: each model is built from its catalog config (tools/data/base_models.json)
with random bf16 weights on the GPU and saved, with a small BPE tokenizer from tests/fakes (the model keeps its full
128,256-row vocabulary, so compute and memory match the real model). Each run is `tools.train.run` (what
`tunewise train --yes` calls) in its own process (4-bit, batch 2, 1,024 tokens, --steps), so peak VRAM is per run.
RESULTS.json is rewritten after every run, so a timeout keeps what finished. The 8B unsloth run is skipped when less
than a third of the budget is left.

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
for _cache in (ROOT / ".device" / "tiktoken-cache", ROOT / "shared" / "tiktoken-cache", ROOT.parent / "shared" / "tiktoken-cache"):
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
            fh.write(json.dumps({"messages": [{"role": "user", "content": user},
                                              {"role": "assistant", "content": f"{answer} (ref {i})"}]}) + "\n")
    return path


def build_model(shape: str, folder: Path) -> dict:
    """Random bf16 weights in the catalog shape, initialised on the GPU, saved with a tiny tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.fakes.tiny_model import build_tokenizer

    catalog = json.loads((ROOT / "tools" / "data" / "base_models.json").read_text())["models"][shape]["config"]
    fields = {k: v for k, v in catalog.items() if k != "model_type"}
    tokenizer = build_tokenizer(4096)
    config = LlamaConfig(**fields, max_position_embeddings=8192, rope_theta=500000.0, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
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
    """What `tunewise estimate` says for this run; tokens given directly so its hours are not rounded to zero."""
    try:
        from tools.estimate import EstimateInput, run

        result = run(EstimateInput(tokens=10_000_000, examples=10_000, provider="local", base_model=shape, lora_r=16,
                                   quant="4bit", max_seq_len=SEQ, batch_size=BATCH, epochs=1, gpu=gpu_name,
                                   gradient_checkpointing=True, optim_bits=8))
    except Exception as exc:  # the estimator is another module: report, do not lose the measurements
        return {"error": f"{type(exc).__name__}: {exc}"}
    option = next(o for o in result.options if o.provider == "local")
    tps = option.billed_tokens / (option.training_hours * 3600) if option.training_hours else None
    return {"gpu": option.gpu, "vram_gib": option.vram_gb, "tokens_per_second": round(tps, 1) if tps else None,
            "max_batch_size": option.max_batch_size}


def train(backend: str, model: Path, data: Path, out: Path, steps: int, timeout: float) -> dict:
    """One `tools.train.run` in a fresh process (so peak VRAM is this run's); running this script is the approval."""
    spec = {"data": str(data), "backend": backend, "base_model": str(model), "output": str(out), "max_steps": steps,
            "batch_size": BATCH, "grad_accum": 1, "max_seq_len": SEQ, "save_steps": 100_000, "warmup_steps": 2,
            "load_in_4bit": True}
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--run-one", json.dumps(spec)], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    row: dict = {"process_seconds": round(time.perf_counter() - started, 1)}
    if proc.returncode != 0:
        log = (out / "train.log").read_text()[-1500:] if (out / "train.log").is_file() else ""
        return {**row, "error": (proc.stderr.strip().splitlines() or ["?"])[-1][:500], "log_tail": log or proc.stderr[-1500:]}
    run = json.loads((out / "run.json").read_text())
    return {**row, **{k: run.get(k) for k in ("device", "dtype", "quantized_4bit", "steps", "tokens_trained",
                                               "tokens_per_second", "wall_seconds", "peak_vram_gib", "final_loss",
                                               "warnings")}}


def run_one(spec: str) -> None:
    from tools.errors import TunewiseError
    from tools.train import TrainInput, run

    try:
        run(TrainInput(**json.loads(spec)))
    except TunewiseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def check_tiktoken() -> str | None:
    """The validator counts tokens with tiktoken, which cannot download on a machine without network."""
    try:
        from tools.tokens import get_encoding

        get_encoding("o200k_base")
        return None
    except Exception as exc:
        return (f"{exc}; copy ../shared/tiktoken-cache into the repo (e.g. .device/tiktoken-cache), carry it, and set "
                "TIKTOKEN_CACHE_DIR to it")


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

    report: dict = {"versions": versions(), "settings": {"batch_size": BATCH, "max_seq_len": SEQ, "steps": args.steps,
                                                         "quant": "4bit", "lora_r": 16}, "runs": []}
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
            row = {"shape": shape, "backend": backend, **built, "predicted": estimate,
                   **train(backend, model, data, work / f"{shape}-{backend}", args.steps, timeout=left - 10)}
            tps, want = row.get("tokens_per_second"), estimate.get("tokens_per_second")
            if tps and want:
                row["measured_over_predicted_tokens_per_second"] = round(tps / want, 3)
            if row.get("peak_vram_gib") and estimate.get("vram_gib"):
                row["measured_over_predicted_vram"] = round(row["peak_vram_gib"] / estimate["vram_gib"], 3)
            report["runs"].append(row)
            args.results.write_text(json.dumps(report, indent=2))
            print(json.dumps({k: row.get(k) for k in ("shape", "backend", "tokens_per_second", "peak_vram_gib",
                                                      "predicted", "error")}), flush=True)
    report["seconds"] = round(time.monotonic() - began, 1)
    args.results.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
