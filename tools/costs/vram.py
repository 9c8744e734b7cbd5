"""GPU memory for LoRA, QLoRA and full fine-tuning, term by term, and the largest batch a GPU holds.

The model (bytes; bf16 = 2):
- frozen weights: 16-bit = 2 bytes/param; 4-bit = bitsandbytes NF4 with double quantisation on every linear layer
  inside the decoder (4 bits + one 8-bit absmax per 64 weights + one fp32 constant per 256 absmaxes), while the
  embeddings, lm_head, norms and biases stay 16-bit, as transformers leaves them, except under the hf backend
  (`upcast_unquantized`): peft's prepare_model_for_kbit_training casts every parameter that is not 4-bit to fp32
  (peft/utils/other.py), about 2 GB more on Llama-3-8B, whose embeddings and lm_head are 1 B parameters.
- trainable state: LoRA adapters are kept in fp32 (peft upcasts them): 4 weight + 4 gradient + optimizer
  (32-bit AdamW: 8, 8-bit AdamW: 2). Full fine-tuning counts ZeRO's mixed-precision bytes: 2 gradient +
  4 fp32 master + optimizer, on top of the 2-byte weights.
- activations per token, per layer: what autograd keeps for backward in a pre-norm SwiGLU block with a fused
  (flash/SDPA) attention kernel: two norm inputs and outputs (4h), q and attention output (2 q_dim), k and v
  (2 kv_dim), gate, up and their product (3 i), plus r values per LoRA-targeted module. Gradient checkpointing keeps
  only each layer's input (h) and recomputes one layer at a time. No s^2 term: fused kernels never store it.
- logits: one fp32 copy of seq x batch x vocab, which the cross-entropy upcast makes.
- runtime: CUDA context, the dequantised copy of the largest 4-bit weight while it is multiplied, and 5% for
  allocator fragmentation.
Every term grows with rank, sequence length and batch size, so the total never shrinks when one of them grows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from tools.costs.lora_params import Architecture
from tools.errors import UsageError

if TYPE_CHECKING:
    from typing_extensions import Unpack

GIB = 1024**3
BF16 = 2
NF4_BITS = 4 + 8 / 64 + 32 / (64 * 256)  # 4.127 bits/weight, bitsandbytes' default for Unsloth and QLoRA
CUDA_CONTEXT_GIB = 0.6  # torch + cuBLAS context on recent drivers, measured as 0.5-0.7 GiB
FRAGMENTATION = 0.05  # PyTorch's caching allocator rarely packs better than ~95%
SERVING_HEADROOM = 1.2  # KV cache and batching room on top of the weights when self-hosting

Quant = Literal["4bit", "16bit"]
Method = Literal["lora", "full"]


class _MemoryArgsRequired(TypedDict):
    trainable_params: int


class TrainingMemoryArgs(_MemoryArgsRequired, total=False):
    """training_vram()'s keyword arguments other than `batch_size`: what max_batch_size() passes on."""

    quant: Quant
    method: Method
    seq_len: int
    gradient_checkpointing: bool
    optim_bits: Literal[8, 32]
    lora_r: int
    lora_modules: int
    upcast_unquantized: bool


class VramBreakdown(BaseModel):
    """Training memory on one GPU, in GiB."""

    model_config = ConfigDict(frozen=True)
    weights_gib: float = Field(description="Frozen base weights (4-bit or 16-bit).")
    trainable_state_gib: float = Field(description="Trainable weights' gradients, fp32 copies and optimizer states.")
    activations_gib: float = Field(description="Activations kept for the backward pass.")
    logits_gib: float = Field(description="fp32 logits for the loss.")
    runtime_gib: float = Field(description="CUDA context, dequantisation buffer and allocator fragmentation.")
    total_gib: float


def _weights_bytes(arch: Architecture, quant: Quant, upcast_unquantized: bool = False) -> float:
    if quant == "16bit":
        return arch.total_params * BF16
    quantised = arch.num_hidden_layers * sum(a * b for a, b, _ in arch.linear_modules().values())
    return quantised * NF4_BITS / 8 + (arch.total_params - quantised) * (4 if upcast_unquantized else BF16)


def _activation_bytes_per_token(arch: Architecture, lora_r: int, lora_modules: int, checkpointing: bool) -> float:
    h, i = arch.hidden_size, arch.intermediate_size
    per_layer = BF16 * (4 * h + 2 * arch.q_dim + 2 * arch.kv_dim + 3 * i + lora_r * lora_modules)
    if checkpointing:
        return arch.num_hidden_layers * BF16 * h + per_layer
    return arch.num_hidden_layers * per_layer


def training_vram(
    arch: Architecture,
    *,
    trainable_params: int,
    quant: Quant = "4bit",
    method: Method = "lora",
    seq_len: int = 2048,
    batch_size: int = 2,
    gradient_checkpointing: bool = True,
    optim_bits: Literal[8, 32] = 8,
    lora_r: int = 16,
    lora_modules: int = 7,
    upcast_unquantized: bool = False,
) -> VramBreakdown:
    """Return the memory one training step needs; `lora_modules` is how many linear layers per block carry adapters;
    `upcast_unquantized`: the non-4-bit weights are held in fp32 (the hf backend's QLoRA preparation).
    """
    if method == "full" and quant == "4bit":
        raise UsageError("full fine-tuning cannot train 4-bit weights", hint="use --quant 16bit or LoRA")
    if seq_len < 1 or batch_size < 1:
        raise UsageError("sequence length and batch size must be at least 1")
    optimizer = 2 if optim_bits == 8 else 8
    per_trainable = (4 + 4 + optimizer) if method == "lora" else (2 + 4 + optimizer)
    r, modules = (lora_r, lora_modules) if method == "lora" else (0, 0)
    tokens = seq_len * batch_size
    weights = _weights_bytes(arch, quant, upcast_unquantized)
    state = trainable_params * per_trainable
    activations = tokens * _activation_bytes_per_token(arch, r, modules, gradient_checkpointing)
    logits = tokens * arch.vocab_size * 4
    dequant = max(a * b for a, b, _ in arch.linear_modules().values()) * BF16 if quant == "4bit" else 0
    runtime = CUDA_CONTEXT_GIB * GIB + dequant + FRAGMENTATION * (weights + state + activations + logits)
    parts = [weights, state, activations, logits, runtime]
    return VramBreakdown(
        weights_gib=round(weights / GIB, 3),
        trainable_state_gib=round(state / GIB, 3),
        activations_gib=round(activations / GIB, 3),
        logits_gib=round(logits / GIB, 3),
        runtime_gib=round(runtime / GIB, 3),
        total_gib=round(sum(parts) / GIB, 2),
    )


def max_batch_size(
    arch: Architecture, memory_gib: float, *, limit: int = 4096, **kwargs: Unpack[TrainingMemoryArgs]
) -> int:
    """Return the largest batch (up to `limit`) whose training step fits in `memory_gib` (0: not one sequence fits)."""

    def fits(batch: int) -> bool:
        return training_vram(arch, batch_size=batch, **kwargs).total_gib <= memory_gib

    if not fits(1):
        return 0
    low, high = 1, limit
    if fits(high):
        return high
    while high - low > 1:  # memory grows with batch, so bisection finds the edge
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def serving_gib(arch: Architecture) -> float:
    """Return the GiB to serve the merged fine-tuned model in 16-bit with room for the KV cache."""
    return round(arch.total_params * BF16 * SERVING_HEADROOM / GIB + CUDA_CONTEXT_GIB, 2)
