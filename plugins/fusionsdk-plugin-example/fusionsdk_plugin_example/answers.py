"""Helpers both strategies share: when two answers count as the same, and which weights are valid."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate

__all__ = ["answer_key", "check_weights"]

_TRAILING_PUNCTUATION = ".!?;:,"


def answer_key(text: str, *, case_sensitive: bool = False) -> str:
    """The form in which answers are compared: whitespace collapsed, trailing punctuation dropped.

    Args:
        text: An answer.
        case_sensitive: Keep case (``Paris`` and ``paris`` then differ).

    Example:
        >>> answer_key("  The answer is   Paris. ")
        'the answer is paris'
    """
    key = " ".join(text.split()).rstrip(_TRAILING_PUNCTUATION)
    return key if case_sensitive else key.casefold()


def check_weights(candidates: Sequence[Candidate], plugin: str) -> None:
    """Refuse weights that cannot be voted with (negative, infinite, not a number).

    Raises:
        FusionError: Naming the plugin, the model and its weight.
    """
    for candidate in candidates:
        if not math.isfinite(candidate.weight) or candidate.weight < 0:
            raise FusionError(
                f"{plugin}: candidate '{candidate.model}' has weight {candidate.weight}; "
                "weights must be finite and not negative"
            )
