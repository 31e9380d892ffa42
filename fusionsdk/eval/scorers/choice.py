"""``choice``: multiple-choice answers, compared by the letter chosen."""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import Field, field_validator

from fusionsdk.answers import ChoiceReader, normalize_text
from fusionsdk.eval.scorers._common import TextScorer
from fusionsdk.plugin import PluginOptions

__all__ = ["ChoiceScorer"]


class ChoiceScorer(TextScorer):
    """1 when prediction and reference choose the same option letter, else 0.

    Letters are read with :func:`~fusionsdk.answers.extract_choice`. A prediction without a
    readable choice scores 0. A reference without one is compared as normalised text instead.

    Example:
        >>> ChoiceScorer().score("The answer is b.", "B")
        1.0
        >>> ChoiceScorer({"letters": "ABCDE"}).score('{"answer": "(E)"}', "E")
        1.0
    """

    class Options(PluginOptions):
        """Options of choice.

        Attributes:
            letters: The option letters (2 to 26 distinct letters A-Z, any case).
        """

        letters: str = Field(default="ABCD", min_length=2, max_length=26)

        @field_validator("letters")
        @classmethod
        def _distinct_letters(cls, value: str) -> str:
            value = value.upper()
            if not re.fullmatch(r"[A-Z]+", value) or len(set(value)) != len(value):
                raise ValueError("must be distinct letters A-Z, e.g. 'ABCD'")
            return value

    @cached_property
    def _reader(self) -> ChoiceReader:
        return ChoiceReader(self.options.letters)  # type: ignore[attr-defined]

    def _score(self, prediction: str, reference: str) -> float:
        expected = self._reader.read(reference)
        if expected is None:
            return float(normalize_text(prediction) == normalize_text(reference) != "")
        return float(self._reader.read(prediction) == expected)
