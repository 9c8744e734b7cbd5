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

SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function_call": "assistant",
    "observation": "tool",
}


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
        """The first user turn's text, or "" when there is none."""
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
    """Return whether the file holds a JSON array: its first non-blank byte (after a BOM) in 4 KB is '['."""
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


ARRAY_CHUNK = 1 << 20  # characters read at a time
MAX_ELEMENT_CHARS = 64 * 1024 * 1024  # an element that does not parse within this much text is reported, not read on


def iter_json_array(
    path: Path, *, with_text: bool = False, chunk: int = ARRAY_CHUNK, max_element_chars: int = MAX_ELEMENT_CHARS
) -> Iterator[tuple]:
    """Yield (line number, element) of a JSON array file, where the line is the one its element starts on;
    with `with_text`, (line number, element, the element's JSON text as written).

    Streams: only the element being parsed and the chunk around it are held, so a 1 GB Alpaca export costs no
    more memory than a small one.
    """
    try:
        with path.open("r", encoding="utf-8-sig") as fh:
            yield from _JsonArrayReader(fh, path, with_text, chunk=chunk, max_element_chars=max_element_chars)
    except UnicodeDecodeError:
        raise TunewiseError("bytes that are not UTF-8", path=str(path), hint="re-save the file as UTF-8") from None


class _JsonArrayReader:
    _SPACE = " \t\r\n"

    def __init__(
        self,
        fh: Any,
        path: Path,
        with_text: bool = False,
        *,
        chunk: int = ARRAY_CHUNK,
        max_element_chars: int = MAX_ELEMENT_CHARS,
    ) -> None:
        self.fh, self.path, self.with_text = fh, path, with_text
        self.chunk, self.max_element_chars = chunk, max_element_chars
        self.text = ""
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        """Drop what was consumed and read another chunk; False once the file has ended."""
        # Read at least as much as is held: an element many chunks long is re-parsed a few times, not once a chunk.
        more = "" if self.eof else self.fh.read(max(self.chunk, len(self.buf) - self.pos))
        self.buf, self.pos = self.buf[self.pos :] + more, 0
        self.eof = self.eof or not more
        return bool(more)

    def _next_char(self) -> str:
        """Skip whitespace, counting lines; the next character, or "" at the end of the file."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in self._SPACE:
                self.line += buf[pos] == "\n"
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self._fill():
                return ""

    def _bad(self, message: str) -> TunewiseError:
        return TunewiseError(
            message,
            path=str(self.path),
            line=self.line,
            hint="fix the JSON, or convert the file to JSONL (one object per line)",
        )

    def _element(self) -> Any:
        while True:
            try:
                element, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # Out of text mid-element: read on. It is a real error once the file ends or the element is huge.
                if len(self.buf) - self.pos > self.max_element_chars:
                    raise self._bad(
                        f"an element runs past {self.max_element_chars >> 20} M characters without parsing ({exc.msg})"
                    ) from None
                if not self._fill():
                    raise self._bad(f"invalid JSON array ({exc.msg})") from None
                continue
            # A number cut by the chunk's end parses too soon ("-0." reads as -0): near the end, read on first.
            if not isinstance(element, (dict, list, str)) and len(self.buf) - end < 64 and not self.eof:
                self._fill()  # moves the buffer, so parse again either way
                continue
            if self.with_text:
                self.text = self.buf[self.pos : end]
            self.line += self.buf.count("\n", self.pos, end)
            self.pos = end
            return element

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        """Yield (line, element), or (line, element, its JSON text) with `with_text`; raise TunewiseError if broken."""
        if self._next_char() != "[":
            raise TunewiseError("a .json training file must hold a JSON array of examples", path=str(self.path), line=1)
        self.pos += 1
        if self._next_char() == "]":
            self.pos += 1
        else:
            while True:
                line = self.line
                element = self._element()
                yield (line, element, self.text) if self.with_text else (line, element)
                after = self._next_char()
                self.pos += 1
                if after == "]":
                    break
                if after != ",":
                    raise self._bad("invalid JSON array (expected ',' or ']' after an element)")
                self._next_char()
        if self._next_char():
            raise self._bad("text after the end of the JSON array")


def load_examples(path: str | Path, fmt: str | None = None) -> list[ChatExample]:
    """Read a training file that has passed validation into chat examples (train, split and eval use this)."""
    p = Path(path)
    if not p.is_file():
        if p.exists() and not p.is_dir():
            raise TunewiseError(
                "not a regular file (a pipe or a device)", path=str(p), hint="save the data to a file first"
            )
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
                raise TunewiseError(
                    "record is in no known format",
                    path=str(p),
                    line=number,
                    hint="run `tunewise validate` on the file for details",
                )
            meta = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
            out.append(ChatExample(line=number, messages=to_messages(record, kind), metadata=meta))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise TunewiseError(
            f"cannot read the examples ({type(exc).__name__})",
            path=str(p),
            hint="run `tunewise validate` on the file and fix what it reports",
        ) from None
    return out
