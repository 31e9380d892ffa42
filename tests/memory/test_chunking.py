"""Token chunking with overlap."""

from __future__ import annotations

import itertools

import pytest

from fusionsdk.errors import ConfigError
from fusionsdk.memory import chunking
from fusionsdk.memory.chunking import chunk_text
from fusionsdk.providers.tokens import count_tokens


def test_short_text_is_one_chunk_and_blank_text_none() -> None:
    [only] = chunk_text("  A short note.  ")
    assert (only.text, only.index, only.start) == ("A short note.", 0, 0)
    assert chunk_text("") == [] and chunk_text(" \n\t ") == []


def test_windows_respect_the_size_and_overlap() -> None:
    text = " ".join(f"word{i}" for i in range(600))
    chunks = chunk_text(text, chunk_tokens=100, overlap=20)
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 100 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after.start < before.end, "consecutive chunks overlap"
        shared = text[after.start : before.end]
        assert 5 <= count_tokens(shared) <= 30
    assert chunks[-1].text.endswith("word599")
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_chunks_are_exact_slices_that_do_not_split_words() -> None:
    text = "Déjà vu über naïve café résumé. " * 80
    for chunk in chunk_text(text, chunk_tokens=40, overlap=8):
        assert chunk.text == text[chunk.start : chunk.end].strip()
        assert "\ufffd" not in chunk.text
        assert chunk.start == 0 or text[chunk.start - 1].isspace() or text[chunk.start].isspace()


def test_words_stand_in_without_a_tiktoken_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunking, "encoding_for", lambda model: None)
    chunks = chunk_text(" ".join(["alpha"] * 300), chunk_tokens=100, overlap=20)
    assert len(chunks) == 5 and all(len(c.text.split()) <= 75 for c in chunks)  # 75 words, step 60


@pytest.mark.parametrize(
    ("size", "overlap", "path"),
    [
        (0, 0, "chunk_tokens"),
        (4, 0, "chunk_tokens"),
        (True, 0, "chunk_tokens"),
        ("100", 0, "chunk_tokens"),
        (100, 100, "overlap"),
        (100, -1, "overlap"),
        (100, 2.5, "overlap"),
    ],
)
def test_bad_sizes_are_config_errors(size: object, overlap: object, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        chunk_text("some text", chunk_tokens=size, overlap=overlap)  # type: ignore[arg-type]
    assert info.value.path == path


def test_text_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="takes a string"):
        chunk_text(b"bytes")  # type: ignore[arg-type]
