"""``python_literal`` answers: Python values (strings, numbers, lists, dicts, ...) compared by
value, as in CruxEval-style output prediction."""

from __future__ import annotations

import ast
import json
from typing import Any

from fusionsdk.answers.base import AnswerType
from fusionsdk.answers.final import final_answer
from fusionsdk.answers.json_field import answer_field
from fusionsdk.answers.normalize import fold_digits
from fusionsdk.plugin import PluginOptions

__all__ = ["NOT_A_LITERAL", "PythonLiteralAnswer", "literal_key", "read_literal"]

#: What :func:`read_literal` returns for text that is not a literal (None is one: ``"None"``).
NOT_A_LITERAL: Any = object()
_MAX_CHARS = 100_000


def read_literal(text: str) -> Any:
    """The Python value ``text`` spells (:func:`ast.literal_eval`, never ``eval``; JSON's
    ``true``, ``false`` and ``null`` too), or :data:`NOT_A_LITERAL`."""
    text = text.strip()
    if not text or len(text) > _MAX_CHARS:
        return NOT_A_LITERAL
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return NOT_A_LITERAL


def literal_key(value: Any, tuples_as_lists: bool = False) -> str:
    """A canonical spelling of a literal value: equal values (``2`` and ``2.0``, ``{2, 1}`` and
    ``{1, 2}``, ``'a'`` and ``"a"``) get the same key; ``True`` is not ``1``; a tuple is not a
    list unless ``tuples_as_lists``.

    Example:
        >>> literal_key({"b": [1, 2.0], "a": (True,)})
        "{'a': (True,), 'b': [1, 2]}"
    """
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return repr(int(value))
    if isinstance(value, int | float | complex | str | bytes):
        return repr(value)
    if isinstance(value, list) or (tuples_as_lists and isinstance(value, tuple)):
        return "[" + ", ".join(literal_key(item, tuples_as_lists) for item in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(literal_key(item, tuples_as_lists) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, set | frozenset):
        items = sorted(literal_key(item, tuples_as_lists) for item in value)
        return "{" + ", ".join(items) + "}" if items else "set()"
    if isinstance(value, dict):
        pairs = sorted(
            (literal_key(k, tuples_as_lists), literal_key(v, tuples_as_lists)) for k, v in value.items()
        )
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return repr(value)


class PythonLiteralAnswer(AnswerType["PythonLiteralAnswer.Options"]):
    """A Python value: the JSON ``answer`` field, else the whole reply when it is a literal, else
    its final answer (the right side of ``assert f(...) == X``, "the output is X", the last
    code fence, the last line), read with :func:`read_literal` and compared by value.

    A JSON ``answer`` that is a string but no literal (``{"answer": "abc"}``) is that string.
    A reference that is no literal is compared with a prediction as stripped text.

    Example:
        >>> answer = PythonLiteralAnswer()
        >>> replies = ['{"reasoning": "...", "answer": "\\'bcksrutq\\'"}', "assert f(s) == 'bcksrutq'"]
        >>> answer.vote_keys(replies)
        ["'bcksrutq'", "'bcksrutq'"]
    """

    class Options(PluginOptions):
        """Options of python_literal.

        Attributes:
            tuples_as_lists: A tuple equals a list with the same items.
        """

        tuples_as_lists: bool = False

    def extract(self, reply: str) -> str | None:
        field = answer_field(reply)
        if field is not None:
            return field if read_literal(field) is not NOT_A_LITERAL else repr(field)
        if read_literal(reply) is not NOT_A_LITERAL:
            return reply.strip()
        found = final_answer(reply)
        return found.text if found is not None else None

    def canonical(self, answer: str) -> str | None:
        value = read_literal(answer)
        if value is NOT_A_LITERAL:
            value = read_literal(fold_digits(answer))
        return literal_key(value, self.options.tuples_as_lists) if value is not NOT_A_LITERAL else None

    def fallback_equal(self, prediction: str, reference: str) -> bool:
        return prediction.strip() == reference.strip()
