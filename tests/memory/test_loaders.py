"""Reading text, Markdown, HTML and PDF files; walking folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsdk.memory.errors import IngestError
from fusionsdk.memory.loaders import collect_files, load_file
from tests.memory.conftest import make_pdf


def test_markdown_title_and_front_matter(tmp_path: Path) -> None:
    file = tmp_path / "note.md"
    file.write_text("---\ntags: [a]\n---\nIntro line\n\n# The Title\n\nBody.\n")
    document = load_file(file)
    assert (document.kind, document.title) == ("markdown", "The Title")
    assert "tags" not in document.text and "Body." in document.text


def test_text_file_with_bom(tmp_path: Path) -> None:
    file = tmp_path / "plain.txt"
    file.write_bytes("\ufeffHello wörld".encode())
    document = load_file(file)
    assert (document.text, document.kind, document.title) == ("Hello wörld", "text", "plain")


def test_html_keeps_visible_text_only(docs: Path) -> None:
    document = load_file(docs / "nested" / "support.html")
    assert document.title == "Support" and document.kind == "html"
    assert "Customer support" in document.text and "8:00 to 17:00 & closed" in document.text
    assert "secret" not in document.text and "color" not in document.text
    assert "support@example.com" in document.text


def test_pdf_text(docs: Path) -> None:
    document = load_file(docs / "manual.pdf")
    assert document.kind == "pdf" and "Spare shades cost 19 euros." in document.text


def test_folders_are_walked_skipping_hidden_and_unknown_files(docs: Path) -> None:
    files = collect_files([docs, docs / "lamp.md"])
    assert sorted(f.name for f in files) == ["lamp.md", "manual.pdf", "returns.txt", "support.html"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("photo.png", b"\x89PNG", "unknown file type '.png'"),
        ("binary.txt", b"abc\x00def", "looks binary"),
        ("latin.txt", "caf\xe9".encode("latin-1"), "not UTF-8"),
        ("broken.pdf", b"%PDF-1.4 nonsense", "not a readable PDF"),
    ],
)
def test_unreadable_files_are_ingest_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    file = tmp_path / name
    file.write_bytes(content)
    with pytest.raises(IngestError, match=message):
        load_file(file)


def test_missing_paths_are_ingest_errors(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file"):
        load_file(tmp_path / "gone.md")
    with pytest.raises(IngestError, match="no such file or folder"):
        collect_files([tmp_path / "gone"])
    with pytest.raises(IngestError, match="at least one"):
        collect_files([])


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    source = tmp_path / "plain.pdf"
    source.write_bytes(make_pdf(["secret plans"]))
    writer = PdfWriter()
    writer.append(PdfReader(str(source)))
    writer.encrypt("pw")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as out:
        writer.write(out)
    with pytest.raises(IngestError, match="encrypted"):
        load_file(locked)
