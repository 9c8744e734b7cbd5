"""The `hf` backend: transformers + peft + trl, with bitsandbytes 4-bit (QLoRA) when CUDA is present."""

from __future__ import annotations

from tools.train import device
from tools.train.config import TrainInput
from tools.train.device import DeviceFacts
from tools.train.loop import Loaded
from tools.train.padding import set_pad_token


def load(inp: TrainInput, facts: DeviceFacts) -> Loaded:
    """Load the base model (4-bit NF4 on a GPU unless told otherwise) and wrap it with LoRA adapters."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    from tools.errors import TunewiseError, UsageError

    cuda = facts.cuda
    use_4bit = inp.load_in_4bit if inp.load_in_4bit is not None else cuda
    dtype = getattr(torch, device.precision(facts, "hf").dtype)  # fp32 on a CPU: no autocast, exact LoRA updates
    kwargs: dict = {"dtype": dtype}
    placement = device.device_map(facts)  # one GPU per process; under FSDP the shards are placed by FSDP instead
    if placement is not None:
        kwargs["device_map"] = placement
    if use_4bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_quant_storage=dtype,  # FSDP shards uniform-dtype tensors; the default uint8 storage breaks it
        )
    try:
        model = AutoModelForCausalLM.from_pretrained(inp.base_model, **kwargs)
    except (OSError, ValueError) as exc:
        raise TunewiseError(
            f"cannot load base model '{inp.base_model}' ({str(exc).splitlines()[0][:200]})",
            hint="pass a local model folder or a name already in the Hugging Face cache",
        ) from None
    tokenizer = AutoTokenizer.from_pretrained(inp.base_model)
    set_pad_token(tokenizer)  # never eos when the vocabulary reserves a pad (see tools/train/padding.py)
    model.config.use_cache = False  # training never reuses a KV cache
    if use_4bit:
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=inp.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif inp.gradient_checkpointing:
        model.enable_input_require_grads()  # frozen embeddings would otherwise cut the checkpointed graph
    missing = [m for m in inp.target_modules if not any(n.split(".")[-1] == m for n, _ in model.named_modules())]
    if missing:
        raise UsageError(
            f"the base model has no module named {', '.join(missing)}",
            hint="pass --target-modules with names the model has (e.g. q_proj,v_proj)",
        )
    torch.manual_seed(inp.seed)  # the same adapter init on every run with this seed
    lora = LoraConfig(
        r=inp.lora_r,
        lora_alpha=inp.lora_alpha,
        lora_dropout=inp.lora_dropout,
        target_modules=list(inp.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    return Loaded(
        model=model,
        tokenizer=tokenizer,
        quantized=use_4bit,
        dtype=str(dtype).replace("torch.", ""),
        plain_loss=not cuda,
    )
