"""Defaults shared by more than one tool, the graph and the CLI, defined once."""

from __future__ import annotations

# The OpenAI model tunewise prompts when it needs one of its own: the prompted baseline of a plan whose data may go
# to OpenAI, and the model a plan that trains nothing serves. OpenAI names it as the replacement of gpt-4.1-mini and
# gpt-4o-mini (deprecation notice of 2026-10-14; tools/data/openai.json holds the sources). A test keeps every
# default here alive for at least 30 more days by the catalogue's shutdown dates.
DEFAULT_OPENAI_MODEL = "gpt-6-luna"

# The OpenAI model fine-tuning starts from, and the target `tunewise validate` counts and prices for. OpenAI's
# self-serve fine-tuning is winding down (closed to new organisations; no new jobs from 2027-01-06; this base and its
# fine-tunes shut down on 2027-01-14): the plan says so and picks a self-hosted path where it no longer applies.
DEFAULT_FINE_TUNE_MODEL = "gpt-4.1-mini"

# Training run statuses that leave an adapter worth evaluating and shipping (a stopped-early run kept its best one).
FINISHED_TRAINING = ("succeeded", "stopped_early")

# Chunking for the index: MiniLM reads 256 word pieces well and up to 510; 400 keeps a section whole more often.
CHUNK_TOKENS = 400
CHUNK_OVERLAP = 60  # tokens repeated across each cut, so a sentence split by a cut is whole in one chunk
