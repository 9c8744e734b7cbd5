"""Defaults shared by more than one tool, the graph and the CLI, defined once."""

from __future__ import annotations

# The OpenAI model validate prices for, OpenAI fine-tuning starts from, and a plan that trains nothing prompts.
DEFAULT_OPENAI_MODEL = "gpt-4.1-mini"

# Training run statuses that leave an adapter worth evaluating and shipping (a stopped-early run kept its best one).
FINISHED_TRAINING = ("succeeded", "stopped_early")

# Chunking for the index: MiniLM reads 256 word pieces well and up to 510; 400 keeps a section whole more often.
CHUNK_TOKENS = 400
CHUNK_OVERLAP = 60  # tokens repeated across each cut, so a sentence split by a cut is whole in one chunk
