"""A tiny Llama-style causal LM built from a config on the CPU, for tests that need a real model.

`build_tiny_model(path)` writes a folder that `AutoModelForCausalLM.from_pretrained` / `AutoTokenizer.from_pretrained`
load like any Hub checkpoint. The builder itself is `tools.models.smoke` (the demo's smoke-test model); this module
adds the tests' word corpus for the tokenizer and a per-process cache: the same arguments build once, later calls
copy the cached folder.
"""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
from pathlib import Path

from tools.models.smoke import CHAT_TEMPLATE, EOS, EOT, PAD, SPECIAL_TOKENS, START, build  # noqa: F401 (re-exported)

_WORDS = (
    "the a capital of city river is was and in on what which who where how many answer question name "
    "paris france rome italy berlin germany madrid spain lisbon portugal vienna austria oslo norway "
    "red green blue one two three four five six seven eight nine ten yes no please thanks hello "
    "model data train loss token small large fast slow user assistant system json list number"
).split()

_cache: dict[tuple, Path] = {}
_cache_root: Path | None = None


def corpus(lines: int = 400, *, seed: int = 0) -> list[str]:
    """Deterministic English-like lines plus chat-formatted ones, so BPE learns the template's pieces too."""
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 14)))
        if i % 3 == 0:
            out.append(f"{START}user\n{words}?{EOT}\n{START}assistant\n{words.capitalize()}.{EOT}\n")
        else:
            out.append(words.capitalize() + ". " + str(rng.randint(0, 999)))
    return out


def build_tokenizer(vocab_size: int = 512, *, seed: int = 0):
    """A byte-level BPE tokenizer with the chat template, trained in memory on the tests' corpus."""
    from tools.models.smoke import build_tokenizer as train_tokenizer

    return train_tokenizer(corpus(max(400, vocab_size), seed=seed), vocab_size)


def build_tiny_model(
    path: str | Path,
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
    """Write a tiny random Llama model with its tokenizer (and chat template) to `path`; return `path`."""
    global _cache_root
    target = Path(path)
    key = (
        hidden_size,
        layers,
        heads,
        kv_heads,
        intermediate_size,
        vocab_size,
        max_positions,
        chat_template,
        tie_embeddings,
        init_std,
        seed,
    )
    cached = _cache.get(key)
    if cached is None:
        if _cache_root is None:
            _cache_root = Path(tempfile.mkdtemp(prefix="tunewise-tiny-models-"))
            atexit.register(shutil.rmtree, _cache_root, True)
        cached = _cache_root / f"m{len(_cache)}"
        build(
            cached,
            corpus(max(400, vocab_size), seed=seed),
            hidden_size=hidden_size,
            layers=layers,
            heads=heads,
            kv_heads=kv_heads,
            intermediate_size=intermediate_size,
            vocab_size=vocab_size,
            max_positions=max_positions,
            chat_template=chat_template,
            tie_embeddings=tie_embeddings,
            init_std=init_std,
            seed=seed,
        )
        _cache[key] = cached
    shutil.copytree(cached, target, dirs_exist_ok=True)
    return target
