"""Every device decision of a training run (tools/train/device.py), branch by branch, from device facts alone: a T4,
an A100, two GPUs in one process, FSDP under the launcher, and CPUs with and without native bf16. Plus the GPU-path
pieces that can run on a CPU: GGUF file discovery, the recorded base name, and embedding rows edited outside LoRA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.train import device
from tools.train.device import DeviceFacts, Precision

CPU = DeviceFacts()
CPU_BF16 = DeviceFacts(cpu_bf16=True)
T4 = DeviceFacts(gpu_count=1, capability=(7, 5), gpu_name="Tesla T4")
V100 = DeviceFacts(gpu_count=1, capability=(7, 0))
A100 = DeviceFacts(gpu_count=1, capability=(8, 0))
TWO_H100 = DeviceFacts(gpu_count=2, capability=(9, 0))
FSDP = DeviceFacts(gpu_count=4, capability=(9, 0), launcher="accelerate", processes=4, local_rank=2)


@pytest.mark.parametrize("facts", [T4, V100])
def test_pre_ampere_gpus_train_in_fp16_whichever_backend(facts) -> None:
    # torch.cuda.is_bf16_supported() says yes here (emulation); unsloth loads fp16 and would refuse bf16=True.
    for backend in ("unsloth", "hf"):
        assert device.precision(facts, backend) == Precision("float16", bf16=False, fp16=True)
    assert device.inference_dtype(facts) == "float16" and device.merge_dtype(facts) == "float16"


@pytest.mark.parametrize("facts", [A100, TWO_H100, FSDP])
def test_ampere_and_later_train_in_bf16(facts) -> None:
    for backend in ("unsloth", "hf"):
        assert device.precision(facts, backend) == Precision("bfloat16", bf16=True, fp16=False)
    assert device.inference_dtype(facts) == "bfloat16" and device.merge_dtype(facts) == "bfloat16"


def test_cpu_precision_follows_native_bf16_for_unsloth_and_stays_fp32_for_hf() -> None:
    assert device.precision(CPU_BF16, "unsloth") == Precision("bfloat16", bf16=False, fp16=False)
    assert device.precision(CPU, "unsloth") == Precision("float32", bf16=False, fp16=False)
    for facts in (CPU, CPU_BF16):
        assert device.precision(facts, "hf") == Precision("float32", bf16=False, fp16=False)
        assert device.inference_dtype(facts) == "float32"
        assert device.merge_dtype(facts) == "bfloat16"  # the merged export is 16-bit everywhere


@pytest.mark.parametrize(
    ("flags", "machine", "native"),
    [
        ({"avx2", "avx512f", "avx512_bf16"}, "x86_64", True),  # AMD Zen 4 / Intel Cooper Lake
        ({"avx2", "amx_bf16", "amx_tile"}, "x86_64", True),  # Intel Sapphire Rapids
        ({"avx2", "avx512f"}, "x86_64", False),  # Skylake-X: AVX-512 without bf16
        ({"avx2", "fma"}, "AMD64", False),  # no AVX-512 at all
        ({"fp", "asimd", "bf16"}, "aarch64", True),
        ({"fp", "asimd"}, "arm64", False),
        ({"bf16"}, "riscv64", False),
    ],
)
def test_cpu_bf16_is_read_from_the_feature_flags(flags, machine, native) -> None:
    assert device.cpu_bf16_from_flags(frozenset(flags), machine) is native


def test_the_cpu_bf16_override_wins_both_ways(monkeypatch) -> None:
    monkeypatch.setenv(device.CPU_BF16_ENV, "1")
    assert device.detect_cpu_bf16() is True
    monkeypatch.setenv(device.CPU_BF16_ENV, "0")
    assert device.detect_cpu_bf16() is False


def test_optimizer_is_8bit_on_one_gpu_fused_torch_under_fsdp_and_torch_on_cpu() -> None:
    assert device.optimizer(T4) == device.optimizer(A100) == device.optimizer(TWO_H100) == "adamw_8bit"
    assert device.optimizer(FSDP) == "adamw_torch_fused"  # bnb's 8-bit AdamW cannot step DTensor shards
    assert device.optimizer(CPU) == device.optimizer(CPU_BF16) == "adamw_torch"
    # One process under the launcher is not sharded: 8-bit states are fine there.
    assert (
        device.optimizer(DeviceFacts(gpu_count=1, capability=(8, 0), launcher="accelerate", processes=1))
        == "adamw_8bit"
    )


def test_device_map_pins_one_process_to_its_gpu_and_leaves_fsdp_and_cpu_alone() -> None:
    assert device.device_map(A100) == {"": 0}
    assert device.device_map(TWO_H100) == {"": 0}
    assert device.device_map(DeviceFacts(gpu_count=2, capability=(8, 6), local_rank=1)) == {"": 1}
    assert device.device_map(FSDP) is None and device.device_map(CPU) is None


def test_a_trainer_never_drives_more_than_one_gpu() -> None:
    assert device.trainer_gpus(TWO_H100) == device.trainer_gpus(A100) == device.trainer_gpus(FSDP) == 1
    assert device.trainer_gpus(CPU) == 0


def test_unsloth_loads_the_exact_model_it_was_given() -> None:
    assert device.unsloth_model_name("meta-llama/Llama-3.1-8B-Instruct") == {
        "model_name": "meta-llama/Llama-3.1-8B-Instruct",
        "use_exact_model_name": True,
    }


def test_facts_serialise_for_run_json() -> None:
    assert json.loads(json.dumps(FSDP.to_json())) == {
        "gpu_count": 4,
        "capability": [9, 0],
        "gpu_name": None,
        "launcher": "accelerate",
        "processes": 4,
        "local_rank": 2,
        "cpu_bf16": False,
    }
    assert CPU.cuda is False and FSDP.distributed is True and TWO_H100.distributed is False


def test_detect_on_this_machine_reads_the_launcher_environment(monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    facts = device.detect()
    assert (facts.launcher, facts.processes, facts.local_rank) == ("accelerate", 3, 1)
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("LOCAL_RANK")
    assert device.detect().launcher == "none"


def test_gguf_files_come_from_unsloths_answer_or_either_folder(tmp_path: Path) -> None:
    from tools.train.export import gguf_files

    out = tmp_path / "gguf"
    sibling = tmp_path / "gguf_gguf"  # where unsloth 2026.10's GPU exporter writes
    sibling.mkdir()
    (sibling / "model.Q4_K_M.gguf").write_bytes(b"GGUF")
    assert gguf_files({"gguf_files": [str(sibling / "model.Q4_K_M.gguf")]}, out) == [str(sibling / "model.Q4_K_M.gguf")]
    assert gguf_files(None, out) == [str(sibling / "model.Q4_K_M.gguf")]  # found without being told
    out.mkdir()
    (out / "model.Q8_0.gguf").write_bytes(b"GGUF")
    assert gguf_files([str(out / "model.Q8_0.gguf")], out) == [str(out / "model.Q8_0.gguf")]  # the CPU exporter's list


def test_sft_config_takes_its_precision_optimizer_and_gpu_count_from_the_facts(tmp_path: Path) -> None:
    from tools.train.config import TrainInput
    from tools.train.loop import sft_config

    (tmp_path / "d.jsonl").write_text("{}\n")
    inp = TrainInput(data=tmp_path / "d.jsonl", base_model="m", output=tmp_path / "run", max_steps=2)
    config = sft_config(inp, tmp_path / "run", facts=CPU_BF16, has_eval=False, total_hint=2, overrides={})
    assert (config.bf16, config.fp16, config.use_cpu, str(config.optim.value)) == (False, False, True, "adamw_torch")


def test_embedding_rows_edited_outside_lora_travel_with_the_adapter(tmp_path: Path) -> None:
    """What unsloth's trainer does on a GPU (fix_untrained_tokens: rows of embed_tokens and lm_head set in place),
    done by hand on a tiny model: the saved adapter must bring those rows back on reload and in a merge."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from tests.fakes.tiny_model import EOT, build_tiny_model
    from tools.train import token_rows
    from tools.train.export import record_base

    base_dir = build_tiny_model(tmp_path / "base")
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    before = token_rows.snapshot(model)
    eot = 3  # <|im_end|> in the tiny tokenizer's special tokens: pad, eos, im_start, im_end
    with torch.no_grad():
        model.get_input_embeddings().weight[eot] = 0.5
        model.get_output_embeddings().weight[[1, eot]] = -0.25
    model.save_pretrained(tmp_path / "adapter")
    assert token_rows.save(model, before, tmp_path / "adapter") == {"embed_tokens": [eot], "lm_head": [1, eot]}
    record_base(tmp_path / "adapter", "the/name-the-user-gave")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "the/name-the-user-gave"

    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), tmp_path / "adapter")
    merged = reloaded.merge_and_unload()
    assert torch.equal(merged.get_input_embeddings().weight[eot], torch.full((64,), 0.5))
    assert torch.equal(merged.get_output_embeddings().weight[[1, eot]], torch.full((2, 64), -0.25))
    untouched = AutoModelForCausalLM.from_pretrained(base_dir)
    assert torch.equal(merged.get_input_embeddings().weight[4:], untouched.get_input_embeddings().weight[4:])
    assert EOT  # the row edited is the end-of-turn token's, as on a Llama-3 base


