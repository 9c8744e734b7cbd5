"""Held-out evaluation: candidates' prompts, metrics, the LLM judge, bootstrap intervals and the reports."""
