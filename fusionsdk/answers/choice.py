"""``choice`` answers: the option letter of a multiple-choice reply."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator, Field

from fusionsdk.answers.base import AnswerType
from fusionsdk.answers.json_field import answer_field
from fusionsdk.plugin import PluginOptions

__all__ = ["ChoiceAnswer", "ChoiceReader", "Letters", "choice_key", "extract_choice"]


def extract_choice(text: str, letters: str = "ABCD") -> str | None:
    """The option letter an answer chooses, in upper case.

    Understands a bare letter (``"B"``, ``"(b)"``, ``"B."``), statements such as ``"Answer: B"``,
    ``"The answer is b."`` or ``"the correct option is (C)"`` (the last one wins), a reply that
    starts with ``"B) ..."``, a parenthesised ``"(B)"``, and the ``answer`` field of a JSON reply.
    A lower-case letter followed by a word (``"the answer is a cat"``) is read as a word, not
    a choice.

    Args:
        text: The reply or reference.
        letters: The option letters, e.g. ``"ABCDE"``.

    Returns:
        The letter, or None when no choice can be read.

    Example:
        >>> extract_choice("I think the answer is (c).")
        'C'
    """
    return ChoiceReader(letters).read(text)


class ChoiceReader:
    """The patterns for one set of letters, compiled once."""

    def __init__(self, letters: str) -> None:
        options = re.escape(letters.upper() + letters.lower())
        self.bare = re.compile(rf"[(\[]?([{options}])[)\]]?[.:)]?")
        self.statement = re.compile(
            r"(?:answer|option|choice)\s*(?:is|:|=)?\s*(?:option|choice|letter)?\s*[:\-]?\s*"
            rf"[*_]*[(\[]?([{options}])\b[)\]]?[*_]*(?P<after>\s*\w?)",
            re.IGNORECASE,
        )
        upper = re.escape(letters.upper())
        self.leading = re.compile(rf"\s*[(\[]?([{upper}])[)\].:]\s")
        self.parenthesised = re.compile(rf"\(([{upper}])\)")

    def read(self, text: str) -> str | None:
        field = answer_field(text)
        if field is not None:
            found = self._read_plain(field)
            if found is not None:
                return found
        return self._read_plain(text)

    def _read_plain(self, text: str) -> str | None:
        text = text.strip()
        match = self.bare.fullmatch(text)
        if match:
            return match.group(1).upper()
        statements = [
            m
            for m in self.statement.finditer(text)
            # "the answer is a cat": a lower-case letter followed by a word is a word.
            if m.group(1).isupper() or not (m.group("after").strip() and m.group("after")[0].isspace())
        ]
        if statements:
            return statements[-1].group(1).upper()
        match = self.leading.match(text)
        if match:
            return match.group(1)
        found = self.parenthesised.findall(text)
        return found[-1] if found else None


def choice_key(text: str) -> str | None:
    """The canonical key of a ``choice`` answer (the letter, A-D), or None when there is none."""
    return extract_choice(text)


def _distinct_letters(value: str) -> str:
    value = value.upper()
    if not re.fullmatch(r"[A-Z]+", value) or len(set(value)) != len(value):
        raise ValueError("must be distinct letters A-Z, e.g. 'ABCD'")
    return value


#: The option letters of a multiple-choice question: 2 to 26 distinct letters A-Z, any case.
Letters = Annotated[str, Field(min_length=2, max_length=26), AfterValidator(_distinct_letters)]


class ChoiceAnswer(AnswerType["ChoiceAnswer.Options"]):
    """The option letter a multiple-choice reply chooses (:func:`extract_choice`), upper case.

    Example:
        >>> ChoiceAnswer().vote_keys(["The answer is (b).", '{"answer": "B"}', "C"])
        ['B', 'B', 'C']
    """

    class Options(PluginOptions):
        """Options of choice.

        Attributes:
            letters: The option letters (2 to 26 distinct letters A-Z, any case).
        """

        letters: Letters = "ABCD"

    @cached_property
    def reader(self) -> ChoiceReader:
        """The compiled patterns for this type's letters."""
        return ChoiceReader(self.options.letters)

    def extract(self, reply: str) -> str | None:
        return self.reader.read(reply)

    def canonical(self, answer: str) -> str | None:
        letter = answer.strip().upper()
        return letter if len(letter) == 1 and letter in self.options.letters else self.reader.read(answer)
