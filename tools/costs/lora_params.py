"""Exact parameter counts of a decoder-only model and of its LoRA adapters, from the architecture alone.

A model is named from the built-in catalog (tools/data/base_models.json), a local folder holding config.json,
or a Hugging Face repo id already in the local HF cache; nothing is downloaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from tools.errors import TunewiseError, UsageError


@dataclass(frozen=True)
class Family:
    """What differs between the supported transformers model types, as their modeling files build them."""

    fused: bool = False  # phi3: one qkv_proj and one gate_up_proj instead of q/k/v and gate/up
    qkv_bias: bool = False  # qwen2 hard-codes a bias on q, k and v (not o)
    norms_per_layer: int = 2  # gemma2/gemma3 add pre/post feed-forward norms
    qk_norm: bool = False  # qwen3/gemma3 normalise q and k per head (head_dim weights each)
    tied_default: bool = False  # tie_word_embeddings when config.json leaves it out


FAMILIES: dict[str, Family] = {
    "llama": Family(),
    "mistral": Family(),
    "qwen2": Family(qkv_bias=True),
    "qwen3": Family(qk_norm=True),
    "phi3": Family(fused=True),
    "gemma": Family(tied_default=True),
    "gemma2": Family(norms_per_layer=4, tied_default=True),
    "gemma3_text": Family(norms_per_layer=4, qk_norm=True, tied_default=True),
}


class Architecture(BaseModel):
    """The shape of a model: everything its parameter count, FLOPs and memory depend on."""

    model_config = ConfigDict(frozen=True)
    name: str
    model_type: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    attention_bias: bool = False  # llama-style: bias on q, k, v and o
    mlp_bias: bool = False

    @property
    def family(self) -> Family:
        """How this model type's modeling file builds its layers."""
        return FAMILIES[self.model_type]

    @property
    def q_dim(self) -> int:
        """Width of the query projection's output: heads x head_dim."""
        return self.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the key (and of the value) projection's output: key-value heads x head_dim."""
        return self.num_key_value_heads * self.head_dim

    def linear_modules(self) -> dict[str, tuple[int, int, bool]]:
        """Return the per-layer linear modules as peft names them: name -> (in_features, out_features, has_bias)."""
        h, i, ab, mb = self.hidden_size, self.intermediate_size, self.attention_bias, self.mlp_bias
        if self.family.fused:
            return {
                "qkv_proj": (h, self.q_dim + 2 * self.kv_dim, False),
                "o_proj": (self.q_dim, h, False),
                "gate_up_proj": (h, 2 * i, False),
                "down_proj": (i, h, False),
            }
        qkv_bias = ab or self.family.qkv_bias
        return {
            "q_proj": (h, self.q_dim, qkv_bias),
            "k_proj": (h, self.kv_dim, qkv_bias),
            "v_proj": (h, self.kv_dim, qkv_bias),
            "o_proj": (self.q_dim, h, ab),
            "gate_proj": (h, i, mb),
            "up_proj": (h, i, mb),
            "down_proj": (i, h, mb),
        }

    def layer_linear_params(self) -> int:
        """Return the parameters of one layer's linear modules, biases included."""
        return sum(a * b + (b if bias else 0) for a, b, bias in self.linear_modules().values())

    def layer_params(self) -> int:
        """Return one decoder layer's parameters: its linear modules plus its norms (and per-head q/k norms)."""
        norms = self.family.norms_per_layer * self.hidden_size + (2 * self.head_dim if self.family.qk_norm else 0)
        return self.layer_linear_params() + norms

    @property
    def embedding_params(self) -> int:
        """Parameters of the token embedding (and of an untied lm_head, the same shape): vocab x hidden."""
        return self.vocab_size * self.hidden_size

    @property
    def total_params(self) -> int:
        """What `sum(p.numel() for p in model.parameters())` gives: a tied lm_head is counted once."""
        head = 0 if self.tie_word_embeddings else self.embedding_params
        return self.embedding_params + head + self.num_hidden_layers * self.layer_params() + self.hidden_size

    @property
    def matmul_params(self) -> int:
        """Weights that take part in a matrix multiply per token: every linear layer plus the lm_head (tied or not)."""
        return self.num_hidden_layers * self.layer_linear_params() + self.embedding_params


def resolve_targets(arch: Architecture, targets: list[str] | None) -> list[str]:
    """Check LoRA target module names against the architecture; None or 'all-linear' means every projection."""
    available = list(arch.linear_modules())
    if not targets or targets == ["all-linear"]:
        return available
    unknown = [t for t in targets if t not in available and t != "lm_head"]
    if unknown:
        raise UsageError(
            f"{arch.name} has no module named {', '.join(unknown)}",
            hint=f"target some of {','.join(available)} (or lm_head, or all-linear)",
        )
    return list(dict.fromkeys(targets))