def test_nothing_is_added_when_no_row_changed(tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tests.fakes.tiny_model import build_tiny_model
    from tools.train import token_rows

    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(build_tiny_model(tmp_path / "base")),
        LoraConfig(r=4, target_modules=["q_proj"], task_type="CAUSAL_LM"),
    )
    before = token_rows.snapshot(model)
    model.save_pretrained(tmp_path / "adapter")
    assert token_rows.save(model, before, tmp_path / "adapter") == {}
    assert (
        "trainable_token_indices" not in json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
        or not json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["trainable_token_indices"]
    )


@pytest.mark.parametrize(
    ("specials", "eos", "pad"),
    [
        (
            [
                "<|begin_of_text|>",
                "<|end_of_text|>",
                "<|eot_id|>",
                "<|finetune_right_pad_id|>",
                "<|reserved_special_token_0|>",
            ],
            "<|end_of_text|>",
            "<|finetune_right_pad_id|>",
        ),  # Llama 3.1
        (
            ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|reserved_special_token_3|>"],
            "<|end_of_text|>",
            "<|reserved_special_token_3|>",
        ),
        (["<s>", "</s>", "<unk>"], "</s>", "<unk>"),  # Llama 2 / Mistral
        (["<s>", "</s>"], "</s>", "</s>"),  # nothing else to pad with: eos, the last resort
    ],
)
def test_the_pad_token_is_never_eos_when_the_vocabulary_reserves_one(specials, eos, pad) -> None:
    from tools.train.padding import choose_pad_token

    assert choose_pad_token(specials, eos=eos, avoid={"<|eot_id|>"}) == pad


def test_the_launchers_mixed_precision_matches_the_trainers() -> None:
    assert device.accelerate_mixed_precision(FSDP) == "bf16"
    assert (
        device.accelerate_mixed_precision(
            DeviceFacts(gpu_count=2, capability=(7, 5), launcher="accelerate", processes=2)
        )
        == "fp16"
    )  # two T4s
    assert device.accelerate_mixed_precision(CPU) == "no"
