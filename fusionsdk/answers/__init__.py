"""Reading answers out of replies: extraction, canonical keys and equivalence.

Fusion strategies vote over the answers models give, arbiters and the cascade measure how far
they agree, and scorers compare them with references; all of them read answers through an
answer type, a plugin of ``fusionsdk.answers`` (:class:`AnswerType`) named by ``answer:``:

==================  ======================================================================
answer type         reads and compares
==================  ======================================================================
``text``            normalised text of the reply (or of its final answer, ``final: true``)
``number``          the final number, within a tolerance (:func:`extract_number`)
``choice``          a multiple-choice letter (:func:`extract_choice`, :class:`ChoiceReader`)
``json_field``      the ``answer`` field of a JSON reply (:func:`answer_field`)
``math``            the final answer, as mathematics (math-verify; ``1/2`` is ``0.5``)
``python_literal``  a Python value (``'abc'`` is ``"abc"``; ``assert f(x) == 'abc'``)
``code_output``     what a program prints, line by line
==================  ======================================================================

:func:`final_answer` finds a reply's final answer whatever its format. The older helpers
:func:`normalize_answer` and :func:`same_answer` read the four original kinds by name.
"""

from fusionsdk.answers.base import AnswerOptions, AnswerType, build_answer_type
from fusionsdk.answers.choice import ChoiceAnswer, ChoiceReader, choice_key, extract_choice
from fusionsdk.answers.code_output import CodeOutputAnswer
from fusionsdk.answers.final import Found, boxed_contents, final_answer
from fusionsdk.answers.json_field import JsonFieldAnswer, answer_field, json_field_key
from fusionsdk.answers.keys import KEY_FUNCTIONS, Extract, normalize_answer, same_answer
from fusionsdk.answers.math import MathAnswer
from fusionsdk.answers.normalize import fold_digits, normalize_text, strip_code_fence
from fusionsdk.answers.number import NumberAnswer, extract_number, number_key
from fusionsdk.answers.python_literal import PythonLiteralAnswer, read_literal
from fusionsdk.answers.text import TextAnswer, text_key

__all__ = [
    "KEY_FUNCTIONS",
    "AnswerOptions",
    "AnswerType",
    "ChoiceAnswer",
    "ChoiceReader",
    "CodeOutputAnswer",
    "Extract",
    "Found",
    "JsonFieldAnswer",
    "MathAnswer",
    "NumberAnswer",
    "PythonLiteralAnswer",
    "TextAnswer",
    "answer_field",
    "boxed_contents",
    "build_answer_type",
    "choice_key",
    "extract_choice",
    "extract_number",
    "final_answer",
    "fold_digits",
    "json_field_key",
    "normalize_answer",
    "normalize_text",
    "number_key",
    "read_literal",
    "same_answer",
    "strip_code_fence",
    "text_key",
]
