"""An interviewer whose readings are scripted: the interview's flow tested apart from how well text is read."""

from __future__ import annotations

import threading

from agent.interviewer.offline import Finding


class ScriptedReader:
    """`extract(text)` returns the findings scripted for that exact text (none for any other); `gate`, when
    given, holds every reading until it is set, like an embedder still loading."""

    name = "fake:scripted"

    def __init__(self, script: dict[str, list[Finding]], gate: threading.Event | None = None) -> None:
        self.script = script
        self.gate = gate
        self.calls: list[tuple[str, str | None]] = []

    def caveat(self, text: str) -> str | None:
        return None

    def extract(self, text: str, *, focus: str | None = None) -> list[Finding]:
        self.calls.append((text, focus))
        if self.gate is not None and not self.gate.wait(60):
            raise TimeoutError("the scripted reader's gate was never opened")
        return list(self.script.get(text, []))


def said(fact: str, value, evidence: str, how: str = "stated") -> Finding:
    return Finding(fact, value, evidence, how)
