"""Helpers the embedders share: input checks and L2 normalisation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fusionsdk.memory.errors import EmbedderError

__all__ = ["check_texts", "normalise"]


def check_texts(texts: Any) -> list[str]:
    """``texts`` as a list of strings; a bare string or a non-string item is an EmbedderError."""
    if isinstance(texts, str | bytes):
        raise EmbedderError("embed takes a list of texts, not a single string")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise EmbedderError(f"texts[{i}] is a {type(text).__name__}, not a string")
    return items


def normalise(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to unit length (a zero vector is returned as is), as Python floats."""
    values = [float(v) for v in vector]
    norm = math.sqrt(sum(v * v for v in values))
    if not math.isfinite(norm):
        raise EmbedderError("the model returned a vector with non-finite values")
    return [v / norm for v in values] if norm else values
