"""Each loader on a small real file, and every way a file is skipped instead of failing the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.rag.loaders import Section, SkipFile, load


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A minimal valid PDF, one Helvetica text line per page (pypdf reads it; no PDF writer needed)."""
    n = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def test_markdown_sections_follow_headings_not_code_or_front_matter(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(
        "---\ntitle: Guide\n---\nIntro text.\n\n# Install\n\nRun pip.\n\n```bash\n# not a heading\npip install x\n```\n\n"
        "## Linux\n\nUse apt.\n\nSetup\n=====\n\nSetext title body.\n\nDetails\n-------\n\nMore.\n"
    )
    sections = load(doc)
    assert [s.heading for s in sections] == ["", "Install", "Install > Linux", "Setup", "Setup > Details"]
    assert sections[0].text == "Intro text."
    assert "# not a heading\npip install x" in sections[1].text and sections[1].text.startswith("# Install")
    assert "title: Guide" not in "".join(s.text for s in sections)


def test_plain_text_is_one_section(tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("first paragraph\n\nsecond paragraph\n")
    assert load(doc) == [Section("", "first paragraph\n\nsecond paragraph\n")]


def test_rst_levels_follow_first_use_of_each_adornment(tmp_path: Path) -> None:
    doc = tmp_path / "api.rst"
    doc.write_text(
        "=====\nTitle\n=====\n\nPreamble.\n\nUsage\n-----\n\nCall it.\n\nOptions\n~~~~~~~\n\nFlags.\n\nFAQ\n---\n\nAsk.\n"
    )
    assert [s.heading for s in load(doc)] == ["Title", "Title > Usage", "Title > Usage > Options", "Title > FAQ"]


def test_html_keeps_visible_text_only(tmp_path: Path) -> None:
    doc = tmp_path / "page.html"
    doc.write_text(
        "<html><head><title>T</title><style>body{color:red}</style><script>var secret = 1;</script></head>"
        "<body><h1>Refunds</h1><p>Refunds take <b>5&nbsp;days</b> &amp; need a receipt.</p>"
        "<noscript>enable js</noscript><h2>Exceptions</h2><ul><li>Sale items</li><li>Gift cards</li></ul></body></html>"
    )
    sections = load(doc)
    assert [s.heading for s in sections] == ["Refunds", "Refunds > Exceptions"]
    assert sections[0].text == "Refunds\n\nRefunds take 5 days & need a receipt."
    assert sections[1].text == "Exceptions\n\nSale items\n\nGift cards"
    text = " ".join(s.text for s in sections)
    assert "secret" not in text and "color" not in text and "enable js" not in text


def test_pdf_pages_become_sections(tmp_path: Path) -> None:
    doc = make_pdf(tmp_path / "manual.pdf", ["Warranty lasts two years.", "Returns within thirty days."])
    sections = load(doc)
    assert [s.heading for s in sections] == ["page 1", "page 2"]
    assert "Warranty lasts two years." in sections[0].text and "thirty days" in sections[1].text


def test_jsonl_records_are_sections(tmp_path: Path) -> None:
    doc = tmp_path / "faq.jsonl"
    doc.write_text(
        json.dumps({"title": "Shipping", "text": "Ships in 2 days."})
        + "\n\n"
        + json.dumps({"content": "Open 9-5."})
        + "\n"
    )
    assert load(doc) == [Section("Shipping", "Ships in 2 days."), Section("line 3", "Open 9-5.")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("image.png", b"\x89PNG", "unsupported file type '.png'"),
        ("Makefile", b"all:", "unsupported file type 'Makefile'"),
        ("empty.md", b"  \n\n", "no text to index"),
        ("latin1.txt", "café".encode("latin-1"), "not UTF-8 text (bad byte at offset 3)"),
        ("blob.txt", b"abc\x00\x01", "binary content, not text"),
        ("bad.jsonl", b'{"text": "ok"}\n{"text": oops}\n', "line 2: invalid JSON"),
        ("chat.jsonl", b'{"messages": []}\n', "line 1: no text field (looked for text, content, page_content, body)"),
        ("broken.pdf", b"%PDF-1.4\nnot really a pdf", "unreadable PDF"),
    ],
)
def test_unindexable_files_are_skipped_with_a_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    doc = tmp_path / name
    doc.write_bytes(content)
    with pytest.raises(SkipFile) as skipped:
        load(doc)
    assert str(skipped.value).startswith(reason)


def test_pdf_without_text_or_with_a_password_is_skipped(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    blank = PdfWriter()
    blank.add_blank_page(width=200, height=200)
    blank.write(tmp_path / "scan.pdf")
    with pytest.raises(SkipFile, match="no extractable text"):
        load(tmp_path / "scan.pdf")

    locked = PdfWriter(clone_from=PdfReader(make_pdf(tmp_path / "plain.pdf", ["secret plans"])))
    locked.encrypt("hunter2", algorithm="RC4-128")
    locked.write(tmp_path / "locked.pdf")
    with pytest.raises(SkipFile, match="encrypted PDF"):
        load(tmp_path / "locked.pdf")
