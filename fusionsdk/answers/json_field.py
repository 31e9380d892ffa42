"""``json_field`` answers: the ``answer`` field of a JSON reply."""

from __future__ import annotations

import json
import re
from typing import Any

from fusionsdk.answers.base import AnswerType
from fusionsdk.answers.normalize import FENCE, normalize_text
from fusionsdk.plugin import PluginOptions

__all__ = ["JsonFieldAnswer", "answer_field", "json_field_key"]

# The "answer" field of a reply that is almost, but not quite, JSON (unescaped LaTeX, newlines).
_ANSWER_FIELD = re.compile(r'"answer"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s][^,}\n]*)', re.IGNORECASE)


def answer_field(text: str) -> str | None:
    """The ``answer`` field of a JSON reply such as ``{"reasoning": "...", "answer": "18"}``.

    The JSON may sit inside a Markdown code fence or after some prose; when a reply holds several
    JSON objects, the last one with an answer wins. A number or other
    non-string value comes back as its JSON text (``18`` -> ``"18"``), ``null`` as ``""``.
    Replies that are not valid JSON (unescaped LaTeX, raw newlines) are read with a pattern.

    Returns:
        The field as text, or None when ``text`` holds no ``answer`` field.
    """
    if '"answer"' not in text.lower():  # cheap exit for ordinary prose
        return None
    for block in [*reversed(FENCE.findall(text)), text]:  # the last answer given is final
        start, end = block.find("{"), block.rfind("}")
        if start == -1 or end <= start:
            continue
        try:
            data = json.loads(block[start : end + 1])
        except (ValueError, RecursionError):
            continue
        found = _answer_value(data)
        if found is not None:
            return found
    matches = _ANSWER_FIELD.findall(text)
    if not matches:
        return None
    raw = matches[-1].strip()
    if raw.startswith('"'):
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw.strip('"')
    return raw


def _answer_value(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if isinstance(key, str) and key.strip().lower() == "answer":
            if value is None:
                return ""
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return None


def json_field_key(text: str) -> str | None:
    """The canonical key of a ``json_field`` answer: the normalised ``answer`` field, or None
    when the reply has none."""
    field = answer_field(text)
    return normalize_text(field) if field is not None else None


class JsonFieldAnswer(AnswerType[PluginOptions]):
    """The ``answer`` field of a JSON reply (:func:`answer_field`, invalid JSON included), as
    normalised text; a reply without one has no answer.

    Example:
        >>> JsonFieldAnswer().key('```json\\n{"reasoning": "\\\\frac{1}{2}", "answer": "Paris"}\\n```')
        'paris'
    """

    def extract(self, reply: str) -> str | None:
        return answer_field(reply)

    def canonical(self, answer: str) -> str | None:
        return normalize_text(answer)
