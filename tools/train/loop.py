"""The training run both backends share: data, trl's SFTTrainer with our callbacks, resume, saving and export.

A backend supplies only how the model is loaded and wrapped with LoRA (`Loaded`); everything else — the data
path, checkpoints, metrics, the guard, the adapter folder and the exports — is here, so both backends write the
same layout. Imported only inside the training process (after unsloth, when that backend runs).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tools.progress import Progress, Update
from tools.train import checkpoints, data, device, export, token_rows
from tools.train.config import KEEP_CHECKPOINTS, TrainInput
from tools.train.device import DeviceFacts
from tools.train.metrics import Guard, metrics_callback, read_metrics


@dataclass
class Loaded:
    """A backend's model, wrapped with LoRA and ready to train, plus what the loop needs to know about it."""

    model: Any
    tokenizer: Any
    quantized: bool
    dtype: str
    trainer_args: dict[str, Any] = field(default_factory=dict)  # backend-specific SFTConfig overrides
    warnings: list[str] = field(default_factory=list)
    gguf: Callable[[Path, str], list[str]] | None = None  # exporter, when the backend has one
    plain_loss: bool = False  # compute the loss with the model's own cross-entropy (see _trainer_class)


def _trainer_class(plain_loss: bool) -> Any:
    from trl import SFTTrainer

    if not plain_loss:
        return SFTTrainer
    from transformers import Trainer

    class PlainLossSFTTrainer(SFTTrainer):
        """trl 1.15 computes the SFT loss through a fused LM head whose kernel is Triton, which has no CPU driver
        ("0 active drivers"); the model's own cross-entropy over the same labels is the same NLL.
        """

        def compute_loss(
            self, model: Any, inputs: Any, return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            return Trainer.compute_loss(
                self, model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )

    return PlainLossSFTTrainer


def device_name() -> str:
    """Return where this process trains: "cuda:<name of GPU 0>", or "cpu"."""
    import torch

    return f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"


def _dataset(prepared: data.Prepared) -> Any:
    from datasets import Dataset

    return Dataset.from_list(prepared.rows)


def _prepare(
    inp: TrainInput, tokenizer: Any
) -> tuple[data.Prepared, data.Prepared | None, str, data.EndOfTurn, str, list[str]]:
    """Return (train rows, eval rows or None, template, end-of-turn marker, template source, warnings)."""
    from tools.dataset.formats import load_examples

    template, source, eot, warnings = data.choose_template(tokenizer, inp.chat_template)
    train = data.tokenize(load_examples(inp.data), tokenizer, template, eot, inp.max_seq_len, path=str(inp.data))
    if not train.rows:
        from tools.errors import TunewiseError

        raise TunewiseError(
            "no example has an assistant turn left to train on",
            path=str(inp.data),
            hint="check the weights and --max-seq-len",
        )
    evals = None
    if inp.eval_file:
        evals = data.tokenize(
            load_examples(inp.eval_file), tokenizer, template, eot, inp.max_seq_len, path=str(inp.eval_file)
        )
    warnings += train.warnings + (evals.warnings if evals else [])
    return train, evals, template, eot, source, warnings


def sft_config(
    inp: TrainInput, out: Path, *, facts: DeviceFacts, has_eval: bool, total_hint: int, overrides: dict[str, Any]
) -> Any:
    """Build trl's SFTConfig for the run: checkpoints in OUTPUT/checkpoints, the device's precision and optimizer,
    then the backend's `overrides`. Under early stopping it evaluates at every save, so the best checkpoint is on disk.
    """
    from trl import SFTConfig

    save_steps = inp.resolved_save_steps
    eval_steps = inp.eval_steps or max(1, total_hint // 10)
    if inp.early_stopping and has_eval:
        eval_steps = save_steps  # the best checkpoint must exist on disk to be restored at the end
    cuda, mixed = facts.cuda, device.precision(facts, inp.backend)
    args: dict[str, Any] = dict(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=inp.resolved_batch_size,
        per_device_eval_batch_size=inp.resolved_batch_size,
        gradient_accumulation_steps=inp.grad_accum,
        num_train_epochs=inp.resolved_epochs,
        max_steps=inp.max_steps or -1,
        learning_rate=inp.lr,
        warmup_steps=inp.warmup_steps,
        lr_scheduler_type="linear",
        seed=inp.seed,
        data_seed=inp.seed,
        logging_steps=1,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=None,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_steps if has_eval else None,
        optim=device.optimizer(facts),
        bf16=mixed.bf16,
        fp16=mixed.fp16,
        use_cpu=not cuda,
        max_length=inp.max_seq_len,
        packing=inp.packing,
        gradient_checkpointing=inp.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        include_num_input_tokens_seen="non_padding",
        report_to=inp.report_to,
        disable_tqdm=True,
        dataloader_pin_memory=cuda,
        ddp_find_unused_parameters=False,  # LoRA uses every trainable weight each step; True adds a graph walk
    )
    if inp.early_stopping and has_eval:
        args.update(load_best_model_at_end=True, metric_for_best_model="eval_loss", greater_is_better=False)
    args.update(overrides)
    config = SFTConfig(**args)
    if cuda and config.n_gpu > device.trainer_gpus(facts):
        config._n_gpu = device.trainer_gpus(facts)  # as Trainer does for a placed model; no nn.DataParallel
    return config


def _save_adapter(
    trainer: Any,
    tokenizer: Any,
    template: str,
    eot: data.EndOfTurn,
    out: Path,
    *,
    rows: token_rows.Snapshot,
    base_model: str,
) -> Path:
    """Write adapter/: LoRA weights (+ any embedding rows changed outside LoRA) + tokenizer + the chat template trained
    with + a generation config that stops at eot, recording `base_model` as the base eval, serve and merge load.
    """
    from transformers import GenerationConfig

    final, tmp = out / "adapter", out / ".adapter.tmp"
    main = trainer.is_world_process_zero()
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))  # every rank takes part: under FSDP this gathers the sharded adapter
    if not main:
        return final
    token_rows.save(trainer.model, rows, tmp)
    export.record_base(tmp, base_model)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(str(tmp))
    stops = [i for i in (eot.token_id, tokenizer.eos_token_id) if i is not None]
    base_config = getattr(trainer.model, "generation_config", None)
    gen = GenerationConfig(**(base_config.to_diff_dict() if base_config is not None else {}))
    gen.eos_token_id = list(dict.fromkeys(stops)) or None
    gen.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (stops or [None])[0]
    gen.save_pretrained(str(tmp))
    export.replace_dir(tmp, final)
    return final


