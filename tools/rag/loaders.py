"""Turn documents into titled sections of plain text: Markdown, text, reStructuredText, HTML, PDF and JSONL."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path


@dataclass(frozen=True)
class Section:
    """A run of text under one heading; chunks never straddle two sections."""

    heading: str
    text: str


class SkipFile(Exception):
    """This file cannot be indexed; the message is the reason shown to the user."""


# JSONL records carry their text under one of these keys, checked in this order.
TEXT_FIELDS = ("text", "content", "page_content", "body")


def load(path: Path) -> list[Section]:
    """Read `path` into sections, or raise SkipFile saying why it cannot be indexed."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise SkipFile(f"unsupported file type '{path.suffix or path.name}'")
    try:
        sections = loader(path)
    except OSError as exc:
        raise SkipFile(f"unreadable: {exc.strerror or exc}") from None
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise SkipFile("no text to index")
    return sections


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise SkipFile("binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not UTF-8 text (bad byte at offset {exc.start}); convert it to UTF-8") from None


def _crumbs(stack: list[tuple[int, str]]) -> str:
    return " > ".join(title for _, title in stack)


def _flush(sections: list[Section], stack: list[tuple[int, str]], body: list[str]) -> None:
    """Close the lines gathered under the current heading into a section (none if they are blank)."""
    if any(line.strip() for line in body):
        sections.append(Section(_crumbs(stack), "\n".join(body).strip("\n")))
    body.clear()


def _push(stack: list[tuple[int, str]], level: int, title: str) -> None:
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, title))


def load_text(path: Path) -> list[Section]:
    """Read a plain-text file (UTF-8) as one untitled section."""
    return [Section("", _read_text(path))]


_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def load_markdown(path: Path) -> list[Section]:
    """Split on ATX (`## Title`) and setext (`Title` over `===`/`---`) headings, ignoring fenced code."""
    lines = _read_text(path).splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter is metadata, not prose
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), None)
        if end is not None:
            lines = lines[end + 1 :]
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    in_fence = False

    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        atx = None if in_fence else _ATX.match(line)
        setext = (
            not in_fence
            and line.strip()
            and not line.startswith(("    ", "\t", "-", "*", ">"))
            and (not body or not body[-1].strip())
            and re.fullmatch(r"\s*(=+|-+)\s*", nxt)
        )
        if atx:
            _flush(sections, stack, body)
            _push(stack, len(atx.group(1)), atx.group(2))
            body.append(line)
        elif setext:
            _flush(sections, stack, body)
            _push(stack, 1 if nxt.strip().startswith("=") else 2, line.strip())
            body.append(line)
            i += 1  # the underline belongs to the heading
        else:
            body.append(line)
        i += 1
    _flush(sections, stack, body)
    return sections


_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")


def load_rst(path: Path) -> list[Section]:
    """Split on reStructuredText titles; levels follow the order adornment styles first appear in."""
    lines = _read_text(path).splitlines()
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    styles: list[tuple[str, bool]] = []
    body: list[str] = []

    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        over = _ADORNMENT.match(line)
        if over and i + 2 < len(lines) and lines[i + 1].strip() and lines[i + 2].strip() == line.strip():
            title, style, step = lines[i + 1].strip(), (line.strip()[0], True), 3
        elif (
            line.strip()
            and not _ADORNMENT.match(line)
            and _ADORNMENT.match(nxt)
            and len(nxt.strip()) >= len(line.strip())
        ):
            title, style, step = line.strip(), (nxt.strip()[0], False), 2
        else:
            body.append(line)
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        _flush(sections, stack, body)
        _push(stack, styles.index(style) + 1, title)
        body.append(title)
        i += step
    _flush(sections, stack, body)
    return sections


class _HTMLText(HTMLParser):
    """Collect visible text by heading; scripts, styles and other non-prose elements are dropped."""

    SKIP = {"script", "style", "noscript", "template", "svg", "title", "iframe", "object"}
    BLOCK = {
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "br",
        "tr",
        "td",
        "th",
        "table",
        "section",
        "article",
        "pre",
        "blockquote",
        "hr",
        "dd",
        "dt",
        "figcaption",
        "main",
        "header",
        "footer",
        "nav",
        "aside",
        "form",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.parts: list[str] = []
        self.skip_depth = 0
        self.heading: list[str] | None = None
        self.level = 0
        self.in_pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip_depth += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.flush()
            self.heading, self.level = [], int(tag[1])
        elif tag in self.BLOCK:
            self.parts.append("\n\n" if tag != "br" else "\n")
        self.in_pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif re.fullmatch(r"h[1-6]", tag) and self.heading is not None:
            title = " ".join("".join(self.heading).split())
            self.heading = None
            if title:
                _push(self.stack, self.level, title)
                self.parts.append(title + "\n\n")
        elif tag in self.BLOCK and tag != "br":
            self.parts.append("\n\n")
        if tag == "pre":
            self.in_pre = max(0, self.in_pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        target = self.heading if self.heading is not None else self.parts
        target.append(data if self.in_pre else re.sub(r"\s+", " ", data))

    def flush(self) -> None:
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", "".join(self.parts))]
        text = "\n\n".join(p for p in paragraphs if p)
        if text:
            self.sections.append(Section(_crumbs(self.stack), text))
        self.parts = []


def load_html(path: Path) -> list[Section]:
    """Split an HTML page's visible text on its headings; scripts, styles and other non-prose elements are dropped."""
    parser = _HTMLText()
    parser.feed(_read_text(path))
    parser.close()
    parser.flush()
    return parser.sections


def load_pdf(path: Path) -> list[Section]:
    """Read one section per page, headed `page N`, so an answer can cite where a passage came from."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("encrypted PDF; decrypt it first (e.g. qpdf --decrypt)")
        pages = [Section(f"page {n}", page.extract_text() or "") for n, page in enumerate(reader.pages, 1)]
    except SkipFile:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed PDF can make pypdf raise almost anything
        raise SkipFile(f"unreadable PDF ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not any(p.text.strip() for p in pages):
        raise SkipFile("no extractable text (a scanned PDF? run OCR first)")
    return pages


def load_jsonl(path: Path) -> list[Section]:
    """Read one section per record; a bad line skips the whole file so it is never half-indexed."""
    sections = []
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SkipFile(f"line {n}: invalid JSON ({exc.msg})") from None
        field = next((k for k in TEXT_FIELDS if isinstance(record, dict) and isinstance(record.get(k), str)), None)
        if field is None:
            raise SkipFile(f"line {n}: no text field (looked for {', '.join(TEXT_FIELDS)})")
        title = record.get("title")
        sections.append(Section(title if isinstance(title, str) and title.strip() else f"line {n}", record[field]))
    return sections


LOADERS = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".text": load_text,
    ".rst": load_rst,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".jsonl": load_jsonl,
}
