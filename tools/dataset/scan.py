"""The streaming pass of `tunewise validate`: one `json.loads` per line, token counts, and compact per-example sketches.

A scan covers a byte range of the file so that two processes can share a large file; everything it keeps per
example is a few integers in `array`s, so memory stays flat however large the file is.

Text hashes use Python's `hash()`. It is salted per interpreter, which is what we want: the scanning processes are
forked from one parent and share its salt, and no hash outlives the run.
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from tools.dataset.checks import CHECKERS, is_plain_chat
from tools.dataset.formats import content_text, detect_format
from tools.dataset.sketch import EMPTY, MINHASHES, PAD, USER_TOKENS, Sketcher

if TYPE_CHECKING:
    from tiktoken import Encoding

__all__ = [
    "EMPTY",
    "MINHASHES",
    "NEAR_DUP_LIMIT",
    "STYLES",
    "Scan",
    "ScanConfig",
    "ScanLimits",
    "Measurer",
    "scan_range",
    "scan_raw",
]

MAX_LINE_BYTES = 64 * 1024 * 1024  # longer lines are reported, not parsed: one line must not take the memory budget
# Examples sketched for near-duplicates: 16 uint32 each, 64 MB at the limit. With 2 million, a 1 GB file
# (1.8 million examples) peaked at 452 MB per process, over the 400 MB budget. A longer file is searched up to
# here, and validate says so (near_duplicate_horizon in --json, a line in the report).
NEAR_DUP_LIMIT = 1_000_000
_HUGE_TEXT = 1_000_000  # characters; longer texts are counted from a sample, to keep a 50 MB line fast
_SYSTEM_CACHE = 256  # distinct system prompts whose token counts are remembered
# Answers whose token count, norm_hash and style are remembered, per process: templated logs repeat their canned
# answers, and duplicated data its examples; a dict lookup costs ~0.2 µs where encoding an answer costs ~10 µs.
# When full, the cache keeps (up to half of it) the answers found in it again since it last filled: unique answers
# pass through, repeated ones stay. Answers over ANSWER_CACHE_CHARS are not kept: at most ~20 MB. A fill with under
# 1 hit in 64 answers (every answer different, as in most files) rests the cache for ANSWER_CACHE_REST answers, so
# that such files do not pay its lookups.
ANSWER_CACHE = 8192
ANSWER_CACHE_CHARS = 2000
ANSWER_CACHE_REST = 8 * ANSWER_CACHE

SPECIAL_RE = re.compile(
    r"<\|(?:endoftext|im_start|im_end|im_sep|fim_prefix|fim_middle|fim_suffix|endofprompt|startoftext|eot_id|start_header_id|end_header_id)\|>"
)
SECRET_RE = re.compile(
    rb"sk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|ghp_[A-Za-z0-9]{36}"
    rb"|github_pat_[A-Za-z0-9_]{22,}|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_\-]{35}"
)
EMAIL_RE = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# EMAIL_RE from its '@' on: an address exists where one local-part byte precedes an '@' this matches after. Searching
# for the literal '@' skips ahead at memchr speed, where EMAIL_RE tries its local part at every letter (~8 µs a line).
_EMAIL_TAIL_RE = re.compile(rb"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_EMAIL_LOCAL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
DIGITS_RE = re.compile(rb"[0-9][0-9 ().-]{8,}[0-9]")
# Every DIGITS_RE match is a run of 10+ bytes of [0-9 ().-]: with those bytes mapped to 1 and the rest to 0, a line
# without ten 1s in a row has none, and one translate and one substring test say so (DIGITS_RE.finditer: ~3.5 µs
# on a line of support text with order numbers).
_DIGIT_RUN_TABLE = bytes(49 if b in b"0123456789 ().-" else 48 for b in range(256))
_DIGIT_RUN = b"1" * 10
PHONE_RE = re.compile(r"^\+?(?:\d[ .\-]?)?\(?\d{3}\)?[ .\-]?\d{3}[ .\-]?\d{4}$")
NUMBERED_RE = re.compile(r"^\s*\d+[.)]\s", re.M)
BULLET_RE = re.compile(r"^\s*[-*•]\s", re.M)
STYLES = ("prose", "numbered", "bullets", "json")
_DIGITS = b"0123456789"


def _luhn(digits: str) -> bool:
    """Return whether a string of ASCII digits passes the Luhn checksum of payment card numbers."""
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_WHITESPACE = b" \t\n\r\x0b\x0c"


def norm_hash(text: str) -> int:
    """Return the hash of the text with case and whitespace ignored.

    Deleting the whitespace bytes costs a third of collapsing runs with split/join (one C pass, no word objects);
    texts that differ only in where their spaces fall are rare enough to count as duplicates.
    """
    return hash(text.lower().encode("utf-8", "surrogatepass").translate(None, _WHITESPACE))


def style_of(answer: str) -> int:
    """Return the answer's index into STYLES: json when it opens with { or [ and closes with } or ], else numbered
    or bullets when a line starts like a list item, else prose.
    """
    s = answer.strip()
    if s[:1] in "{[" and s[-1:] in "}]":
        return 3
    if NUMBERED_RE.search(s):
        return 1
    if BULLET_RE.search(s):
        return 2
    return 0


@dataclass(frozen=True)
class ScanLimits:
    """How much the streaming pass keeps: the defaults hold the memory targets; a test may shrink them."""

    near_dup_limit: int = NEAR_DUP_LIMIT  # examples sketched for near-duplicates; later ones are past the horizon
    answer_cache: int = ANSWER_CACHE  # answers whose measures are remembered
    answer_cache_chars: int = ANSWER_CACHE_CHARS  # longer answers are never kept
    answer_cache_rest: int = ANSWER_CACHE_REST  # answers measured without the cache after a fill with few hits


@dataclass
class ScanConfig:
    """What one scan checks against: the format, the target's encoding and limits, and what it may keep."""

    fmt: str
    encoding_name: str
    max_example_tokens: int
    hosted: bool
    max_issues: int = 1000
    limits: ScanLimits = field(default_factory=ScanLimits)


