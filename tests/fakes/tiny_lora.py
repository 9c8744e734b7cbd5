"""Train a LoRA adapter on a tiny model with peft directly, laid out like a `tunewise train` OUTPUT folder.

    train_tiny_lora(base, out, pairs=[(conversation, reply), ...], steps=60)

writes OUTPUT/adapter/ with the adapter weights, the tokenizer (and the chat template trained with) and a generation
config that stops at the end-of-turn token, so tests of eval and serve load it the way they load a real run.
The loss covers the reply and its end-of-turn token only; a couple of dozen steps make a tiny model emit a fixed
format. Like `build_tiny_model`, runs are cached per process: the same base weights and arguments train once.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

_cache: dict[str, Path] = {}


def train_tiny_lora(
    base: str | Path,
    out: str | Path,
    pairs: list[tuple[list[dict], str]],
    *,
    steps: int = 20,
    lr: float = 1e-2,
    rank: int = 8,
    chat_template: str | None = None,
    seed: int = 0,
) -> Path:
    """Fit a LoRA so the model answers each conversation with its reply; return OUTPUT (the adapter is in adapter/)."""
    digest = hashlib.sha256((Path(base) / "model.safetensors").read_bytes())
    digest.update(json.dumps([pairs, steps, lr, rank, chat_template, seed]).encode())
    key = digest.hexdigest()
    if key not in _cache:
        folder = Path(tempfile.mkdtemp(prefix="tunewise-tiny-lora-"))
        atexit.register(shutil.rmtree, folder, True)
        _train(base, folder, pairs, steps=steps, lr=lr, rank=rank, chat_template=chat_template, seed=seed)
        _cache[key] = folder
    shutil.copytree(_cache[key], out, dirs_exist_ok=True)
    config = Path(out) / "adapter" / "adapter_config.json"  # name this caller's base, as a fresh run would
    config.write_text(json.dumps({**json.loads(config.read_text()), "base_model_name_or_path": str(base)}))
    return Path(out)


def _train(base, out: Path, pairs, *, steps: int, lr: float, rank: int, chat_template: str | None, seed: int) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    model = get_peft_model(
        model,
        LoraConfig(
            r=rank,
            lora_alpha=2 * rank,
            lora_dropout=0.0,
            task_type="CAUSAL_LM",
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        ),
    )
    rows = []
    for conversation, reply in pairs:
        prompt = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(conversation + [{"role": "assistant", "content": reply}], tokenize=False)
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = tokenizer(full.rstrip("\n"), add_special_tokens=False)["input_ids"]
        rows.append((ids, [-100] * len(p_ids) + ids[len(p_ids) :]))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows])
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optim.step()
        optim.zero_grad()
    folder = Path(out) / "adapter"
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    stops = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    GenerationConfig(eos_token_id=[s for s in stops if s is not None], pad_token_id=pad).save_pretrained(str(folder))
