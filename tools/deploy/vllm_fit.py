"""What vLLM will load, checked when `tunewise deploy` writes vllm.sh rather than when vLLM fails at serve time.

Read from vLLM 0.32's source (vllm/config/lora.py, vllm/lora/peft_helper.py, vllm/lora/utils.py, 2026-12-06):
- `--max-lora-rank` takes only 1, 8, 16, 32, 64, 128, 256, 320 or 512; an adapter above 512 cannot be served as one.
- `modules_to_save` is refused unless it is a classifier's `classifier` / `score`: an adapter that saved whole
  `lm_head` or `embed_tokens` weights fails with "vLLM only supports modules_to_save being either None or
  ["classifier", "score"]".
- every weight must be a LoRA matrix (`lora_A` / `lora_B`, `lora_embedding_A` / `_B`) or a base embedding copy
  (`*.base_layer.weight`); anything else is "unsupported LoRA weight". That includes the embedding rows tunewise
  saves itself when training changed them (`trainable_token_indices`, `*.token_adapter.trainable_tokens_delta`).
- a 4-bit base is a training-time choice: vLLM serves the 16-bit base the adapter was trained against (unsloth's
  `-bnb-4bit` repos are quantisations of the repo without the suffix), or a merged 16-bit model.

Each case that vLLM would refuse is fixed by merging the adapter into a 16-bit copy of the base, and `deploy` says
which case applied and what it did.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's MaxLoRARanks: --max-lora-rank takes only these
ALLOWED_SAVED = frozenset({"classifier", "score"})
_LORA_WEIGHT = re.compile(
    r"\.(lora_A|lora_B)\.(default\.)?weight$|\.lora_embedding_[AB](\.default)?$|\.base_layer\.weight$"
)
_FOUR_BIT = re.compile(r"(-unsloth)?-bnb-4bit$|-4bit$", re.I)


class VllmFit(BaseModel):
    """How the deployment meets vLLM: the rank to allow, whether to merge (and why), and the base vLLM serves."""

    model_config = ConfigDict(frozen=True)
    rank: int | None
    max_lora_rank: int | None = Field(description="The --max-lora-rank that admits the adapter; None: no adapter.")
    merge: str | None = Field(description="Why the adapter must be merged for vLLM; None when vLLM loads it as is.")
    base: str = Field(description="The base model vLLM serves: the 16-bit one where training used a 4-bit copy.")
    notes: list[str] = Field(default_factory=list, description="What applied and what was done, one line each.")


def max_lora_rank(rank: int | None) -> int:
    """Return the smallest rank vLLM accepts for --max-lora-rank that admits `rank` (512 at most)."""
    return next((r for r in VLLM_LORA_RANKS if r >= (rank or 1)), VLLM_LORA_RANKS[-1])


def safetensors_keys(path: Path) -> list[str]:
    """Return the tensor names of a .safetensors file from its JSON header, without loading a tensor."""
    with path.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
    return [k for k in header if k != "__metadata__"]


def sixteen_bit(base: str, base_dir: Path | None) -> tuple[str, str | None]:
    """Return the base vLLM should serve and a note when it differs: a 4-bit repo's 16-bit original by name, or a
    local 4-bit folder that must be replaced by hand.
    """
    config = base_dir / "config.json" if base_dir is not None else None
    quantized = False
    if config is not None and config.is_file():
        q = json.loads(config.read_text("utf-8")).get("quantization_config") or {}
        quantized = bool(q.get("load_in_4bit")) or q.get("quant_method") == "bitsandbytes"
    if _FOUR_BIT.search(base) and not Path(base).expanduser().is_dir():
        original = _FOUR_BIT.sub("", base)
        return original, f"the base {base} is a 4-bit quantisation: vLLM serves the adapter on its 16-bit {original}"
    if quantized:
        return base, f"the base {base} is quantised to 4 bits: vLLM needs its 16-bit original, or deploy with --merge"
    return base, None


def fit(adapter: Path | None, base: str, base_dir: Path | None) -> VllmFit:
    """Check an adapter (and its base) against what vLLM loads; say what must change."""
    served, base_note = sixteen_bit(base, base_dir)
    notes = [base_note] if base_note else []
    if adapter is None:
        return VllmFit(rank=None, max_lora_rank=None, merge=None, base=served, notes=notes)
    config = json.loads((adapter / "adapter_config.json").read_text("utf-8"))
    rank = int(config.get("r") or 0) or None
    reasons: list[str] = []
    if rank and rank > VLLM_LORA_RANKS[-1]:
        reasons.append(f"LoRA rank {rank} is above vLLM's largest --max-lora-rank ({VLLM_LORA_RANKS[-1]})")
    saved = [m for m in config.get("modules_to_save") or [] if m not in ALLOWED_SAVED]
    if saved:
        reasons.append(f"the adapter saves whole modules ({', '.join(saved)}), which vLLM refuses (modules_to_save)")
    weights = adapter / "adapter_model.safetensors"
    odd = [k for k in safetensors_keys(weights) if not _LORA_WEIGHT.search(k)] if weights.is_file() else []
    if config.get("trainable_token_indices") or any("trainable_tokens" in k for k in odd):
        reasons.append("training changed embedding rows, saved beside the LoRA weights, which vLLM cannot load")
    elif odd:
        reasons.append(f"the adapter holds weights vLLM cannot load as LoRA ({odd[0]})")
    merge = "; ".join(reasons) or None
    if merge:
        notes.append(f"{merge}: merged into a 16-bit copy of the base for vLLM (merged/)")
    else:
        notes.append(f"LoRA rank {rank}: vLLM serves the adapter by name with --max-lora-rank {max_lora_rank(rank)}")
    return VllmFit(rank=rank, max_lora_rank=max_lora_rank(rank), merge=merge, base=served, notes=notes)