# Per-example arrays and their types: 45 bytes an example (a 1 GB file holds ~1.8 million).
EXAMPLE_ARRAYS = (
    ("ex_line", "q"),
    ("ex_tokens", "i"),
    ("ex_answer_tokens", "i"),
    ("ex_prompt", "q"),
    ("ex_answer", "q"),
    ("ex_style", "b"),
    ("ex_system", "q"),
    ("ex_system_tokens", "i"),
)


@dataclass
class Scan:
    """What one pass over a byte range found; tools.dataset.parallel_scan joins the scans of consecutive ranges."""

    lines: int = 0
    examples: int = 0
    valid: int = 0
    issues: list = field(default_factory=list)  # (line, severity, code, message), capped per scan
    counts: dict = field(default_factory=dict)  # (severity, code) -> n
    tokens_total: int = 0
    tokens_trained: int = 0
    messages_total: int = 0
    ex_line: array = field(default_factory=lambda: array("q"))
    ex_tokens: array = field(default_factory=lambda: array("i"))  # with overhead; over-limit examples are not kept
    ex_answer_tokens: array = field(default_factory=lambda: array("i"))
    ex_prompt: array = field(default_factory=lambda: array("q"))  # norm_hash of everything before the answer
    ex_answer: array = field(default_factory=lambda: array("q"))  # norm_hash of the final assistant turn
    ex_style: array = field(default_factory=lambda: array("b"))  # index into STYLES
    # The leading system prompt's hash (0: none) and tokens. Per example rather than a dict of prompts: a file
    # whose system prompt names each customer has as many prompts as examples.
    ex_system: array = field(default_factory=lambda: array("q"))
    ex_system_tokens: array = field(default_factory=lambda: array("i"))
    ex_minhash: array = field(default_factory=lambda: array("I"))  # MINHASHES per example, first NEAR_DUP_LIMIT only

    def add(self, line: int, severity: str, code: str, message: str, cap: int) -> None:
        """Count an issue under (severity, code), and keep it while fewer than `cap` issues are kept."""
        key = (severity, code)
        self.counts[key] = self.counts.get(key, 0) + 1
        if len(self.issues) < cap:
            self.issues.append((line, severity, code, message))

    def merge_totals(self, other: "Scan", line_offset: int) -> None:
        """Join everything but the per-example arrays, which tools.dataset.parallel_scan appends as they arrive."""
        self.lines += other.lines
        self.examples += other.examples
        self.valid += other.valid
        self.issues.extend((ln + line_offset, s, c, m) for ln, s, c, m in other.issues)
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.tokens_total += other.tokens_total
        self.tokens_trained += other.tokens_trained
        self.messages_total += other.messages_total

    def sketch_room(self, limit: int) -> int:
        """Return the sketch rows the next range may append: sketches cover a prefix of the examples, up to `limit`."""
        if len(self.ex_minhash) != MINHASHES * len(self.ex_line):
            return 0
        return max(0, limit - len(self.ex_line))


