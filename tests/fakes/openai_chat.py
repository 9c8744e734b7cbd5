"""The inference half of the fake OpenAI server: scripted chat completions (plain and SSE) and embeddings.

Chat replies come from a queue of scripted replies first, then from a callable given the request JSON, and
otherwise echo the last user message, so a test scripts exactly the turns it cares about.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

from tests.fakes.openai_finetune import ApiError


def _tokens(text: str) -> int:
    return len(text.split())


def _message_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def normalise_reply(reply: Any, n: int) -> dict[str, Any]:
    """Turn a scripted reply into an assistant message: a string is the content; a dict may carry tool_calls
    as {"name", "arguments"} (arguments a dict or a JSON string) or in the API's own shape."""
    if isinstance(reply, str):
        return {"role": "assistant", "content": reply, "refusal": None}
    if not isinstance(reply, dict):
        raise TypeError(f"a scripted chat reply must be a str or a dict, not {type(reply).__name__}")
    msg = {"role": "assistant", "content": None, "refusal": None, **reply}
    if msg["content"] is not None and not isinstance(msg["content"], str):
        msg["content"] = json.dumps(msg["content"])  # structured output: the model's JSON as text
    calls = []
    for i, call in enumerate(msg.get("tool_calls") or []):
        fn = call.get("function", call)
        args = fn.get("arguments", {})
        calls.append(
            {
                "id": call.get("id", f"call_{n:03d}_{i}"),
                "type": "function",
                "function": {"name": fn["name"], "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
        )
    if calls:
        msg["tool_calls"] = calls
    else:
        msg.pop("tool_calls", None)
    return msg


class ChatResponder:
    """Scripted replies for POST /v1/chat/completions."""

    def __init__(self) -> None:
        self.queue: deque = deque()
        self.responder: Callable[[dict[str, Any]], Any] | None = None
        self._count = 0
        self._lock = threading.Lock()

    def script(self, *replies: Any) -> None:
        """Queue replies, answered in order before the responder callable is consulted."""
        self.queue.extend(replies)

    def reply(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._count += 1
            n = self._count
            scripted = self.queue.popleft() if self.queue else None
        if scripted is None:
            if self.responder is not None:
                scripted = self.responder(request)
            else:
                users = [m for m in request.get("messages", []) if m.get("role") == "user"]
                scripted = "echo: " + (_message_text(users[-1].get("content")) if users else "")
        if isinstance(scripted, ApiError):
            raise scripted
        return normalise_reply(scripted, n)

    def completion(self, request: dict[str, Any]) -> dict[str, Any]:
        msg = self.reply(request)
        prompt = sum(_tokens(_message_text(m.get("content"))) + 3 for m in request.get("messages", []))
        out = _tokens(msg.get("content") or "") + sum(
            _tokens(c["function"]["arguments"]) for c in msg.get("tool_calls", [])
        )
        return {
            "id": f"chatcmpl-fake{self._count:06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", "gpt-4.1-mini"),
            "system_fingerprint": "fp_tunewise_fake",
            "choices": [
                {
                    "index": 0,
                    "message": msg,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if msg.get("tool_calls") else "stop",
                }
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out},
        }

    def stream(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The same completion as chat.completion.chunk objects: role, content word by word, tool calls, finish."""
        full = self.completion(request)
        msg, choice = full["choices"][0]["message"], full["choices"][0]
        base = {
            "id": full["id"],
            "object": "chat.completion.chunk",
            "created": full["created"],
            "model": full["model"],
            "system_fingerprint": full["system_fingerprint"],
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        text = msg.get("content") or ""
        pieces = [w + " " for w in text.split(" ")]
        if pieces:
            pieces[-1] = pieces[-1][:-1]
        for piece in pieces if text else []:
            yield chunk({"content": piece})
        for i, call in enumerate(msg.get("tool_calls", [])):
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": call["function"]["arguments"]}}]})
        yield chunk({}, choice["finish_reason"])
        if (request.get("stream_options") or {}).get("include_usage"):
            yield {**base, "choices": [], "usage": full["usage"]}


def embed_text(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector: hashed words and character trigrams, so similar texts land near each other."""
    vec = [0.0] * dimensions
    lowered = text.lower()
    features = lowered.split() + [lowered[i : i + 3] for i in range(max(0, len(lowered) - 2))]
    for feature in features or ["<empty>"]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vec[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def embeddings(request: dict[str, Any], default_dimensions: int = 64) -> dict[str, Any]:
    raw = request.get("input")
    if raw is None or raw == [] or raw == "":
        raise ApiError(400, "'input' must be a non-empty string or array", param="input")
    items = [raw] if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)) else raw
    texts = [" ".join(map(str, i)) if isinstance(i, list) else str(i) for i in items]
    dims = int(request.get("dimensions") or default_dimensions)
    data = []
    for i, text in enumerate(texts):
        vec = embed_text(text, dims)
        if request.get("encoding_format") == "base64":
            vec = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": vec})
    used = sum(_tokens(t) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": request.get("model", "text-embedding-3-small"),
        "usage": {"prompt_tokens": used, "total_tokens": used},
    }