def lora_trainable_params(arch: Architecture, r: int, targets: list[str] | None = None) -> int:
    """Count LoRA's trainable weights: A (r x in) and B (out x r) per targeted linear layer, r * (in + out), no bias."""
    if r < 1:
        raise UsageError(f"LoRA rank must be at least 1, got {r}", hint="use e.g. --lora-r 16")
    modules = arch.linear_modules()
    total = 0
    for name in resolve_targets(arch, targets):
        if name == "lm_head":
            total += r * (arch.hidden_size + arch.vocab_size)
        else:
            fan_in, fan_out, _ = modules[name]
            total += arch.num_hidden_layers * r * (fan_in + fan_out)
    return total


def from_config(config: dict, name: str, source: str | None = None) -> Architecture:
    """Read the fields that matter from a transformers config.json dict."""
    model_type = config.get("model_type")
    if model_type not in FAMILIES:
        raise TunewiseError(
            f"unsupported architecture '{model_type}' for {name}",
            path=source,
            hint=f"tunewise counts parameters exactly for {', '.join(FAMILIES)}; pick a catalog model of the same size",
        )
    try:
        heads = int(config["num_attention_heads"])
        hidden = int(config["hidden_size"])
        return Architecture(
            name=name,
            model_type=model_type,
            hidden_size=hidden,
            intermediate_size=int(config["intermediate_size"]),
            num_hidden_layers=int(config["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or hidden // heads),
            vocab_size=int(config["vocab_size"]),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", FAMILIES[model_type].tied_default)),
            attention_bias=bool(config.get("attention_bias", False)),
            mlp_bias=bool(config.get("mlp_bias", False)),
        )
    except KeyError as exc:
        raise TunewiseError(
            f"config.json lacks {exc.args[0]}", path=source, hint="point --base-model at the model's own config.json"
        ) from None
    except (TypeError, ValueError) as exc:
        raise TunewiseError(f"config.json has a non-numeric size ({exc})", path=source, hint="fix the config") from None


@lru_cache(maxsize=1)
def base_model_catalog() -> dict:
    """Return the built-in catalog of open models (tools/data/base_models.json), read once."""
    return json.loads(resources.files("tools.data").joinpath("base_models.json").read_text("utf-8"))


def _normalise(name: str) -> str:
    key = name.strip().lower().rsplit("/", 1)[-1].removeprefix("meta-")
    changed = True
    while changed:
        changed = False
        for suffix in ("-bnb-4bit", "-unsloth", "-instruct", "-it", "-chat", "-hf", "-4k", "-128k"):
            if key.endswith(suffix):
                key, changed = key[: -len(suffix)], True
    return key


def _read_config(path: Path, name: str) -> Architecture:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise TunewiseError(f"cannot read config.json ({exc.strerror})", path=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TunewiseError(
            f"config.json is not valid JSON ({exc.msg})",
            path=str(path),
            line=exc.lineno,
            hint="fix the JSON or point at another model",
        ) from None
    if "text_config" in data and "hidden_size" not in data:
        data = {**data["text_config"], "model_type": data["text_config"].get("model_type")}
    return from_config(data, name, source=str(path))


def _from_hf_cache(repo_id: str, hf_cache: Path | None) -> Path | None:
    if hf_cache is None or repo_id.count("/") != 1:
        return None
    snapshots = Path(hf_cache) / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    found = sorted(snapshots.glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    return found[0] if found else None


def default_hf_cache() -> Path | None:
    """Return the hub cache huggingface_hub itself uses (it honours HF_HUB_CACHE and HF_HOME), or None without it."""
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return None
    return Path(HF_HUB_CACHE)


def resolve_base_model(name: str, hf_cache: Path | None = None) -> Architecture:
    """Find a model's architecture: a local folder or config.json, the HF cache, then the built-in catalog."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TunewiseError("folder has no config.json", path=str(path), hint="point at the model's folder")
        return _read_config(path / "config.json", path.name)
    if path.is_file() and path.name.endswith(".json"):
        return _read_config(path, path.parent.name or path.stem)
    cached = _from_hf_cache(name, hf_cache)
    if cached is not None:
        return _read_config(cached, name)
    models = base_model_catalog()["models"]
    wanted = _normalise(name)
    for key, entry in models.items():
        if wanted in {_normalise(key), _normalise(entry["hf_id"]), *entry["aliases"]}:
            return from_config(entry["config"], key)
    raise UsageError(
        f"unknown base model '{name}'",
        hint=f"use one of {', '.join(models)}, a folder with config.json, or a repo id already in the HF cache",
    )
