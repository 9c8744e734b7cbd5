"""Interviewers: read the framework's answers from what a person writes (offline rules + MiniLM, or an LLM)."""
