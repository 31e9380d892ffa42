"""Read text, Markdown, HTML and PDF files into plain text for ingestion.

HTML goes through the standard library's :class:`html.parser.HTMLParser` (scripts, styles and
hidden templates dropped); PDF through ``pypdf`` (``pip install 'fusionsdk[memory]'``). A folder
is walked recursively, keeping the files of a known type and skipping hidden ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from fusionsdk.memory.errors import IngestError

__all__ = ["SUPPORTED_SUFFIXES", "Document", "collect_files", "load_file"]


@dataclass(frozen=True)
class Document:
    """A file's text. ``kind`` is ``text``, ``markdown``, ``html`` or ``pdf``."""

    path: Path
    text: str
    kind: str
    title: str | None = None


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise IngestError(f"{path} looks binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise IngestError(f"{path} is not UTF-8 text (byte {err.start})") from None


def _load_text(path: Path) -> Document:
    return Document(path, _read_text(path), "text", path.stem)


_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _load_markdown(path: Path) -> Document:
    text = _FRONT_MATTER.sub("", _read_text(path))
    heading = _HEADING.search(text)
    return Document(path, text, "markdown", heading.group(1) if heading else path.stem)


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements become line breaks."""

    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    _BLOCK = frozenset(
        {
            "p",
            "div",
            "br",
            "li",
            "ul",
            "ol",
            "tr",
            "table",
            "section",
            "article",
            "header",
            "footer",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "pre",
            "blockquote",
            "hr",
            "dt",
            "dd",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skipping:
            self.parts.append(data)


def _load_html(path: Path) -> Document:
    parser = _TextExtractor()
    parser.feed(_read_text(path))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(parser.title).split()) or path.stem
    return Document(path, text, "html", title)


def _load_pdf(path: Path) -> Document:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:
        raise IngestError(f"reading {path} needs pypdf: pip install 'fusionsdk[memory]'") from None
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise IngestError(f"{path} is an encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except (PyPdfError, ValueError, KeyError, TypeError) as err:
        raise IngestError(f"{path} is not a readable PDF: {err}") from None
    return Document(path, "\n\n".join(p.strip() for p in pages if p.strip()), "pdf", str(title))


_LOADERS: dict[str, Callable[[Path], Document]] = {
    ".txt": _load_text,
    ".text": _load_text,
    ".rst": _load_text,
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".html": _load_html,
    ".htm": _load_html,
    ".pdf": _load_pdf,
}
#: File name endings :func:`load_file` reads.
SUPPORTED_SUFFIXES = frozenset(_LOADERS)


def load_file(path: str | Path) -> Document:
    """Read one file by its suffix.

    Raises:
        IngestError: Missing, unreadable, of an unknown type, or not decodable.
    """
    file = Path(path)
    loader = _LOADERS.get(file.suffix.lower())
    if loader is None:
        known = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise IngestError(f"cannot ingest {file}: unknown file type '{file.suffix}' (known: {known})")
    if not file.is_file():
        raise IngestError(f"no such file: {file}")
    try:
        return loader(file)
    except OSError as err:
        raise IngestError(f"cannot read {file}: {err.strerror}") from None


def collect_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files to ingest: each file as given, each folder's supported files (recursively,
    sorted, hidden ones skipped); each file once.

    Raises:
        IngestError: A path does not exist, or no path was given.
    """
    found: dict[Path, None] = {}
    given = list(paths)
    if not given:
        raise IngestError("give at least one file or folder to ingest")
    for item in given:
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.setdefault(child, None)
        elif path.is_file():
            found.setdefault(path, None)
        else:
            raise IngestError(f"no such file or folder: {path}")
    return list(found)
