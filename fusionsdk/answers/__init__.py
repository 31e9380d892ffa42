"""Reading answers out of replies: extraction, canonical keys and equivalence.

Fusion strategies vote over the answers models give, arbiters and the cascade measure how far
they agree, and scorers compare them with references; all of them read answers here. One module
per kind of answer:

==============  ==========================================================================
kind            reads
==============  ==========================================================================
``text``        normalised text (:func:`normalize_text`)
``number``      the final number (:func:`extract_number`)
``choice``      a multiple-choice letter (:func:`extract_choice`, :class:`ChoiceReader`)
``json_field``  the ``answer`` field of a JSON reply (:func:`answer_field`)
==============  ==========================================================================

:func:`normalize_answer` gives a reply's canonical key for a kind and :func:`same_answer`
compares two replies by it.
"""

from fusionsdk.answers.choice import ChoiceReader, choice_key, extract_choice
from fusionsdk.answers.json_field import answer_field, json_field_key
from fusionsdk.answers.keys import KEY_FUNCTIONS, Extract, normalize_answer, same_answer
from fusionsdk.answers.number import extract_number, number_key
from fusionsdk.answers.text import normalize_text, strip_code_fence, text_key

__all__ = [
    "KEY_FUNCTIONS",
    "ChoiceReader",
    "Extract",
    "answer_field",
    "choice_key",
    "extract_choice",
    "extract_number",
    "json_field_key",
    "normalize_answer",
    "normalize_text",
    "number_key",
    "same_answer",
    "strip_code_fence",
    "text_key",
]
