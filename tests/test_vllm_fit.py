"""tools/deploy/vllm_fit.py and `tunewise deploy`: an adapter vLLM would refuse at serve time is found when vllm.sh
is written, and merged; one it loads gets the --max-lora-rank that admits it (issue 25)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools.deploy.vllm_fit import fit, max_lora_rank, safetensors_keys, sixteen_bit


def _adapter(folder: Path, config: dict, keys: list[str]) -> Path:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps(config))
    save_file({k: torch.zeros(2, 2) for k in keys}, str(folder / "adapter_model.safetensors"))
    return folder


LORA = ["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]


def test_ranks_vllm_accepts():
    assert [max_lora_rank(r) for r in (None, 1, 4, 8, 9, 64, 300, 512, 4096)] == [1, 1, 8, 8, 16, 64, 320, 512, 512]


def test_what_vllm_loads_and_what_it_refuses(tmp_path):
    ok = fit(_adapter(tmp_path / "a", {"r": 64}, LORA), "/models/base", None)
    assert ok.merge is None and ok.max_lora_rank == 64 and ok.base == "/models/base"
    assert ok.notes == ["LoRA rank 64: vLLM serves the adapter by name with --max-lora-rank 64"]
    big = fit(_adapter(tmp_path / "b", {"r": 1024}, LORA), "/models/base", None)
    assert big.merge and "above vLLM's largest --max-lora-rank (512)" in big.merge
    saved = fit(_adapter(tmp_path / "c", {"r": 8, "modules_to_save": ["lm_head"]}, LORA), "/m", None)
    assert saved.merge and "modules_to_save" in saved.merge and "merged into a 16-bit copy" in saved.notes[-1]
    assert fit(_adapter(tmp_path / "d", {"r": 8, "modules_to_save": ["score"]}, LORA), "/m", None).merge is None
    rows = ["base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta", *LORA]
    changed = fit(
        _adapter(tmp_path / "e", {"r": 8, "trainable_token_indices": {"embed_tokens": [3]}}, rows), "/m", None
    )
    assert changed.merge and "embedding rows" in changed.merge
    base_copies = ["base_model.model.model.embed_tokens.base_layer.weight", *LORA]
    assert fit(_adapter(tmp_path / "f", {"r": 8}, base_copies), "/m", None).merge is None
    assert safetensors_keys(tmp_path / "e" / "adapter_model.safetensors") == sorted(rows)


def test_a_4bit_base_is_served_in_16_bit(tmp_path):
    assert sixteen_bit("unsloth/Qwen3-8B-unsloth-bnb-4bit", None)[0] == "unsloth/Qwen3-8B"
    assert sixteen_bit("unsloth/Meta-Llama-3.1-70B-bnb-4bit", None)[0] == "unsloth/Meta-Llama-3.1-70B"
    assert sixteen_bit("meta-llama/Llama-3.1-8B", None) == ("meta-llama/Llama-3.1-8B", None)
    local = tmp_path / "q4"
    local.mkdir()
    (local / "config.json").write_text(json.dumps({"quantization_config": {"load_in_4bit": True}}))
    kept, note = sixteen_bit(str(local), local)
    assert kept == str(local) and note and "16-bit original" in note


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.fakes.tiny_lora import train_tiny_lora
    from tests.fakes.tiny_model import build_tiny_model
    from tools.clients import get_chroma_client
    from tools.rag.embedders import get_embedder
    from tools.rag.index import IndexInput
    from tools.rag.index import run as index

    root = tmp_path_factory.mktemp("fit")
    base = build_tiny_model(root / "base", max_positions=4096)
    pairs = [([{"role": "user", "content": "hi"}], "hello")]
    wide = train_tiny_lora(base, root / "wide", pairs=pairs, steps=2, rank=64)
    docs = root / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\nSome text to retrieve.\n")
    index(IndexInput(paths=[docs], collection="fit", db=root / "db"), client=get_chroma_client(root / "db"),
          embedder=get_embedder("local"))  # fmt: skip
    return root, base, wide


def _deploy(root: Path, model: str, out: str):
    from tools.clients import get_chroma_client
    from tools.deploy.deploy import DeployInput, run

    inp = DeployInput(model=model, collection="fit", db=root / "db", out=root / out, tensor_parallel=2)
    return run(inp, client=get_chroma_client(root / "db"))


def test_a_rank_64_adapter_deploys_to_a_vllm_command_vllm_accepts(trained):
    root, base, wide = trained
    result = _deploy(root, f"hf:{base}+adapter:{wide}", "wide-bot")
    assert "--max-lora-rank 64" in result.vllm_command and "--lora-modules wide-bot=" in result.vllm_command
    assert "--tensor-parallel-size 2" in result.vllm_command
    assert result.vllm_notes == ["LoRA rank 64: vLLM serves the adapter by name with --max-lora-rank 64"]
    record = json.loads((root / "wide-bot" / "deployment.json").read_text())
    assert record["model"]["adapter"] == "adapter" and record["model"]["tensor_parallel"] == 2


def test_an_adapter_with_saved_embedding_rows_is_merged_for_vllm(trained):
    import torch
    from safetensors.torch import load_file, save_file

    root, base, wide = trained
    rows = root / "rows"
    shutil.copytree(wide, rows)
    adapter = rows / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["trainable_token_indices"] = {"embed_tokens": [5]}  # what tools/train/token_rows.save writes
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    tensors["base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta"] = torch.zeros(1, 64)
    save_file(tensors, str(adapter / "adapter_model.safetensors"))

    result = _deploy(root, f"hf:{base}+adapter:{rows}", "rows-bot")
    assert any("embedding rows" in n and "merged into a 16-bit copy" in n for n in result.vllm_notes)
    assert result.vllm_command.startswith(f"vllm serve {root / 'rows-bot' / 'merged'} --served-model-name rows-bot")
    record = json.loads((root / "rows-bot" / "deployment.json").read_text())
    assert record["model"]["merged"] == "merged" and (root / "rows-bot" / "merged" / "config.json").is_file()
