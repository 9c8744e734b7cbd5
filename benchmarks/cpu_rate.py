"""Measure what this machine's CPU does for LoRA training and for generation, in the units the plan's estimate of
"time on this machine" uses (tools/data/cpu.json): achieved FLOP/s per core while training, and weight bytes read
per second while decoding one token at a time.

A random model with a real model's shape is built from the catalogue's config (SmolLM2-135M by default, no
download), so the matrices are as large as a small real model's and the numbers are not the tiny test model's
overheads. Training: LoRA on q/k/v/o and the MLP, fp32 (what a CPU without bf16 trains in), batch 2 x 256 tokens,
a few optimizer steps after one warm-up step. Decoding: greedy generation of 32 tokens, batch 1.

    python benchmarks/cpu_rate.py [--model SmolLM2-135M] [--steps 3]

It prints both rates beside the FLOPs model's prediction, so the data file's figures can be checked on another CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch


def main() -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    from tools.costs.gpu_time import flops_per_token
    from tools.costs.lora_params import base_model_catalog, resolve_base_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M", help="A catalogue name (tools/data/base_models.json).")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--seq", type=int, default=256)
    args = parser.parse_args()

    entry = base_model_catalog()["models"][args.model]
    arch = resolve_base_model(args.model)
    config = AutoConfig.for_model(**{**entry["config"], "torch_dtype": "float32"})
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    cores = len(os.sched_getaffinity(0))

    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    tuned = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, target_modules=targets, task_type="CAUSAL_LM"))
    tuned.train()
    optim = torch.optim.AdamW([p for p in tuned.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, config.vocab_size, (2, args.seq))

    def step() -> None:
        loss = tuned(input_ids=ids, labels=ids).loss
        loss.backward()
        optim.step()
        optim.zero_grad()

    step()  # warm-up: allocations and kernel choice
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - started
    tokens_per_s = ids.numel() * args.steps / seconds
    fpt = flops_per_token(arch, method="lora", gradient_checkpointing=False, seq_len=args.seq)
    per_core = tokens_per_s * fpt / cores

    model = tuned.merge_and_unload()
    model.eval()
    prompt = torch.randint(0, config.vocab_size, (1, 32))
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=4, do_sample=False, min_new_tokens=4)
        started = time.perf_counter()
        model.generate(prompt, max_new_tokens=32, do_sample=False, min_new_tokens=32)
        decode_s = time.perf_counter() - started
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    bytes_per_s = weight_bytes * 32 / decode_s

    print(
        json.dumps(
            {
                "model": args.model,
                "cores": cores,
                "torch_threads": torch.get_num_threads(),
                "train_tokens_per_s": round(tokens_per_s, 1),
                "train_flops_per_token": fpt,
                "train_flops_per_s_per_core": round(per_core),
                "decode_tokens_per_s": round(32 / decode_s, 2),
                "decode_weight_bytes_per_s": round(bytes_per_s),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
