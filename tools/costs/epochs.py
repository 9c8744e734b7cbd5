"""OpenAI's default epoch count for a fine-tuning job, as its cookbook states it."""

from __future__ import annotations

# From OpenAI's cookbook "Data preparation and analysis for chat model fine-tuning".
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25


def openai_default_epochs(n_examples: int) -> int:
    """Return the epochs OpenAI picks with `n_epochs="auto"`: 3, raised for tiny sets and lowered for huge ones."""
    n = max(int(n_examples), 1)
    if n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n)
    if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n)
    return TARGET_EPOCHS
