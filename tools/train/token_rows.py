"""Embedding rows a trainer changed outside LoRA, saved into the adapter so every loader sees them.

On a GPU, unsloth's SFTTrainer sets the untrained special-token rows of `embed_tokens` and `lm_head` (a Llama-3
base's `<|eot_id|>`, for example) to the mean of the trained rows, in place (unsloth_zoo/tokenizer_utils.py,
`fix_untrained_tokens`). A LoRA adapter holds only the adapted projections, so eval, serve and merge would load the
untrained rows again and the model might never stop at the end of a turn. We fingerprint every row before the
trainer is built and, when saving, write the rows that changed as peft's trainable-token adapter
(`trainable_token_indices` in adapter_config.json plus `...token_adapter.trainable_tokens_delta`, which holds the
rows' new values): `PeftModel.from_pretrained` then applies them and `merge_and_unload` folds them in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Snapshot = dict[str, Any]  # module name -> (module path in the peft model, per-row fingerprint)


def _matrices(model: Any) -> dict[str, tuple[str, Any]]:
    """Return {"embed_tokens"/"lm_head": (module path, weight)}; a tied lm_head is the embedding itself, counted once."""
    found: dict[str, tuple[str, Any]] = {}
    wanted = [
        ("in", getattr(model, "get_input_embeddings", lambda: None)()),
        ("out", getattr(model, "get_output_embeddings", lambda: None)()),
    ]
    seen: set[int] = set()
    for _, module in wanted:
        weight = getattr(module, "weight", None)
        if weight is None or id(weight) in seen or type(weight.data).__name__ == "DTensor":
            continue  # FSDP shards: rows cannot be compared locally (and no trainer edits them there)
        seen.add(id(weight))
        path = next((n for n, m in model.named_modules() if m is module), None)
        if path is not None:
            found[path.rsplit(".", 1)[-1]] = (path, weight)
    return found


def _fingerprint(weight: Any) -> Any:
    import torch

    parts = []
    with torch.no_grad():  # in slices: an fp32 copy of a 128k x 4096 embedding at once would be 2 GB of GPU memory
        for start in range(0, weight.shape[0], 8192):
            w = weight.detach()[start : start + 8192].float()
            parts.append(torch.stack([w.sum(dim=1), w.abs().sum(dim=1)]))  # 2 floats a row; any edit moves one
    return torch.cat(parts, dim=1)


def snapshot(model: Any) -> Snapshot:
    """Fingerprint each embedding row (and lm_head's, when untied): two floats a row, taken before the trainer runs."""
    return {name: (path, _fingerprint(weight)) for name, (path, weight) in _matrices(model).items()}


def changed(model: Any, before: Snapshot) -> dict[str, list[int]]:
    """Return {module: ids of the rows whose fingerprint differs from `before`}; modules without a change are left out."""
    import torch

    out: dict[str, list[int]] = {}
    for name, (path, weight) in _matrices(model).items():
        if name not in before:
            continue
        now = _fingerprint(weight)
        rows = (now != before[name][1].to(now.device)).any(dim=0).nonzero().flatten()
        if rows.numel():
            out[name] = sorted(int(i) for i in rows.to(torch.device("cpu")))
    return out


def save(model: Any, before: Snapshot, folder: Path) -> dict[str, list[int]]:
    """Add the changed rows to the adapter saved in `folder`; return {module: row ids} (empty: nothing changed)."""
    import torch
    from safetensors.torch import load_file, save_file

    rows = changed(model, before)
    config_path, weights_path = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    if not rows or not config_path.is_file() or not weights_path.is_file():
        return {}
    config = json.loads(config_path.read_text("utf-8"))
    if config.get("trainable_token_indices"):
        return {}  # the adapter already trains token rows and saved them itself
    tensors = load_file(str(weights_path))
    matrices = _matrices(model)
    for name, ids in rows.items():
        path, weight = matrices[name]
        key = path if path.startswith("base_model.model.") else f"base_model.model.{path}"
        index = torch.tensor(ids, device=weight.device)
        tensors[f"{key}.token_adapter.trainable_tokens_delta"] = weight.detach()[index].to("cpu").contiguous()
    save_file(tensors, str(weights_path), metadata={"format": "pt"})
    config["trainable_token_indices"] = rows
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return rows
