"""The VRAM model: monotone in rank, sequence length and batch, and close to Unsloth's published minimums."""

from __future__ import annotations

import itertools

import pytest

from tools.costs.lora_params import lora_trainable_params, resolve_base_model
from tools.costs.vram import GIB, max_batch_size, serving_gib, training_vram
from tools.errors import TunewiseError


def _vram(name="Llama-3.1-8B", r=16, seq=2048, batch=2, quant="4bit", method="lora", checkpointing=True, optim=8):
    arch = resolve_base_model(name)
    trainable = arch.total_params if method == "full" else lora_trainable_params(arch, r)
    return training_vram(
        arch,
        trainable_params=trainable,
        quant=quant,
        method=method,
        seq_len=seq,
        batch_size=batch,
        gradient_checkpointing=checkpointing,
        optim_bits=optim,
        lora_r=r,
    ).total_gib


SETTINGS = list(itertools.product(["4bit", "16bit"], [True, False], [8, 32]))


@pytest.mark.parametrize("quant,checkpointing,optim", SETTINGS)
def test_more_rank_never_costs_less(quant, checkpointing, optim):
    totals = [
        _vram(r=r, quant=quant, checkpointing=checkpointing, optim=optim) for r in (1, 2, 4, 8, 16, 32, 64, 128, 256)
    ]
    assert totals == sorted(totals) and totals[0] < totals[-1]


@pytest.mark.parametrize("quant,checkpointing,optim", SETTINGS)
def test_longer_sequences_never_cost_less(quant, checkpointing, optim):
    totals = [
        _vram(seq=s, quant=quant, checkpointing=checkpointing, optim=optim)
        for s in (16, 128, 512, 1024, 2048, 4096, 8192, 32768)
    ]
    assert totals == sorted(totals) and totals[0] < totals[-1]


@pytest.mark.parametrize("quant,checkpointing,optim", SETTINGS)
def test_bigger_batches_never_cost_less(quant, checkpointing, optim):
    totals = [_vram(batch=b, quant=quant, checkpointing=checkpointing, optim=optim) for b in (1, 2, 3, 4, 8, 16, 64)]
    assert totals == sorted(totals) and totals[0] < totals[-1]


def test_monotone_for_full_fine_tuning_too():
    by_seq = [_vram("SmolLM2-360M", seq=s, quant="16bit", method="full") for s in (128, 1024, 4096)]
    by_batch = [_vram("SmolLM2-360M", batch=b, quant="16bit", method="full") for b in (1, 4, 16)]
    assert by_seq == sorted(by_seq) and by_batch == sorted(by_batch)


def test_the_levers_do_what_they_say():
    assert _vram(quant="4bit") < _vram(quant="16bit")
    assert _vram(checkpointing=True) < _vram(checkpointing=False)
    assert _vram(optim=8) < _vram(optim=32)
    assert _vram(quant="16bit") < _vram(quant="16bit", method="full")


def test_weight_bytes():
    arch = resolve_base_model("Llama-3.1-8B")
    full = training_vram(arch, trainable_params=0, quant="16bit")
    assert full.weights_gib == round(arch.total_params * 2 / GIB, 3)
    # NF4 with double quantisation: 4.127 bits per decoder-layer weight; embeddings and lm_head stay bf16.
    quantised = arch.num_hidden_layers * 218_103_808
    four = training_vram(arch, trainable_params=0, quant="4bit")
    assert four.weights_gib == round(
        (quantised * (4 + 8 / 64 + 32 / 16384) / 8 + (arch.total_params - quantised) * 2) / GIB, 3
    )


# Unsloth's requirements page (unsloth.ai/docs/.../unsloth-requirements): "absolute minimum" QLoRA VRAM,
# 8B about 6 GB and 70B about 41 GB. It names no sequence length or batch, so compare at the smallest
# realistic run (batch 1, 512 tokens, r=16 on all projections, 8-bit AdamW, checkpointing).
# Tolerance -5%/+25%, justified: (1) the 8B's 4-bit weights alone are 5.3 GiB (5.7 GB, the size of Unsloth's
# own bnb-4bit checkpoint), so "6 GB" leaves ~0.3 GB for the CUDA context (0.5+ GiB by itself), adapters and
# activations: that figure cannot include the runtime, which we count; (2) Unsloth offloads checkpointed
# activations to CPU RAM and chunks the loss, while we keep both on the GPU, erring high on purpose because
# a wrong "fits" costs a failed paid run, a wrong "too big" only a bigger GPU. We must never be rosier than
# Unsloth by more than rounding (5%).
@pytest.mark.parametrize("name,published_gb", [("Llama-3.1-8B", 6.0), ("Llama-3.1-70B", 41.0)])
def test_close_to_unsloths_published_minimums(name, published_gb):
    ours = _vram(name, r=16, seq=512, batch=1, quant="4bit")
    assert 0.95 * published_gb <= ours <= 1.25 * published_gb, (name, ours)


def test_max_batch_size_is_the_edge():
    arch = resolve_base_model("Llama-3.1-8B")
    kwargs = dict(trainable_params=lora_trainable_params(arch, 16), quant="4bit", seq_len=2048)
    best = max_batch_size(arch, 23.99, **kwargs)
    assert best >= 1
    assert training_vram(arch, batch_size=best, **kwargs).total_gib <= 23.99
    assert training_vram(arch, batch_size=best + 1, **kwargs).total_gib > 23.99
    seventy = resolve_base_model("Llama-3.1-70B")
    assert max_batch_size(seventy, 23.99, trainable_params=lora_trainable_params(seventy, 16), quant="16bit") == 0


def test_full_fine_tuning_of_4bit_weights_is_refused():
    with pytest.raises(TunewiseError, match="full fine-tuning") as err:
        _vram("SmolLM2-135M", quant="4bit", method="full")
    assert err.value.exit_code == 2


def test_serving_memory_holds_16bit_weights():
    arch = resolve_base_model("Llama-3.1-8B")
    assert serving_gib(arch) > arch.total_params * 2 / GIB


def test_the_hf_backends_qlora_holds_unquantised_weights_in_fp32():
    # peft's prepare_model_for_kbit_training casts every non-4-bit parameter (embeddings, lm_head, norms) to fp32.
    arch = resolve_base_model("Llama-3.1-8B")
    quantised = arch.num_hidden_layers * 218_103_808
    plain = training_vram(arch, trainable_params=0, quant="4bit")
    upcast = training_vram(arch, trainable_params=0, quant="4bit", upcast_unquantized=True)
    assert round(upcast.weights_gib - plain.weights_gib, 2) == round((arch.total_params - quantised) * 2 / GIB, 2)
    assert 1.8 < upcast.weights_gib - plain.weights_gib < 2.2  # about 2 GB on Llama-3-8B, as the issue says
    assert training_vram(arch, trainable_params=0, quant="16bit", upcast_unquantized=True) == training_vram(
        arch, trainable_params=0, quant="16bit"
    )  # nothing is prepared for k-bit there
