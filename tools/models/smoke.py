"""A small Llama-style causal LM built from a config on this machine: a smoke-test model, not a language model.

`build(path, texts)` writes a folder that `AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`
(and unsloth's FastLanguageModel) load like any Hub checkpoint: seeded random weights, a byte-level BPE tokenizer
trained on `texts`, and a ChatML-style chat template whose assistant turns end with `<|im_end|>`, which is
deliberately not the tokenizer's eos token (`<|endoftext|>`), as with Llama 3 and Qwen. Weights are drawn with std
0.2 rather than transformers' 0.02: with a frozen random lm_head at 0.02 the logits stay near-uniform whatever LoRA
does, and no run could show a model learn. The folder says what it is in README.md and in config.json
(`tunewise_smoke_test: true`), so its numbers are never mistaken for a real model's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

EOS = "<|endoftext|>"
EOT = "<|im_end|>"
START = "<|im_start|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = [PAD, EOS, START, EOT]
MARKER = "tunewise_smoke_test"  # the config.json key that labels the folder

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

CARD = """# SMOKE-TEST MODEL: random weights, not a language model

Built by tunewise from a config on this machine ({params:,} parameters: {layers} layers, hidden size {hidden},
vocabulary {vocab}), with a BPE tokenizer trained on the run's own text. It exists so the whole pipeline (train,
eval, deploy, serve) can run without a GPU and without the network. Whatever it says, and every score it gets,
tests the plumbing, not quality. Pass a real model (e.g. HuggingFaceTB/SmolLM2-135M-Instruct) for real results.
"""


def build_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> Any:
    """Train a byte-level BPE tokenizer on `texts`, in memory; return it as transformers' fast tokenizer with the chat
    template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, pad_token=PAD, additional_special_tokens=[START, EOT]
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build(
    path: str | Path,
    texts: Iterable[str],
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate_size: int = 128,
    vocab_size: int = 512,
    max_positions: int = 512,
    chat_template: bool = True,
    tie_embeddings: bool = False,
    init_std: float = 0.2,
    seed: int = 0,
) -> Path:
    """Write a small random Llama model, its tokenizer (trained on `texts`) and a README saying what it is."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(texts, vocab_size)
    if not chat_template:
        tokenizer.chat_template = None
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=tie_embeddings,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        initializer_range=init_std,
    )
    setattr(config, MARKER, True)  # saved into config.json beside the architecture
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Like a real instruct checkpoint: generation stops at the end-of-turn token as well as at eos.
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(EOT)]
        if chat_template
        else tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    target = Path(path)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    params = sum(p.numel() for p in model.parameters())
    (target / "README.md").write_text(
        CARD.format(params=params, layers=layers, hidden=hidden_size, vocab=len(tokenizer)), encoding="utf-8"
    )
    return target


def is_smoke_model(path: str | Path) -> bool:
    """Whether a model folder is one of these (its config.json carries the marker)."""
    import json

    try:
        return bool(json.loads((Path(path) / "config.json").read_text("utf-8")).get(MARKER))
    except (OSError, ValueError):
        return False
