"""``python_literal``: equality of Python literals (lists, dicts, tuples, numbers, strings)."""

from __future__ import annotations

import ast
from typing import Any

from fusionsdk.answers import strip_code_fence
from fusionsdk.eval.scorers._common import TextScorer
from fusionsdk.plugin import PluginOptions

__all__ = ["PythonLiteralScorer"]

#: What :func:`_parse` returns for text that is not a literal (None is one: ``"None"``).
_NOT_A_LITERAL = object()


def _parse(text: str) -> Any:
    """``ast.literal_eval`` of ``text``, or of its first code fence."""
    try:
        return ast.literal_eval(strip_code_fence(text).strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_A_LITERAL


class PythonLiteralScorer(TextScorer):
    """1 when prediction and reference are equal Python literals, else 0.

    Both are read with :func:`ast.literal_eval` (never ``eval``), so spacing and quoting do not
    matter: ``"[1,2]"`` equals ``"[1, 2]"`` and ``"{'a':1}"`` equals ``'{"a": 1}'``. Comparison is
    structural: ``True`` is not ``1`` and a tuple is not a list unless ``tuples_as_lists``; ints
    and floats compare by value. A prediction that does not parse scores 0. A reference that
    does not parse is compared as stripped text instead.

    Example:
        >>> PythonLiteralScorer().score("{ 'a':1 }", "{'a': 1}")
        1.0
        >>> PythonLiteralScorer({"tuples_as_lists": True}).score("(1, 2)", "[1, 2]")
        1.0
    """

    class Options(PluginOptions):
        """Options of python_literal.

        Attributes:
            tuples_as_lists: A tuple equals a list with the same items.
        """

        tuples_as_lists: bool = False

    def _score(self, prediction: str, reference: str) -> float:
        expected = _parse(reference)
        if expected is _NOT_A_LITERAL:
            return float(prediction.strip() == reference.strip())
        got = _parse(prediction)
        return float(got is not _NOT_A_LITERAL and self._equal(got, expected))

    def _equal(self, a: Any, b: Any) -> bool:
        if isinstance(a, bool) or isinstance(b, bool):
            return type(a) is type(b) and a == b
        loose = self.options.tuples_as_lists  # type: ignore[attr-defined]
        if isinstance(a, list | tuple) and isinstance(b, list | tuple):
            same_kind = type(a) is type(b) or loose
            return same_kind and len(a) == len(b) and all(map(self._equal, a, b))
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(self._equal(a[key], b[key]) for key in a)
        if isinstance(a, int | float | complex) and isinstance(b, int | float | complex):
            return a == b
        return type(a) is type(b) and bool(a == b)