def _has_email(raw: bytes) -> bool:
    """Return whether EMAIL_RE.search(raw) finds an address, found from each '@' rather than from every letter."""
    at = raw.find(b"@", 1)
    while at > 0:
        if raw[at - 1] in _EMAIL_LOCAL and _EMAIL_TAIL_RE.match(raw, at):
            return True
        at = raw.find(b"@", at + 1)
    return False


def scan_raw(raw: bytes, line: int, cfg: ScanConfig, scan: Scan) -> bool:
    """Check the raw line for what needs no parsing: secrets and PII (cheap substring tests gate each regex).

    Return True when the line holds a secret that bars it from a hosted API (an error, not a warning).
    """
    cap = cfg.max_issues
    leaked = False
    # Single-byte tests run at memchr speed and gate the multi-byte ones (each ~3x dearer): every sk-/xox/PEM
    # secret has a '-', every GitHub token a '_', AWS keys a 'K', Google keys a 'z'.
    if (
        (b"-" in raw and (b"sk-" in raw or b"xox" in raw or b"PRIVATE KEY" in raw))
        or (b"_" in raw and (b"ghp_" in raw or b"github_pat_" in raw))
        or (b"K" in raw and b"AKIA" in raw)
        or (b"z" in raw and b"AIza" in raw)
    ):
        found = SECRET_RE.search(raw)
        if found:
            shown = found.group()[:8].decode("ascii", "replace") + "…"
            sev = "error" if cfg.hosted else "warning"
            scan.add(
                line,
                sev,
                "secret",
                f"looks like a secret ({shown}); remove it before the data leaves your machine",
                cap,
            )
            leaked = cfg.hosted
    if b"@" in raw and _has_email(raw):
        scan.add(line, "warning", "pii", "contains an email address", cap)
    if len(raw) - len(raw.translate(None, _DIGITS)) < 10 or _DIGIT_RUN not in raw.translate(_DIGIT_RUN_TABLE):
        return leaked  # no phone or card number has fewer than 10 digits, or fewer than 10 bytes in a row
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


