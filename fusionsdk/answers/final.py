"""Finding the final answer in a reply, whatever its format.

Models end their replies in many ways; :func:`final_answer` tries them in this order and the
first that holds an answer wins:

1. ``json``: the ``answer`` field of a JSON reply, even when the JSON is invalid (unescaped
   LaTeX, raw newlines, a code fence around it). A reply that *is* a JSON object but has no
   ``answer`` field (a truncated one, say) has no answer at all.
2. ``boxed``: the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced.
3. ``assert``: the right-hand side of the last ``assert <call> == X``.
4. ``statement``: the last "the answer is X", "Final answer: X", "the output is X", ...
5. ``fence``: the content of the last Markdown code fence.
6. ``line``: the last non-empty line.

Example:
    >>> final_answer('{"reasoning": "\\\\frac{a}{b} ...", "answer": 5}').text
    '5'
    >>> final_answer("```python\\nassert f('ab') == 'ba'\\n```").text
    "'ba'"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fusionsdk.answers.json_field import answer_field
from fusionsdk.answers.normalize import FENCE

__all__ = ["Found", "Source", "boxed_contents", "final_answer"]

#: Where an answer was found in a reply.
Source = Literal["json", "boxed", "assert", "statement", "fence", "line"]

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ASSERT = re.compile(r"^\s*assert\s+(?P<left>.+?)\s*==\s*(?P<right>.+?)\s*(?:#.*)?$", re.MULTILINE)
_STATEMENT = re.compile(
    r"\b(?:final\s+answer|answer|output|result)\W{0,3}\s*"
    r"(?:(?:is|would\s+be|will\s+be|should\s+be)\b\s*:?|[=:])\s*(?P<value>[^\n]*)",
    re.IGNORECASE,
)
_WRAPPING = " \t*_`"


@dataclass(frozen=True)
class Found:
    """An answer found in a reply: its text and where it was found."""

    text: str
    source: Source


def boxed_contents(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` in ``text`` (nested braces kept), or None.

    Example:
        >>> boxed_contents("so $\\\\boxed{\\\\frac{1}{2}}$.")
        '\\\\frac{1}{2}'
    """
    starts = [m.end() for m in _BOXED.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for index in range(start, len(text)):
            char = text[index]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return text[start:index].strip()
    return None


def _is_json_object(text: str) -> bool:
    body = text.strip()
    match = FENCE.fullmatch(body)
    if match:
        body = match.group(1).strip()
    return body.startswith("{")


def _statement(text: str) -> str | None:
    for match in reversed(list(_STATEMENT.finditer(text))):
        value = match.group("value").strip(_WRAPPING)
        value = re.sub(r"[.。]\s*$", "", value).strip(_WRAPPING)
        if value:
            return value
    return None


def final_answer(reply: str) -> Found | None:
    """The final answer of ``reply`` and where it was found (see the module docstring), or
    None when the reply is empty or is a JSON object without an ``answer`` field."""
    if not reply.strip():
        return None
    field = answer_field(reply)
    if field is not None:
        return Found(field.strip(), "json") if field.strip() else None
    if _is_json_object(reply):
        return None  # a JSON reply without its answer: cut off, or no answer given
    boxed = boxed_contents(reply)
    if boxed:
        return Found(boxed, "boxed")
    asserts = _ASSERT.findall(reply)
    if asserts:
        return Found(asserts[-1][1].rstrip("`").strip(), "assert")
    statement = _statement(reply)
    if statement:
        return Found(statement, "statement")
    fences = [block.strip() for block in FENCE.findall(reply) if block.strip()]
    if fences:
        return Found(fences[-1], "fence")
    lines = [line.strip(_WRAPPING) for line in reply.strip().splitlines() if line.strip(_WRAPPING)]
    return Found(lines[-1], "line") if lines else None
