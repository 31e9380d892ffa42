"""Memory tests: stores on the fake embedder, sample documents, a tiny PDF writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fusionsdk.memory.stores.chroma import EphemeralChromaStore, PersistentChromaStore
from fusionsdk.testing import FakeEmbedder

LAMP = """# Lumen lamp

The Lumen desk lamp has a 3-year warranty covering the LED module and the electronics.
It draws 9 watts and offers five brightness levels.
"""
RETURNS = "Returns are accepted within 45 days of delivery in the original packaging.\n"
SUPPORT_HTML = """<html><head><title>Support</title><style>p {color: red}</style>
<script>var secret = "do not index";</script></head>
<body><h1>Customer support</h1><p>The desk is open Monday to Friday, 8:00 to 17:00 &amp; closed
on holidays.</p><ul><li>E-mail: support@example.com</li></ul></body></html>
"""


def make_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF with ``lines`` of Helvetica text (what pypdf's extractor reads)."""
    text = " ".join(
        f"BT /F1 12 Tf 72 {720 - 16 * i} Td ({line.replace('(', '[').replace(')', ']')}) Tj ET"
        for i, line in enumerate(lines)
    ).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder with a Markdown, a text, an HTML and a PDF file (and a hidden and an unknown one)."""
    folder = tmp_path / "docs"
    (folder / "nested").mkdir(parents=True)
    (folder / "lamp.md").write_text(LAMP)
    (folder / "returns.txt").write_text(RETURNS)
    (folder / "nested" / "support.html").write_text(SUPPORT_HTML)
    (folder / "manual.pdf").write_bytes(make_pdf(["Spare shades cost 19 euros.", "Order them by phone."]))
    (folder / ".hidden.md").write_text("hidden notes")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    return folder


@pytest.fixture
def store() -> Iterator[EphemeralChromaStore]:
    """An empty in-memory store on the fake embedder."""
    with EphemeralChromaStore({"collection": "tests"}, embedder=FakeEmbedder()) as opened:
        yield opened  # type: ignore[misc]


@pytest.fixture
def disk_store(tmp_path: Path) -> Iterator[PersistentChromaStore]:
    """An empty on-disk store on the fake embedder."""
    with PersistentChromaStore({"path": str(tmp_path / "store")}, embedder=FakeEmbedder()) as opened:
        yield opened  # type: ignore[misc]
