"""Training-data formats: detect them, stream records with their line numbers, and turn each into chat messages.

Every downstream tool (train, split, eval) works on chat messages; this module is the one place that knows
OpenAI chat, OpenAI preference (DPO), Alpaca and ShareGPT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal

from tools.errors import TunewiseError

Format = Literal["chat", "preference", "alpaca", "sharegpt"]
FORMATS: tuple[str, ...] = ("chat", "preference", "alpaca", "sharegpt")

SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "bot": "assistant", "model": "assistant", "tool": "tool", "function_call": "assistant",
                  "observation": "tool"}


@dataclass
class ChatExample:
    """One example as chat messages; `line` is 1-based in the source file."""

    line: int
    messages: list[dict[str, Any]]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_messages(self) -> list[dict[str, Any]]:
        """Everything before the final assistant turn: what a model is given at inference."""
        last = max((i for i, m in enumerate(self.messages) if m["role"] == "assistant"), default=len(self.messages))
        return self.messages[:last]

    @property
    def reference(self) -> str:
        """The final assistant turn: the answer a model should produce."""
        for message in reversed(self.messages):
            if message["role"] == "assistant":
                return message.get("content") or ""
        return ""

    @property
    def first_user(self) -> str:
        return next((m.get("content") or "" for m in self.messages if m["role"] == "user"), "")


def detect_format(record: Any) -> str | None:
    """Name the format of one parsed record, or None when it is none of them."""
    if not isinstance(record, dict):
        return None
    if "messages" in record:
        return "chat"
    if "preferred_output" in record or "non_preferred_output" in record:
        return "preference"
    if "conversations" in record:
        return "sharegpt"
    if "instruction" in record and "output" in record:
        return "alpaca"
    return None


def content_text(content: Any) -> str:
    """Text of a message content: a string, or the text parts of a content-part list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return str(content)


def to_messages(record: dict[str, Any], fmt: str) -> list[dict[str, Any]]:
    """Turn a record already known to be valid for `fmt` into chat messages (role, content, weight)."""
    if fmt == "chat":
        out = []
        for m in record["messages"]:
            msg = {"role": m["role"], "content": content_text(m.get("content"))}
            if "weight" in m:
                msg["weight"] = m["weight"]
            if m.get("tool_calls"):
                msg["tool_calls"] = m["tool_calls"]
            out.append(msg)
        return out
    if fmt == "preference":
        inp = record.get("input", {})
        msgs = [{"role": m["role"], "content": content_text(m.get("content"))} for m in inp.get("messages", [])]
        preferred = record.get("preferred_output") or []
        msgs += [{"role": m["role"], "content": content_text(m.get("content"))} for m in preferred]
        return msgs
    if fmt == "alpaca":
        user = record["instruction"] if not record.get("input") else f"{record['instruction']}\n\n{record['input']}"
        msgs = [{"role": "system", "content": record["system"]}] if record.get("system") else []
        return msgs + [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]
    if fmt == "sharegpt":
        return [{"role": SHAREGPT_ROLES[t["from"]], "content": t.get("value") or ""} for t in record["conversations"]]
    raise ValueError(fmt)


def is_json_array(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"[")


def iter_raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw bytes) of a JSONL file, without ever holding more than one line."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            yield number, raw


def iter_json_array(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, element) of a JSON array file; the line is where the element starts."""
    text = path.read_text("utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TunewiseError(f"invalid JSON array ({exc.msg})", path=str(path), line=exc.lineno,
                            hint="fix the JSON, or convert the file to JSONL (one object per line)") from None
    if not isinstance(data, list):
        raise TunewiseError("a .json training file must hold a JSON array of examples", path=str(path), line=1)
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line = text.count("\n", 0, pos) + 1
    for element in data:
        # Recover each element's starting line by scanning to it; cheap next to json.loads itself.
        while pos < len(text) and text[pos] in " \t\r\n,":
            if text[pos] == "\n":
                line += 1
            pos += 1
        _, end = decoder.raw_decode(text, pos)
        yield line, element
        line += text.count("\n", pos, end)
        pos = end


def load_examples(path: str | Path, fmt: str | None = None) -> list[ChatExample]:
    """Read a training file that has passed validation into chat examples (train, split and eval use this)."""
    p = Path(path)
    if not p.is_file():
        raise TunewiseError("training file not found", path=str(p), hint="check the path")
    records: Iterator[tuple[int, Any]]
    if is_json_array(p):
        records = iter_json_array(p)
    else:
        records = ((n, json.loads(raw)) for n, raw in iter_raw_lines(p) if raw.strip())
    out = []
    try:
        for number, record in records:
            kind = fmt or detect_format(record)
            if kind is None:
                raise TunewiseError("record is in no known format", path=str(p), line=number,
                                    hint="run `tunewise validate` on the file for details")
            meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
            out.append(ChatExample(line=number, messages=to_messages(record, kind), metadata=meta))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise TunewiseError(f"cannot read the examples ({type(exc).__name__})", path=str(p),
                            hint="run `tunewise validate` on the file and fix what it reports") from None
    return out
