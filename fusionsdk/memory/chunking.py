"""Token-based chunking with overlap, counted with tiktoken (offline; see
:mod:`fusionsdk.providers.tokens`).

A text is cut into windows of ``chunk_tokens`` tokens, each starting ``chunk_tokens - overlap``
tokens after the previous one, so a sentence cut at one window's end appears whole at the next
one's start. Windows are mapped back to character offsets, so chunks are exact slices of the
text (no broken characters). Without a tiktoken file at hand, words stand in for tokens (three
words for every four tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fusionsdk.errors import ConfigError
from fusionsdk.providers.tokens import encoding_for

__all__ = ["DEFAULT_CHUNK_TOKENS", "DEFAULT_OVERLAP", "TextChunk", "chunk_text"]

DEFAULT_CHUNK_TOKENS = 200
DEFAULT_OVERLAP = 40
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class TextChunk:
    """A slice of a text: ``text == source[start:end].strip()``; ``index`` counts from 0."""

    text: str
    index: int
    start: int
    end: int


def _check(chunk_tokens: object, overlap: object) -> tuple[int, int]:
    if isinstance(chunk_tokens, bool) or not isinstance(chunk_tokens, int) or chunk_tokens < 8:
        raise ConfigError(f"must be a whole number of at least 8, got {chunk_tokens!r}", path="chunk_tokens")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < chunk_tokens:
        raise ConfigError(
            f"must be a whole number from 0 to chunk_tokens - 1 ({chunk_tokens - 1}), got {overlap!r}",
            path="overlap",
        )
    return chunk_tokens, overlap


def _snap(index: int, boundary: list[bool], low: int, high: int, step: int) -> int:
    """Move ``index`` by ``step`` (at most 12 units, within [low, high]) to a word boundary."""
    for moved in range(13):
        candidate = index + moved * step
        if not low <= candidate <= high:
            break
        if candidate >= len(boundary) or boundary[candidate]:
            return candidate
    return index


def _windows(starts: list[int], text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Character spans of windows of ``size`` units (given each unit's start offset), their ends
    moved a little to word boundaries so no chunk starts or ends inside a word."""
    count = len(starts)
    boundary = [o == 0 or text[o].isspace() or text[o - 1].isspace() for o in starts]
    spans: list[tuple[int, int]] = []
    first = 0
    while first < count:
        last = min(first + size, count)
        if last < count:
            last = _snap(last, boundary, first + 1, count, -1)
        spans.append((starts[first], starts[last] if last < count else len(text)))
        if last == count:
            break
        following = max(first + 1, last - overlap)
        first = _snap(following, boundary, first + 1, last, 1)
    return spans


def _token_starts(text: str, model: str | None) -> tuple[list[int], int] | None:
    encoding = encoding_for(model)
    if encoding is None:
        return None
    tokens = encoding.encode(text, disallowed_special=())
    decoded, offsets = encoding.decode_with_offsets(tokens)
    if decoded != text:  # only for invalid surrogates; fall back to words
        return None
    return list(offsets), 1


def chunk_text(
    text: str,
    *,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
    model: str | None = None,
) -> list[TextChunk]:
    """Cut ``text`` into overlapping chunks of at most ``chunk_tokens`` tokens.

    Args:
        text: The text.
        chunk_tokens: Tokens per chunk (at least 8).
        overlap: Tokens shared by consecutive chunks (less than ``chunk_tokens``).
        model: Model whose tokenizer to count with (``cl100k_base`` by default).

    Raises:
        ConfigError: Bad sizes (the path names the argument).

    Example:
        >>> [c.index for c in chunk_text("word " * 500, chunk_tokens=200, overlap=40)]
        [0, 1, 2]
    """
    if not isinstance(text, str):
        raise ConfigError(f"chunk_text takes a string, got {type(text).__name__}")
    size, shared = _check(chunk_tokens, overlap)
    if not text.strip():
        return []
    counted = _token_starts(text, model)
    if counted is None:  # words instead of tokens
        starts = [m.start() for m in _WORD.finditer(text)]
        size, shared = max(1, size * 3 // 4), shared * 3 // 4
    else:
        starts = counted[0]
    chunks: list[TextChunk] = []
    for start, end in _windows(starts, text, size, min(shared, size - 1)):
        piece = text[start:end].strip()
        if piece:
            chunks.append(TextChunk(piece, len(chunks), start, end))
    return chunks
