"""The streaming pass of `tunewise validate`: one `json.loads` per line, token counts, and compact per-example sketches.

A scan covers a byte range of the file so that two processes can share a large file; everything it keeps per
example is a few integers in `array`s, so memory stays flat however large the file is.
"""

from __future__ import annotations

import hashlib
import json
import re
from array import array
from dataclasses import dataclass, field

from tools.checks import CHECKERS
from tools.formats import content_text, detect_format

MAX_LINE_BYTES = 64 * 1024 * 1024  # longer lines are reported, not parsed: one line must not take the memory budget
NEAR_DUP_LIMIT = 300_000  # examples sketched for near-duplicates (16 int64 each = 38 MB at the limit)
MINHASHES = 16  # a bottom-k sketch: the k smallest shingle hashes (one permutation, k samples)
EMPTY = 2**63 - 1  # pads a sketch of a text with fewer than k shingles
_HUGE_TEXT = 1_000_000  # characters; longer texts are counted from a sample, to keep a 50 MB line fast

SPECIAL_RE = re.compile(r"<\|(?:endoftext|im_start|im_end|im_sep|fim_prefix|fim_middle|fim_suffix|endofprompt|startoftext|eot_id|start_header_id|end_header_id)\|>")
SECRET_RE = re.compile(
    rb"sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|ghp_[A-Za-z0-9]{36}"
    rb"|github_pat_[A-Za-z0-9_]{22,}|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_\-]{35}"
)
EMAIL_RE = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
DIGITS_RE = re.compile(rb"[0-9][0-9 ().-]{8,}[0-9]")
PHONE_RE = re.compile(r"^\+?(?:\d[ .\-]?)?\(?\d{3}\)?[ .\-]?\d{3}[ .\-]?\d{4}$")
NUMBERED_RE = re.compile(r"^\s*\d+[.)]\s", re.M)
BULLET_RE = re.compile(r"^\s*[-*•]\s", re.M)
STYLES = ("prose", "numbered", "bullets", "json")
# Per encoding: system prompt -> (tokens, stable hash). hash() of a tuple of ints, unlike of a str, is the same in
# every process and run, so it can key duplicates across the two scanning processes.
_system_caches: dict[str, dict[str, tuple[int, int]]] = {}


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _h64(text: str) -> int:
    """A 64-bit hash that is the same in every process and every run (str hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def style_of(answer: str) -> int:
    s = answer.strip()
    if s[:1] in "{[" and s[-1:] in "}]":
        return 3
    if NUMBERED_RE.search(s):
        return 1
    if BULLET_RE.search(s):
        return 2
    return 0


@dataclass
class ScanConfig:
    fmt: str
    encoding_name: str
    max_example_tokens: int
    hosted: bool
    max_issues: int = 1000


@dataclass
class Scan:
    """What one pass over a byte range found; `merge` joins the scans of consecutive ranges."""

    lines: int = 0
    examples: int = 0
    valid: int = 0
    issues: list = field(default_factory=list)  # (line, severity, code, message), capped per scan
    counts: dict = field(default_factory=dict)  # (severity, code) -> n
    tokens_total: int = 0
    tokens_trained: int = 0
    messages_total: int = 0
    ex_line: array = field(default_factory=lambda: array("q"))
    ex_tokens: array = field(default_factory=lambda: array("q"))
    ex_answer_tokens: array = field(default_factory=lambda: array("q"))
    ex_key: array = field(default_factory=lambda: array("q"))
    ex_prompt: array = field(default_factory=lambda: array("q"))
    ex_answer: array = field(default_factory=lambda: array("q"))
    ex_style: array = field(default_factory=lambda: array("b"))
    ex_minhash: array = field(default_factory=lambda: array("q"))
    systems: dict = field(default_factory=dict)  # system hash -> [count, tokens, first line]

    def add(self, line: int, severity: str, code: str, message: str, cap: int) -> None:
        key = (severity, code)
        self.counts[key] = self.counts.get(key, 0) + 1
        if len(self.issues) < cap:
            self.issues.append((line, severity, code, message))

    def merge(self, other: "Scan", line_offset: int) -> None:
        self.lines += other.lines
        self.examples += other.examples
        self.valid += other.valid
        self.issues.extend((ln + line_offset, s, c, m) for ln, s, c, m in other.issues)
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.tokens_total += other.tokens_total
        self.tokens_trained += other.tokens_trained
        self.messages_total += other.messages_total
        # Sketches cover a prefix of the examples: append the next range's only if this one sketched all of its own.
        if len(self.ex_minhash) == MINHASHES * len(self.ex_line):
            self.ex_minhash.extend(other.ex_minhash[: MINHASHES * max(0, NEAR_DUP_LIMIT - len(self.ex_line))])
        self.ex_line.extend(ln + line_offset for ln in other.ex_line)
        for name in ("ex_tokens", "ex_answer_tokens", "ex_key", "ex_prompt", "ex_answer", "ex_style"):
            getattr(self, name).extend(getattr(other, name))
        for key, (n, tok, first) in other.systems.items():
            if key in self.systems:
                self.systems[key][0] += n
            else:
                self.systems[key] = [n, tok, first + line_offset]


def scan_raw(raw: bytes, line: int, cfg: ScanConfig, scan: Scan) -> bool:
    """Checks on the raw line that need no parsing: secrets and PII (cheap substring tests gate each regex).

    Returns True when the line holds a secret that bars it from a hosted API (an error, not a warning)."""
    cap = cfg.max_issues
    leaked = False
    # Plain substring tests gate every regex: they are several times cheaper than a regex search of the line.
    if b"sk-" in raw or b"AKIA" in raw or b"PRIVATE KEY" in raw or b"ghp_" in raw or b"xox" in raw or b"AIza" in raw or b"github_pat_" in raw:
        found = SECRET_RE.search(raw)
        if found:
            shown = found.group()[:8].decode("ascii", "replace") + "…"
            sev = "error" if cfg.hosted else "warning"
            scan.add(line, sev, "secret", f"looks like a secret ({shown}); remove it before the data leaves your machine", cap)
            leaked = cfg.hosted
    if b"@" in raw and EMAIL_RE.search(raw):
        scan.add(line, "warning", "pii", "contains an email address", cap)
    if len(raw) - len(raw.translate(None, b"0123456789")) < 10:
        return leaked  # no phone or card number has fewer than 10 digits
    kinds = set()
    for match in DIGITS_RE.finditer(raw):
        text = match.group().decode("ascii", "ignore").strip()
        digits = "".join(ch for ch in text if ch.isdigit())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            kinds.add("what looks like a payment card number (passes the Luhn check)")
        elif 10 <= len(digits) <= 13 and PHONE_RE.match(text):
            kinds.add("a phone number")
    for kind in sorted(kinds):
        scan.add(line, "warning", "pii", f"contains {kind}", cap)
    return leaked


def _count(enc, text: str) -> int:
    if len(text) <= _HUGE_TEXT:
        return len(enc.encode_ordinary(text))
    sample = text[:_HUGE_TEXT]
    return int(len(enc.encode_ordinary(sample)) * len(text) / len(sample))


def scan_range(path: str, start: int, end: int, cfg: ScanConfig) -> Scan:
    """Scan the lines that begin in [start, end) of `path`; line numbers are relative to `start`."""
    from tools.tokens import get_encoding

    enc = get_encoding(cfg.encoding_name)
    checker = CHECKERS[cfg.fmt]
    scan = Scan()
    cap = cfg.max_issues
    with open(path, "rb") as fh:
        fh.seek(start)
        pos = start
        line = 0
        while pos < end:
            raw = fh.readline(MAX_LINE_BYTES)
            if not raw:
                break
            pos += len(raw)
            line += 1
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while True:  # skip the rest of an over-long line without holding it
                    more = fh.readline(MAX_LINE_BYTES)
                    pos += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                scan.examples += 1
                scan.add(line, "error", "invalid_json", f"line is longer than {MAX_LINE_BYTES >> 20} MB; split or shorten it", cap)
                continue
            if start == 0 and line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            scan.examples += 1
            try:
                record = json.loads(raw)
            except UnicodeDecodeError:
                scan.add(line, "error", "invalid_json", "bytes that are not UTF-8; re-save the file as UTF-8", cap)
                continue
            except ValueError as exc:
                scan.add(line, "error", "invalid_json", f"not valid JSON ({exc.msg} at column {exc.colno})", cap)
                continue
            leaked = scan_raw(raw, line, cfg, scan)
            problems: list = []
            kind = detect_format(record)
            if kind is not None and kind != cfg.fmt:
                scan.add(line, "error", "data_type", f"record looks like {kind}, but the file is {cfg.fmt}; use one format per file", cap)
                continue
            messages = checker(record, problems)
            for code, msg in problems:
                scan.add(line, "error", code, msg, cap)
            if messages is None or leaked:
                continue
            measure_example(messages, line, enc, cfg, scan, b"<|" in raw or b"\\u003c|" in raw)
    scan.lines = line
    return scan


def measure_example(messages: list, line: int, enc, cfg: ScanConfig, scan: Scan, maybe_special: bool = True) -> None:
    """Token counts (with the per-message overhead OpenAI's cookbook uses) and the quality sketches.

    This is the hot loop of `validate`: each text is encoded once, and its tokens serve the count, the trained
    count and the near-duplicate shingles alike.
    """
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    trained = 0
    answer_tokens = 0
    user_tokens: list[int] = []
    parts: list[str] = []
    answer = ""
    _system_cache = _system_caches.setdefault(cfg.encoding_name, {})
    for msg in messages:
        content = msg.get("content")
        text = content if type(content) is str else content_text(content)
        if maybe_special and "<|" in text and SPECIAL_RE.search(text):
            scan.add(line, "error", "special_token", "text contains a special token such as <|endoftext|>, which OpenAI rejects; remove or escape it", cfg.max_issues)
            return
        role = msg["role"]
        if role == "system" and text in _system_cache:
            toks = None
            n, system_key = _system_cache[text]
        else:
            toks = enc.encode_ordinary(text) if len(text) <= _HUGE_TEXT else None
            n = len(toks) if toks is not None else _count(enc, text)
            if role == "system" and len(_system_cache) < 256:
                # The same system prompt opens most examples: encode it once per process, not once per line.
                _system_cache[text] = (n, hash(tuple(toks)) if toks is not None else _h64(text))
        total += 4 + n  # 3 framing tokens plus the role
        if len(msg) > 2:
            if msg.get("name"):
                total += 1 + len(enc.encode_ordinary(str(msg["name"])))
            calls = msg.get("tool_calls") or msg.get("function_call")
            if calls:
                call_tokens = _count(enc, json.dumps(calls))
                total += call_tokens
                n += call_tokens
        if role == "assistant":
            if msg.get("weight", 1):
                trained += n
            answer, answer_tokens = text, n
        else:
            if role == "user" and toks is not None and len(user_tokens) < 4096:
                user_tokens += toks
            elif not parts and role == "system":
                key = _system_cache[text][1] if text in _system_cache else _h64(text)
                entry = scan.systems.get(key)
                if entry:
                    entry[0] += 1
                else:
                    scan.systems[key] = [1, n, line]
                # The prompt hash takes the system prompt's key, not its text: no re-normalising a long prompt per line.
                parts.append(f"system\0{key}")
                continue
            parts.append(role)
            parts.append(text)
    if total > cfg.max_example_tokens:
        scan.add(line, "error", "too_many_tokens", f"{total:,} tokens, over the model's {cfg.max_example_tokens:,} per example; shorten or split it", cfg.max_issues)
        return
    scan.valid += 1
    scan.messages_total += len(messages)
    scan.tokens_total += total
    scan.tokens_trained += trained
    prompt_h = _h64(_norm("\0".join(parts)))
    answer_h = _h64(_norm(answer))
    scan.ex_line.append(line)
    scan.ex_tokens.append(total)
    scan.ex_answer_tokens.append(answer_tokens)
    scan.ex_prompt.append(prompt_h)
    scan.ex_answer.append(answer_h)
    scan.ex_key.append(hash((prompt_h, answer_h)))
    scan.ex_style.append(style_of(answer))
    if len(scan.ex_line) <= NEAR_DUP_LIMIT:
        # Bottom-k MinHash over token-id trigrams of the user turns: one sort instead of k passes.
        toks = user_tokens
        hashes = sorted(set(map(hash, zip(toks, toks[1:], toks[2:]))) if len(toks) > 2 else {hash(tuple(toks))})[:MINHASHES]
        scan.ex_minhash.extend(hashes + [EMPTY] * (MINHASHES - len(hashes)))