class Measurer:
    """Token counts (with the per-message overhead OpenAI's cookbook uses) and the quality sketches of valid examples.

    This is the hot loop of `validate`: each text is encoded once, and its tokens serve the count, the trained
    count and the near-duplicate shingles alike. The leading system prompt, the same in most files, is encoded once.
    """

    def __init__(self, enc: Encoding, cfg: ScanConfig, scan: Scan) -> None:
        self.encode = enc.encode_ordinary
        self.cfg = cfg
        self.scan = scan
        limits = cfg.limits
        self.sketcher = Sketcher(scan.ex_minhash, limits.near_dup_limit)
        self.cache_size, self.cache_chars, self.cache_rest = (
            limits.answer_cache,
            limits.answer_cache_chars,
            limits.answer_cache_rest,
        )
        self.rests = 0  # times the answer cache rested: a fill found too few repeats
        self.system_cache: dict[str, tuple[int, int, str]] = {}  # system text -> (tokens, hash, its part of the prompt)
        self.answer_cache: dict[str, tuple[int, int, int]] = {}  # answer text -> (tokens, norm_hash, style)
        self.answers_again: set[str] = set()  # answers found in the cache since it last filled
        self.answer_hits = 0  # answers found in the cache since it last filled
        self.answers_uncached = 0  # answers still to measure without the cache, while it rests

    def _answer_cache_full(self) -> None:
        """Keep (up to half the cache) the answers found again since the last fill; rest the cache after few hits."""
        cache, again = self.answer_cache, self.answers_again
        self.answer_cache = {text: cache[text] for text, _ in zip(again, range(self.cache_size // 2))}
        self.answers_again = set()
        if self.answer_hits * 64 < self.cache_size:
            self.answers_uncached = self.cache_rest
            self.rests += 1
        self.answer_hits = 0

    def count(self, text: str) -> int:
        """Return the text's tokens; past _HUGE_TEXT characters, estimated from its first _HUGE_TEXT characters."""
        if len(text) <= _HUGE_TEXT:
            return len(self.encode(text))
        sample = text[:_HUGE_TEXT]
        return int(len(self.encode(sample)) * len(text) / len(sample))

    def finish(self) -> Scan:
        """Sketch the examples still buffered and return the scan."""
        self.sketcher.flush()
        return self.scan

    def __call__(self, messages: list[Any], line: int, maybe_special: bool = True) -> None:
        """Count one structurally valid example's tokens and record its sketches, or report it.

        An example with a special token (looked for only when `maybe_special`) or over the model's per-example limit
        is reported as an error and not kept.
        """
        scan, encode, cfg = self.scan, self.encode, self.cfg
        total = 3  # every reply is primed with <|start|>assistant<|message|>
        trained = answer_tokens = 0
        user_tokens: list[int] = []
        prompt: list[str] = []
        answer = ""
        answer_known = None  # the final answer's (tokens, norm_hash, style), when it was looked up whole
        system = system_tokens = 0
        for msg in messages:
            content = msg.get("content")
            text = content if type(content) is str else content_text(content)
            if maybe_special and "<|" in text and SPECIAL_RE.search(text):
                scan.add(
                    line,
                    "error",
                    "special_token",
                    "text contains a special token such as <|endoftext|>, which OpenAI rejects; remove or escape it",
                    cfg.max_issues,
                )
                return
            role = msg["role"]
            toks = known = None
            if role == "system":
                cached = self.system_cache.get(text)
                if cached is None:
                    # The prompt hash takes the system prompt's hash, not its text: no re-normalising it per line.
                    cached = (self.count(text), hash(text), f"\0system {hash(text)}")
                    if len(self.system_cache) < _SYSTEM_CACHE:
                        self.system_cache[text] = cached
                n, system_hash, system_part = cached
            elif len(text) > _HUGE_TEXT:
                n = self.count(text)
            elif role == "assistant":
                if self.answers_uncached:  # the cache rests: no lookup
                    self.answers_uncached -= 1
                    known = (len(encode(text)), norm_hash(text), style_of(text))
                elif (known := self.answer_cache.get(text)) is None:
                    known = (len(encode(text)), norm_hash(text), style_of(text))
                    if len(text) <= self.cache_chars:
                        if len(self.answer_cache) >= self.cache_size:
                            self._answer_cache_full()
                        self.answer_cache[text] = known
                else:
                    self.answers_again.add(text)
                    self.answer_hits += 1
                n = known[0]
            elif role == "user":
                toks = encode(text)
                n = len(toks)
            else:
                n = self.count(text)
            total += 4 + n  # 3 framing tokens plus the role
            if len(msg) > 2:
                if msg.get("name"):
                    total += 1 + len(encode(str(msg["name"])))
                calls = msg.get("tool_calls") or msg.get("function_call")
                if calls:
                    call_tokens = self.count(json.dumps(calls))
                    total += call_tokens
                    n += call_tokens
            if role == "assistant":
                if msg.get("weight", 1):
                    trained += n
                answer, answer_tokens, answer_known = text, n, known
            elif role == "user":
                if toks is not None and len(user_tokens) < USER_TOKENS:
                    user_tokens += toks[: USER_TOKENS - len(user_tokens)]
                prompt.append(text)
            elif role == "system" and not prompt:
                system, system_tokens = system_hash or 1, n
                prompt.append(system_part)
            else:
                prompt.append(f"\0{role}")
                prompt.append(text)
        if total > cfg.max_example_tokens:
            scan.add(
                line,
                "error",
                "too_many_tokens",
                f"{total:,} tokens, over the model's {cfg.max_example_tokens:,} per example; shorten or split it",
                cfg.max_issues,
            )
            return
        scan.valid += 1
        scan.messages_total += len(messages)
        scan.tokens_total += total
        scan.tokens_trained += trained
        scan.ex_line.append(line)
        scan.ex_tokens.append(total)
        scan.ex_answer_tokens.append(answer_tokens)
        scan.ex_prompt.append(norm_hash("\0".join(prompt)))
        if answer_known is None:
            answer_known = (answer_tokens, norm_hash(answer), style_of(answer))
        scan.ex_answer.append(answer_known[1])
        scan.ex_style.append(answer_known[2])
        scan.ex_system.append(system)
        scan.ex_system_tokens.append(system_tokens)
        sketcher = self.sketcher
        if sketcher.limit > len(sketcher.ends):
            if len(user_tokens) < 3 and user_tokens:
                user_tokens += [PAD] * (3 - len(user_tokens))
            sketcher.tokens.extend(user_tokens)
            sketcher.ends.append(len(sketcher.tokens))
            if sketcher.full():
                sketcher.flush()


def scan_range(path: str, start: int, end: int, cfg: ScanConfig) -> Scan:
    """Scan the lines that begin in [start, end) of `path`; line numbers are relative to `start`."""
    from tools.tokens import get_encoding

    checker = CHECKERS[cfg.fmt]
    scan = Scan()
    measure = Measurer(get_encoding(cfg.encoding_name), cfg, scan)
    cap = cfg.max_issues
    loads = json.loads
    chat = cfg.fmt == "chat"
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
                scan.add(
                    line,
                    "error",
                    "invalid_json",
                    f"line is longer than {MAX_LINE_BYTES >> 20} MB; split or shorten it",
                    cap,
                )
                continue
            if start == 0 and line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if raw.isspace() or not raw:
                continue
            scan.examples += 1
            try:
                # Decoding first is faster than json.loads(bytes), which sniffs for UTF-16 and UTF-32.
                record = loads(raw.decode())
            except UnicodeDecodeError:
                scan.add(line, "error", "invalid_json", "bytes that are not UTF-8; re-save the file as UTF-8", cap)
                continue
            except json.JSONDecodeError as exc:
                scan.add(line, "error", "invalid_json", f"not valid JSON ({exc.msg} at column {exc.colno})", cap)
                continue
            except RecursionError:
                scan.add(line, "error", "invalid_json", "JSON nested too deeply to parse; flatten the record", cap)
                continue
            except ValueError as exc:  # json refuses integers over 4,300 digits (CPython's int limit)
                scan.add(line, "error", "invalid_json", f"not readable as JSON ({exc}); shorten the number", cap)
                continue
            leaked = scan_raw(raw, line, cfg, scan)
            if chat and type(record) is dict and is_plain_chat(messages := record.get("messages")):
                # The common case, checked in one pass: text messages with plain roles and an assistant turn.
                if not leaked:
                    measure(messages, line, b"|" in raw and (b"<|" in raw or b"\\u003c|" in raw))
                continue
            kind = detect_format(record)
            if kind is not None and kind != cfg.fmt:
                scan.add(
                    line,
                    "error",
                    "data_type",
                    f"record looks like {kind}, but the file is {cfg.fmt}; use one format per file",
                    cap,
                )
                continue
            problems: list = []
            messages = checker(record, problems)
            for code, msg in problems:
                scan.add(line, "error", code, msg, cap)
            if messages is None or leaked:
                continue
            measure(messages, line, b"|" in raw and (b"<|" in raw or b"\\u003c|" in raw))
    scan.lines = line
    return measure.finish()


def scan_records(elements: Iterable[tuple[int, Any, str]], cfg: ScanConfig) -> Scan:
    """Scan parsed records given as (line, record, JSON text), as they stream: the elements of a JSON-array file."""
    from tools.tokens import get_encoding

    checker = CHECKERS[cfg.fmt]
    scan = Scan()
    measure = Measurer(get_encoding(cfg.encoding_name), cfg, scan)
    line = 0
    for line, record, text in elements:
        scan.examples += 1
        leaked = scan_raw(text.encode("utf-8", "surrogatepass"), line, cfg, scan)
        problems: list = []
        messages = checker(record, problems)
        for code, msg in problems:
            scan.add(line, "error", code, msg, cfg.max_issues)
        if messages is not None and not leaked:
            measure(messages, line)
    scan.lines = line
    return measure.finish()