def run_training(
    inp: TrainInput, load: Callable[[TrainInput, DeviceFacts], Loaded], progress: Progress, *, resume_from: str | None
) -> dict[str, Any]:
    """Train, save the adapter and the exports; return the numbers run.json records. `progress` hears what it does
    (kind status, note, start, log, warning): the optimizer steps as done/total with the loss, the rest in words.
    """
    import torch
    from transformers import AutoTokenizer, PrinterCallback

    out = Path(inp.output)
    facts = device.detect()
    cuda = facts.cuda
    where = device_name()
    progress(Update(kind="status", message=f"preparing data with {inp.base_model}'s tokenizer"))
    train, evals, template, eot, source, warnings = _prepare(inp, AutoTokenizer.from_pretrained(inp.base_model))
    progress(Update(kind="status", message=f"loading {inp.base_model} on {where}"))
    loaded = load(inp, facts)
    warnings += loaded.warnings
    for message in warnings:
        progress(Update(kind="note", message=message))
    steps_per_epoch = -(-len(train.rows) // (inp.resolved_batch_size * inp.grad_accum))
    total_hint = inp.max_steps or max(1, int(steps_per_epoch * inp.resolved_epochs))
    config = sft_config(
        inp,
        out,
        facts=facts,
        has_eval=evals is not None and bool(evals.rows),
        total_hint=total_hint,
        overrides=loaded.trainer_args,
    )
    metrics_path = out / "metrics.jsonl"
    guard = Guard(early_stopping=inp.early_stopping, history=read_metrics(metrics_path))
    rows = token_rows.snapshot(loaded.model)  # before the trainer: unsloth's trainer edits embedding rows in place
    trainer = _trainer_class(loaded.plain_loss)(
        model=loaded.model,
        args=config,
        train_dataset=_dataset(train),
        eval_dataset=_dataset(evals) if evals is not None and evals.rows else None,
        processing_class=loaded.tokenizer,
        callbacks=[checkpoints.marker_callback(KEEP_CHECKPOINTS), metrics_callback(metrics_path, progress, guard)],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes through `progress`, not print()
    resuming = f", resuming from {Path(resume_from).name}" if resume_from else ""
    progress(Update(kind="start", message=f"training on {where}{resuming}", total=total_hint, unit="steps"))
    started = time.perf_counter()
    tokens_before = 0
    if resume_from:
        tokens_before = _tokens_seen(Path(resume_from))
    trainer.train(resume_from_checkpoint=resume_from)
    wall = time.perf_counter() - started
    state = trainer.state
    tokens = int(state.num_input_tokens_seen)
    progress(Update(kind="status", message="saving the adapter"))
    adapter = _save_adapter(trainer, loaded.tokenizer, template, eot, out, rows=rows, base_model=inp.base_model)
    if not trainer.is_world_process_zero():
        return {"main_process": False}
    records = read_metrics(metrics_path)
    losses = [r["loss"] for r in records if r.get("loss") is not None]
    evals_seen = [r["eval_loss"] for r in records if r.get("eval_loss") is not None]
    result = {
        "device": where,
        "device_facts": facts.to_json(),
        "dtype": loaded.dtype,
        "quantized_4bit": loaded.quantized,
        "steps": state.global_step,
        "total_steps": state.max_steps,
        "tokens_trained": tokens,
        "tokens_per_second": round((tokens - tokens_before) / wall, 1) if wall > 0 else 0.0,
        "wall_seconds": round(wall, 2),
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "best_eval_loss": min(evals_seen) if evals_seen else None,
        "adapter_dir": str(adapter),
        "stopped_early": guard.stop,
        "warnings": warnings + guard.warnings,
        "peak_vram_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "end_of_turn": eot.text,
        "chat_template_source": source,
        "examples": {
            "train": len(train.rows),
            "eval": len(evals.rows) if evals else 0,
            "train_tokens_per_epoch": train.tokens,
            "trained_tokens_per_epoch": train.trained_tokens,
        },
    }
    if inp.gguf and loaded.gguf is not None:
        progress(Update(kind="status", message=f"exporting GGUF ({inp.gguf})"))
        try:
            result["gguf_files"] = loaded.gguf(out / "gguf", inp.gguf)
        except Exception as exc:  # llama.cpp is built on the fly and can fail for reasons outside our control
            result["warnings"].append(
                f"GGUF export failed ({type(exc).__name__}: {str(exc)[:300]}); convert "
                "the --merge output with llama.cpp's convert_hf_to_gguf.py instead"
            )
    tokenizer = loaded.tokenizer
    del trainer, loaded
    if inp.merge:
        progress(Update(kind="status", message="merging the adapter into a 16-bit model"))
        export.free_training_memory()  # unsloth's trainer references itself: only a collection frees its GPU memory
        result["merged_dir"] = str(export.merge(inp.base_model, adapter, out / "merged", facts=facts))
    if inp.merge or result.get("gguf_files"):
        source_path = result.get("gguf_files") or [result["merged_dir"]]
        relative = "./" + Path(source_path[0]).relative_to(out).as_posix()

        def render(messages: list[dict[str, Any]], add_generation_prompt: bool) -> Any:
            return tokenizer.apply_chat_template(
                messages, chat_template=template, tokenize=False, add_generation_prompt=add_generation_prompt
            )

        result["warnings"] += export.write_modelfile(
            out / "Modelfile", source=relative, render=render, stops=[eot.text, tokenizer.eos_token]
        )
        result["modelfile"] = str(out / "Modelfile")
    return result


def _tokens_seen(checkpoint: Path) -> int:
    import json

    try:
        return int(json.loads((checkpoint / "trainer_state.json").read_text("utf-8")).get("num_input_tokens_seen", 0))
    except (OSError, ValueError):
        return 0
