"""What a local training run takes and what it reports; defaults follow the reference article's Unsloth recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Every projection of a Llama-style block: the article found attention + MLP clearly better than attention alone.
DEFAULT_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LOCAL_EPOCHS = 3  # the article's num_train_epochs; more on small data memorises it
LOCAL_BATCH_SIZE = 2  # the article's per-device batch: fits an 8B QLoRA in 16 GB with grad accumulation doing the rest
DEFAULT_SAVE_STEPS = 50  # a crash loses minutes, not hours, and saving stays a small share of a GPU run
KEEP_CHECKPOINTS = 2  # the newest complete one plus one before it, in case the newest turns out bad
NEAR_ZERO_LOSS = 0.05  # the article: a training loss "dropping to near zero" means the data is being memorised

Tracker = Literal["none", "tensorboard", "mlflow", "wandb"]
RunStatus = Literal["running", "succeeded", "stopped_early", "interrupted", "failed"]


class TrainInput(BaseModel):
    """A LoRA / QLoRA fine-tuning run on this machine (unsloth or transformers + peft + trl)."""

    model_config = ConfigDict(extra="forbid")

    data: Path = Field(description="Training file: OpenAI chat JSONL, Alpaca or ShareGPT (validated first).")
    backend: Literal["unsloth", "hf"] = Field(
        default="unsloth", description="unsloth (fastest) or hf (transformers + peft + trl)."
    )
    base_model: str = Field(description="Base model: a local folder or a Hugging Face name already in the cache.")
    output: Path = Field(description="Run folder: adapter/, run.json, metrics.jsonl, loss.png, checkpoints/.")
    eval_file: Path | None = Field(default=None, description="Held-out file for eval loss and the over-fitting guard.")
    lora_r: int = Field(
        default=16, ge=1, description="LoRA rank: higher adds capacity and memory; 16 suits most behaviour tasks."
    )
    lora_alpha: int = Field(
        default=16, ge=1, description="LoRA scale; alpha = r keeps the update scale at 1, the article's choice."
    )
    lora_dropout: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="0 lets unsloth use its fast path; raise it to fight over-fitting."
    )
    target_modules: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TARGET_MODULES),
        description="Modules that get adapters: all attention and MLP projections.",
    )
    load_in_4bit: bool | None = Field(
        default=None,
        description="QLoRA 4-bit base weights; default: on a CUDA GPU yes, on the CPU no (no memory pressure, slower kernels).",
    )
    epochs: float | None = Field(default=None, gt=0, description=f"Passes over the data; default {LOCAL_EPOCHS}.")
    lr: float = Field(
        default=2e-4, gt=0, description="Learning rate: 2e-4 is the standard LoRA rate, 10x a full fine-tune's."
    )
    batch_size: int | None = Field(
        default=None, ge=1, description=f"Examples per device step; default {LOCAL_BATCH_SIZE}."
    )
    grad_accum: int = Field(
        default=4, ge=1, description="Gradient accumulation: effective batch = batch_size x 4 = 8 at the defaults."
    )
    max_seq_len: int = Field(
        default=2048, ge=16, description="Longer examples are truncated (and counted in a warning)."
    )
    warmup_steps: int = Field(
        default=5, ge=0, description="A short warm-up keeps the first updates from wrecking fresh adapters."
    )
    seed: int = Field(default=42, description="Seeds data order and adapter init, so a rerun matches.")
    packing: bool = Field(
        default=False, description="Pack short examples into full rows: faster, examples kept apart by position ids."
    )
    max_steps: int | None = Field(
        default=None, ge=1, description="Stop after this many optimizer steps (overrides epochs)."
    )
    save_steps: int | None = Field(
        default=None, ge=1, description=f"Checkpoint every N steps; default {DEFAULT_SAVE_STEPS}."
    )
    eval_steps: int | None = Field(
        default=None, ge=1, description="Evaluate every N steps; default: about 10 evaluations per run."
    )
    resume: bool = Field(default=False, description="Continue from the newest complete checkpoint in the run folder.")
    merge: bool = Field(default=False, description="Also write a merged 16-bit model to OUTPUT/merged.")
    gguf: str | None = Field(
        default=None, description="Also export GGUF with this quantisation (q4_k_m, q8_0, ...) through unsloth."
    )
    early_stopping: bool = Field(
        default=False, description="Stop when the eval loss rises twice in a row and keep the best adapter."
    )
    chat_template: str | None = Field(
        default=None, description="Named template in prompts/ (chatml, plain) when the tokenizer has none."
    )
    gradient_checkpointing: bool = Field(
        default=True,
        description="Recompute activations: a little compute for a lot of memory (the article: always on).",
    )
    report_to: Tracker = Field(
        default="none",
        description="Also log to this tracker through the trainer's own integration: tensorboard, mlflow, wandb or none.",
    )

    @field_validator("base_model")
    @classmethod
    def _absolute_local_model(cls, value: str) -> str:
        # adapter_config.json records this name; a relative folder would not load from another directory.
        path = Path(value).expanduser()
        return str(path.resolve()) if path.is_dir() else value

    @field_validator("target_modules")
    @classmethod
    def _modules(cls, value: list[str]) -> list[str]:
        cleaned = [m.strip() for m in value if m.strip()]
        if not cleaned:
            raise ValueError("target_modules is empty; name at least one module, e.g. q_proj")
        return cleaned

    @property
    def resolved_epochs(self) -> float:
        """Return the passes over the data: `epochs`, else LOCAL_EPOCHS."""
        return self.epochs if self.epochs is not None else LOCAL_EPOCHS

    @property
    def resolved_batch_size(self) -> int:
        """Return the examples per device step: `batch_size`, else LOCAL_BATCH_SIZE."""
        return self.batch_size if self.batch_size is not None else LOCAL_BATCH_SIZE

    @property
    def resolved_save_steps(self) -> int:
        """Return the steps between checkpoints: `save_steps`, else DEFAULT_SAVE_STEPS."""
        return self.save_steps if self.save_steps is not None else DEFAULT_SAVE_STEPS

    def hyperparameters(self) -> dict:
        """Return the settings that define the run; a resume must match them exactly."""
        keys = (
            "backend",
            "base_model",
            "lora_r",
            "lora_alpha",
            "lora_dropout",
            "target_modules",
            "lr",
            "grad_accum",
            "max_seq_len",
            "warmup_steps",
            "seed",
            "packing",
            "max_steps",
            "gradient_checkpointing",
            "chat_template",
        )
        out = {k: getattr(self, k) for k in keys}
        out.update(epochs=self.resolved_epochs, batch_size=self.resolved_batch_size)
        return out


class TrainResult(BaseModel):
    """What a finished (or stopped) run produced, mirrored in OUTPUT/run.json."""

    model_config = ConfigDict(frozen=True)

    status: RunStatus
    output: str = Field(description="The run folder.")
    adapter_dir: str | None = Field(
        description="LoRA adapter with tokenizer and chat template; None when nothing was saved."
    )
    base_model: str
    backend: str
    device: str = Field(description='Where it trained: "cpu" or "cuda:<GPU name>".')
    steps: int = Field(description="Optimizer steps done, counting those before a resume.")
    total_steps: int
    tokens_trained: int = Field(description="Non-padding tokens that went through forward and backward.")
    tokens_per_second: float
    wall_seconds: float = Field(description="This invocation's training time.")
    final_loss: float | None
    first_loss: float | None = Field(
        default=None, description="The first logged training loss (with final_loss: how far it fell)."
    )
    best_eval_loss: float | None
    resumed_from: str | None = Field(description="Checkpoint the run continued from, if any.")
    merged_dir: str | None = None
    gguf_files: list[str] = Field(default_factory=list)
    modelfile: str | None = None
    warnings: list[str] = Field(default_factory=list)
