"""``python_literal``: equality of Python literals (lists, dicts, tuples, numbers, strings)."""

from __future__ import annotations

from typing import Any, ClassVar

from fusionsdk.eval.scorers._common import AnswerScorer, AnswerScorerOptions

__all__ = ["PythonLiteralScorer"]


class PythonLiteralScorer(AnswerScorer):
    """1 when prediction and reference are equal Python literals, else 0.

    Both are read by the ``python_literal`` answer type: the JSON ``answer`` field, the whole
    reply when it is a literal, the right side of ``assert f(...) == X``, "the output is X",
    the last code fence or the last line, each read with :func:`ast.literal_eval` (never
    ``eval``), so spacing and quoting do not matter: ``"[1,2]"`` equals ``"[1, 2]"`` and
    ``"{'a':1}"`` equals ``'{"a": 1}'``. Comparison is structural: ``True`` is not ``1`` and a
    tuple is not a list unless ``tuples_as_lists``; ints and floats compare by value. A
    prediction without a literal scores 0. A reference that does not parse is compared as
    stripped text instead.

    Example:
        >>> PythonLiteralScorer().score("{ 'a':1 }", "{'a': 1}")
        1.0
        >>> PythonLiteralScorer({"tuples_as_lists": True}).score("(1, 2)", "[1, 2]")
        1.0
        >>> PythonLiteralScorer().score('{"reasoning": "...", "answer": "\\'bcksrutq\\'"}', "'bcksrutq'")
        1.0
    """

    default_answer: ClassVar[str] = "python_literal"

    class Options(AnswerScorerOptions):
        """Options of python_literal.

        Attributes:
            tuples_as_lists: A tuple equals a list with the same items.
        """

        tuples_as_lists: bool = False

    def default_answer_options(self) -> dict[str, Any]:
        return {"tuples_as_lists": self.options.tuples_as_lists}  # type: ignore[attr-defined]
