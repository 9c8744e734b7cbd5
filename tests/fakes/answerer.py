"""The tests' Answerer: scripted replies through the one drive loop (graphs.session.drive), as a person would give."""

from __future__ import annotations

from typing import Any

from graphs.protocol import ApprovalRequest, Confirm, Question
from graphs.session import Reply, Request


class Scripted:
    """An Answerer that replies from lists, in order (tests, and `--answer`-style scripts); None when a list runs
    out, so the drive stops there as it would for a person who walked away.
    """

    def __init__(
        self, answers: list[str] | None = None, confirms: list[str] | None = None, approvals: list[Reply] | None = None
    ) -> None:
        self.answers = list(answers or [])
        self.confirms = list(confirms or [])
        self.approvals = list(approvals or [])
        self.seen: list[Request] = []

    def ask(self, question: Question) -> str | None:
        """Reply with the next scripted answer."""
        self.seen.append(question)
        return self.answers.pop(0) if self.answers else None

    def confirm(self, request: Confirm) -> str | None:
        """Reply with the next scripted confirmation."""
        self.seen.append(request)
        return self.confirms.pop(0) if self.confirms else None

    def approve(self, request: ApprovalRequest, values: dict[str, Any]) -> Reply | None:
        """Reply with the next scripted decision."""
        self.seen.append(request)
        return self.approvals.pop(0) if self.approvals else None
