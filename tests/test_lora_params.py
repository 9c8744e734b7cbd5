"""Parameter counts: the issue's anchors, every catalog model against transformers, LoRA against peft."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tools.costs.lora_params import (
    base_model_catalog,
    from_config,
    lora_trainable_params,
    resolve_base_model,
    resolve_targets,
)
from tools.errors import TunewiseError

QKVO = ["q_proj", "k_proj", "v_proj", "o_proj"]


def test_mistral_anchor():
    arch = resolve_base_model("Mistral-7B-v0.1")
    assert arch.total_params == 7_241_732_096
    assert lora_trainable_params(arch, 16, QKVO) == 13_631_488


def test_llama_31_8b_anchor():
    arch = resolve_base_model("Llama-3.1-8B")
    assert arch.total_params == 8_030_261_248
    assert lora_trainable_params(arch, 16) == 41_943_040  # None = all seven projections
    assert resolve_targets(arch, None) == QKVO + ["gate_proj", "up_proj", "down_proj"]


def test_lora_scales_linearly_with_rank():
    arch = resolve_base_model("Qwen2.5-7B")
    assert lora_trainable_params(arch, 32) == 2 * lora_trainable_params(arch, 16)


def test_every_catalog_model_matches_transformers():
    """Build each catalog architecture on the meta device (no memory) and count what transformers creates."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    for name, entry in base_model_catalog()["models"].items():
        cfg = dict(entry["config"])
        config = transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
        with torch.device("meta"):
            model = transformers.AutoModelForCausalLM.from_config(config)
        expected = sum(p.numel() for p in model.parameters())
        assert from_config(entry["config"], name).total_params == expected, name


TINY = {
    "llama": {"hidden_size": 64, "intermediate_size": 160, "num_attention_heads": 4, "num_key_value_heads": 2},
    "qwen2": {"hidden_size": 64, "intermediate_size": 96, "num_attention_heads": 8, "num_key_value_heads": 2},
    "phi3": {"hidden_size": 48, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4},
    "gemma2": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 32,
    },
    "qwen3": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 24,
    },
}


@pytest.mark.parametrize("model_type", list(TINY))
@pytest.mark.parametrize("tied", [False, True])
def test_tiny_model_counts_agree_with_peft(model_type, tied, capsys):
    """A real (tiny, random) transformers model wrapped by peft reports exactly the counts we compute."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg = {
        "model_type": model_type,
        "num_hidden_layers": 3,
        "vocab_size": 211,
        "tie_word_embeddings": tied,
        "pad_token_id": 0,
        **TINY[model_type],
    }
    arch = from_config(cfg, f"tiny-{model_type}")
    fields = {k: v for k, v in cfg.items() if k != "model_type"}
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(model_type, **fields))
    assert sum(p.numel() for p in model.parameters()) == arch.total_params
    targets = resolve_targets(arch, None)
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, lora_alpha=8, target_modules=targets, task_type="CAUSAL_LM"))
    trainable, total = lora.get_nb_trainable_parameters()
    assert trainable == lora_trainable_params(arch, 4, targets)
    assert total == arch.total_params + trainable
    lora.print_trainable_parameters()
    printed = capsys.readouterr().out
    numbers = [int(n.replace(",", "")) for n in re.findall(r"params: ([\d,]+)", printed)]
    assert numbers == [trainable, total]


def test_subset_of_targets_agrees_with_peft():
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    cfg = {"model_type": "llama", "num_hidden_layers": 2, "vocab_size": 128, **TINY["llama"]}
    arch = from_config(cfg, "tiny")
    model = transformers.AutoModelForCausalLM.from_config(
        transformers.AutoConfig.for_model("llama", **{k: v for k, v in cfg.items() if k != "model_type"})
    )
    lora = peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    assert lora.get_nb_trainable_parameters()[0] == lora_trainable_params(arch, 8, ["q_proj", "v_proj"])


@pytest.mark.parametrize(
    "name",
    [
        "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit",
        "meta-llama/Llama-3.1-8B",
        "llama-3.1-8b",
        "unsloth/llama-3-8b-bnb-4bit",
    ],
)
def test_name_variants_resolve_to_the_catalog(name):
    assert resolve_base_model(name).name == "Llama-3.1-8B"


def test_phi3_uses_fused_module_names():
    arch = resolve_base_model("microsoft/Phi-3-mini-4k-instruct")
    assert resolve_targets(arch, None) == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    with pytest.raises(TunewiseError, match="no module named q_proj") as err:
        lora_trainable_params(arch, 16, ["q_proj"])
    assert err.value.exit_code == 2 and "qkv_proj" in err.value.hint


def test_reads_a_local_folder(tmp_path: Path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    cfg = {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 100,
    }
    (folder / "config.json").write_text(json.dumps(cfg))
    arch = resolve_base_model(str(folder))
    assert (arch.name, arch.num_key_value_heads, arch.head_dim, arch.tie_word_embeddings) == ("my-model", 4, 16, False)
    assert resolve_base_model(str(folder / "config.json")).total_params == arch.total_params


def test_reads_the_hf_cache_without_network(tmp_path: Path):
    snapshot = tmp_path / "hub" / "models--acme--tiny-7b" / "snapshots" / "0123abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(
        json.dumps(
            {
                "model_type": "qwen2",
                "hidden_size": 64,
                "intermediate_size": 96,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "vocab_size": 100,
                "tie_word_embeddings": True,
            }
        )
    )
    arch = resolve_base_model("acme/tiny-7b", hf_cache=tmp_path / "hub")
    assert arch.model_type == "qwen2" and arch.linear_modules()["q_proj"][2] is True  # qwen2's q/k/v bias
    with pytest.raises(TunewiseError, match="unknown base model"):
        resolve_base_model("acme/tiny-7b", hf_cache=tmp_path / "elsewhere")


def test_bad_config_is_one_clear_error(tmp_path: Path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text('{\n  "model_type": "llama",\n  "hidden_size": 64,,\n}')
    with pytest.raises(TunewiseError) as err:
        resolve_base_model(str(folder))
    assert err.value.line == 3 and err.value.path.endswith("config.json")
    (folder / "config.json").write_text(json.dumps({"model_type": "mixtral", "hidden_size": 64}))
    with pytest.raises(TunewiseError, match="unsupported architecture 'mixtral'"):
        resolve_base_model(str(folder))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    with pytest.raises(TunewiseError, match="lacks num_attention_heads"):
        resolve_base_model(str(folder))
    with pytest.raises(TunewiseError, match="no config.json"):
        resolve_base_model(str(tmp_path))


def test_unknown_name_lists_the_catalog():
    with pytest.raises(TunewiseError) as err:
        resolve_base_model("gpt-5-open")
    assert err.value.exit_code == 2 and "Qwen2.5-7B" in err.value.hint
