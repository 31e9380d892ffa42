"""Text normalisation shared by every answer type: NFKC, case, digits of any script, fences."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["FENCE", "fold_digits", "normalize_text", "strip_code_fence"]

#: A Markdown code fence; group 1 is its content.
FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)```", re.DOTALL)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b", re.IGNORECASE)
_TRAILING = ".,;:!?。"
# Decimal and thousands separators of Arabic script, which NFKC leaves alone.
_SEPARATORS = str.maketrans({"٫": ".", "٬": ",", "−": "-"})


def normalize_text(
    text: str,
    *,
    ignore_case: bool = True,
    strip_articles: bool = False,
    strip_punctuation: bool = False,
) -> str:
    """Normalise an answer for comparison.

    Applies NFKC, optionally case-folds, drops punctuation and the English articles, collapses
    whitespace and removes trailing punctuation (``"Paris."`` becomes ``"paris"``).

    Example:
        >>> normalize_text("  The  Eiffel Tower. ", strip_articles=True)
        'eiffel tower'
    """
    text = unicodedata.normalize("NFKC", text)
    if ignore_case:
        text = text.casefold()
    if strip_punctuation:
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    if strip_articles:
        text = _ARTICLES.sub(" ", text)
    return " ".join(text.split()).rstrip(_TRAILING).rstrip()


def fold_digits(text: str) -> str:
    """``text`` with the decimal digits of every script (Arabic-Indic ``٣``, Devanagari ``३``,
    full-width ``３``) written as ASCII digits, and the Arabic decimal separator as ``.``.

    Example:
        >>> fold_digits("٣٫٥")
        '3.5'
    """
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.digit(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text
    ).translate(_SEPARATORS)


def strip_code_fence(text: str) -> str:
    """The content of the first Markdown code fence in ``text``, or ``text`` when it has none."""
    match = FENCE.search(text)
    return match.group(1) if match else text
