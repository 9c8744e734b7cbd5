"""Put retrieved passages in front of the latest question as a delimited block of quoted data, never as instructions.

The block goes into the user turn, not the system message: retrieved text is untrusted, so it gets the user's
authority and no more. Its fence lines carry a code derived from the block's own content, which a document cannot
contain (it would have to hold a hash of itself), so no passage can close the block early and speak as the user.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from prompts import render
from tools.rag.search import SearchHit

SYSTEM_ROLES = ("system", "developer")


def text_of(content: object) -> str:
    """Return a message's text: a string, or the text parts of an OpenAI content array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def latest_question(messages: list[dict]) -> tuple[int, str] | None:
    """Return (index, text) of the last user message, or None when there is none."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "user":
            return i, text_of(messages[i].get("content"))
    return None


def context_block(question: str, hits: list[SearchHit]) -> str:
    """Return the question preceded by its passages, fenced and labelled as quoted data."""
    passages = "\n\n".join(
        render(
            "rag_passage",
            rank=n,
            source=Path(h.source).name or h.source,
            chunk=h.chunk,
            score=f"{h.score:.3f}",
            warning=render("rag_injection_note").rstrip("\n") if h.injection_warning else "",
            text=h.text.strip(),
        ).rstrip("\n")
        for n, h in enumerate(hits, 1)
    )
    nonce = hashlib.sha256(f"{question}\x00{passages}".encode()).hexdigest()[:16]
    return render("rag_context", nonce=nonce, passages=passages, question=question).rstrip("\n")


def with_context(messages: list[dict], hits: list[SearchHit], system_prompt: str | None) -> list[dict]:
    """Build the conversation the model sees: one leading system message (the deployment's prompt, then the client's
    system text), the turns in order, and the latest user turn wrapped with its retrieved passages.
    """
    system = [system_prompt] if system_prompt else []
    system += [text_of(m.get("content")) for m in messages if m["role"] in SYSTEM_ROLES]
    found = latest_question(messages)
    turns = []
    for i, m in enumerate(messages):
        if m["role"] in SYSTEM_ROLES:
            continue  # chat templates accept one system message, first: all system text is merged into it
        text = text_of(m.get("content"))
        if found is not None and i == found[0] and hits:
            text = context_block(text, hits)
        turns.append({"role": m["role"], "content": text})
    head = [{"role": "system", "content": "\n\n".join(s for s in system if s)}] if any(system) else []
    return head + turns
