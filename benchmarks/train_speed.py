"""Training tokens/s on this machine: the unsloth backend, the hf backend and a plain `transformers.Trainer` loop,
each with packing off and on, on the same ~30M-parameter Llama-style model and the same data, in one run.

    python benchmarks/train_speed.py [--steps 8] [--repeat 2] [--examples 200] [--out speed.json]

Every row counts non-padding tokens through forward + backward over the `trainer.train()` wall time (model loading and
unsloth's import are not counted). The model is random (built from a config, like the tests' tiny model, only
bigger); speed does not depend on what it knows. On the CPU unsloth turns packing off, so its "packing on" row is a
second measurement of the same run. On a shared machine single runs vary several-fold; runners go round-robin and the
best round of each is compared.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "tiktoken-cache"))

SHAPE = dict(
    hidden_size=512,
    layers=8,
    heads=8,
    kv_heads=4,
    intermediate_size=1376,
    vocab_size=4096,
    max_positions=1024,
    init_std=0.02,
)
BATCH, SEQ = 4, 512


def ours(backend: str, model: Path, data: Path, out: Path, *, packing: bool, steps: int) -> dict:
    from tools.train.config import TrainInput
    from tools.train.run import run

    result = run(
        TrainInput(
            data=data,
            backend=backend,
            base_model=str(model),
            output=out,
            packing=packing,
            max_steps=steps,
            save_steps=10_000,
            batch_size=BATCH,
            grad_accum=1,
            max_seq_len=SEQ,
            warmup_steps=1,
        )
    )
    saved = json.loads((out / "run.json").read_text())
    packed = packing and not any("turns packing off" in w for w in result.warnings)
    return {
        "tokens": result.tokens_trained,
        "seconds": result.wall_seconds,
        "tokens_per_second": result.tokens_per_second,
        "dtype": saved.get("dtype"),
        "packing_used": packed,
    }


def plain_trainer(model_dir: Path, data: Path, out: Path, *, packing: bool, steps: int) -> dict:
    """Train the baseline: AutoModelForCausalLM + peft LoRA + transformers.Trainer, no trl, no unsloth; return its
    tokens, seconds and tokens per second.
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    from tools.dataset.formats import load_examples
    from tools.train import data as train_data
    from tools.train.config import DEFAULT_TARGET_MODULES

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    template, _, eot, _ = train_data.choose_template(tokenizer, None)
    rows = train_data.tokenize(load_examples(data), tokenizer, template, eot, SEQ).rows
    if packing:  # the classic recipe: concatenate everything and cut fixed blocks (examples attend across joins)
        ids = [t for r in rows for t in r["input_ids"]]
        labels = [t for r in rows for t in r["labels"]]
        rows = [
            {"input_ids": ids[i : i + SEQ], "labels": labels[i : i + SEQ]} for i in range(0, len(ids) - SEQ + 1, SEQ)
        ]
    torch.manual_seed(42)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.use_cache = False
    model.enable_input_require_grads()
    model = get_peft_model(
        model,
        LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, target_modules=DEFAULT_TARGET_MODULES, task_type="CAUSAL_LM"),
    )
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=BATCH,
        max_steps=steps,
        learning_rate=2e-4,
        warmup_steps=1,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        gradient_checkpointing=True,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
        seed=42,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
    )
    trainer.remove_callback(PrinterCallback)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    tokens = int(trainer.state.num_input_tokens_seen)
    return {
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / seconds, 1),
        "dtype": "float32",
        "packing_used": packing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2, help="rounds; each runner's best round is reported")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import torch

    from benchmarks.datagen import write_chat_file
    from tests.fakes.tiny_model import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="tunewise-train-speed-"))
    atexit.register(shutil.rmtree, work, True)
    model = build_tiny_model(work / "model", **SHAPE)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model)
    params = sum(p.numel() for p in __import__("transformers").AutoModelForCausalLM.from_config(config).parameters())
    data = write_chat_file(work / "train.jsonl", args.examples)
    print(
        f"model: {params / 1e6:.1f}M parameters ({SHAPE}), {args.examples} examples, batch {BATCH}, "
        f"max_seq_len {SEQ}, {args.steps} steps, {torch.get_num_threads()} CPU threads",
        flush=True,
    )
    rows = []
    for rnd in range(args.repeat):  # round-robin, so a noisy neighbour hurts every runner alike; the best round counts
        for packing in (False, True):
            for name in ("unsloth", "hf", "plain Trainer"):
                out = work / f"{name.split()[0]}-{'packed' if packing else 'padded'}-{rnd}"
                if name == "plain Trainer":
                    row = plain_trainer(model, data, out, packing=packing, steps=args.steps)
                else:
                    row = ours(name, model, data, out, packing=packing, steps=args.steps)
                row.update(runner=name, packing=packing, round=rnd)
                rows.append(row)
                print(
                    f"round {rnd}: {name:14} packing={'on ' if packing else 'off'} {row['tokens_per_second']:>8.1f} "
                    f"tokens/s ({row['tokens']} tokens in {row['seconds']} s, {row['dtype']}, packing used: "
                    f"{row['packing_used']})",
                    flush=True,
                )
    best: dict = {}
    for r in rows:
        key = (r["runner"], r["packing"])
        best[key] = max(best.get(key, 0.0), r["tokens_per_second"])
    for packing in (False, True):
        tag = "packing on " if packing else "packing off"
        print(
            f"best of {args.repeat}, {tag}: "
            + ", ".join(f"{n} {best[(n, packing)]:.0f}" for n in ("unsloth", "hf", "plain Trainer"))
            + " tokens/s; "
            f"unsloth/hf {best[('unsloth', packing)] / best[('hf', packing)]:.2f}x, "
            f"hf/plain {best[('hf', packing)] / best[('plain Trainer', packing)]:.2f}x, "
            f"unsloth/plain {best[('unsloth', packing)] / best[('plain Trainer', packing)]:.2f}x"
        )
    if args.out:
        args.out.write_text(json.dumps({"params": params, "shape": SHAPE, "steps": args.steps, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
