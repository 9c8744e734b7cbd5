"""The slice of OpenAI's chat-completions protocol the server speaks: request checks, errors and response shapes.

Requests are checked as OpenAI checks them (an unknown argument is a 400 naming it), plus this server's caps on
message count and max_tokens; every failure is an `ApiError`, answered in OpenAI's error shape with a 4xx code.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Limits(BaseModel):
    """What one request may ask of the server; a single client cannot hold the model for minutes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_request_bytes: int = Field(default=1 << 20, ge=1024, description="Largest request body (1 MiB).")
    max_messages: int = Field(default=100, ge=1, description="Most messages in one conversation.")
    max_tokens: int = Field(default=2048, ge=1, description="Largest max_tokens a request may ask for.")
    default_max_tokens: int = Field(default=512, ge=1, description="max_tokens when a request gives none.")


class ApiError(Exception):
    """An error answered as {"error": {"message", "type", "param", "code"}} with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        """Return the error in OpenAI's JSON shape."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class TextPart(BaseModel):
    """A text part of an OpenAI content array (the only part type this server takes)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str


class Message(BaseModel):
    """One message of a chat-completions request."""

    # A client may send back an assistant message as it received it (refusal, annotations...): extra keys pass.
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    """A streamed request's options: `include_usage` adds a final usage-only chunk."""

    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class ChatRequest(BaseModel):
    """A chat-completions request: the arguments this server takes (any other is refused), n always 1."""

    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    # Greedy unless asked: a grounded answer should not change between two identical requests.
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    n: Literal[1] = 1
    user: str | None = None

    def token_budget(self, limits: Limits) -> int:
        """Return the answer's max tokens: max_completion_tokens, else max_tokens, else the default; raise ApiError
        (400) above the server's cap.
        """
        asked = self.max_completion_tokens or self.max_tokens
        if asked is not None and asked > limits.max_tokens:
            field = "max_completion_tokens" if self.max_completion_tokens else "max_tokens"
            raise ApiError(
                400,
                f"{field} is {asked}; this server allows at most {limits.max_tokens}",
                param=field,
                code="max_tokens_too_large",
            )
        return asked or min(limits.default_max_tokens, limits.max_tokens)

    def stops(self) -> list[str]:
        """Return the stop strings as a list; raise ApiError (400) for more than 4 or an empty one."""
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4 or any(not s for s in stops):
            raise ApiError(400, "stop takes at most 4 non-empty strings", param="stop")
        return stops


def parse_request(raw: bytes, limits: Limits) -> ChatRequest:
    """Parse bytes into a checked ChatRequest; raise an ApiError naming the first problem."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError(
            400, f"We could not parse the JSON body of your request{where}: {exc}", code="invalid_json"
        ) from None
    except RecursionError:  # the parser recurses per level: 100,000 nested [ would otherwise be a 500
        raise ApiError(
            400, "We could not parse the JSON body of your request: it is nested too deeply", code="invalid_json"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits, which Python refuses to convert
        raise ApiError(400, f"We could not parse the JSON body of your request: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:  # a lone surrogate (\ud800) parses, but no tokenizer or embedder can encode it
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        raise ApiError(
            400,
            "the request body holds a lone UTF-16 surrogate escape (e.g. \\ud800), which is not text",
            code="invalid_json",
        ) from None
    try:
        request = ChatRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            raise ApiError(400, f"Unrecognized request argument supplied: {loc}", param=loc) from None
        if first["type"] == "missing":
            raise ApiError(400, f"Missing required parameter: '{loc}'.", param=loc) from None
        raise ApiError(400, f"Invalid value for '{loc}': {first['msg']}", param=loc) from None
    if len(request.messages) > limits.max_messages:
        raise ApiError(
            400,
            f"{len(request.messages)} messages; this server takes at most {limits.max_messages}",
            param="messages",
            code="too_many_messages",
        )
    return request


def completion_id() -> str:
    """Return a fresh `chatcmpl-` id."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def completion(cid: str, model: str, fingerprint: str, text: str, finish: str, usage: dict, extension: dict) -> dict:
    """Build a chat.completion response, with this server's `tunewise` extension."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": usage,
        "tunewise": extension,
    }


def chunk(cid: str, model: str, fingerprint: str, delta: dict | None, finish: str | None = None, **extra: Any) -> dict:
    """Build one chat.completion.chunk; delta None makes the usage-only chunk, whose choices are empty."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": choices,
        **extra,
    }


def sse(obj: dict) -> bytes:
    """Encode one server-sent event carrying `obj` as JSON."""
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


class StopCutter:
    """Cut a streamed reply at the first stop string, holding back a tail that might be the start of one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops, self.held, self.hit = stops, "", False

    def feed(self, piece: str) -> str:
        """Take the next piece; return the text safe to send now (nothing after a stop string)."""
        if not self.stops:
            return piece
        self.held += piece
        found = [self.held.index(s) for s in self.stops if s in self.held]
        if found:
            self.hit = True
            out, self.held = self.held[: min(found)], ""
            return out
        keep = max((k for s in self.stops for k in range(1, len(s)) if self.held.endswith(s[:k])), default=0)
        out, self.held = self.held[: len(self.held) - keep], self.held[len(self.held) - keep :]
        return out

    def flush(self) -> str:
        """Return the held-back tail at the end of the stream."""
        out, self.held = self.held, ""
        return out
