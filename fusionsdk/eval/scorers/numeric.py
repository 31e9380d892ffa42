"""``numeric``: the final number of the answer, compared with a tolerance."""

from __future__ import annotations

import math

from pydantic import Field

from fusionsdk.answers import extract_number, normalize_text
from fusionsdk.eval.scorers._common import TextScorer
from fusionsdk.plugin import PluginOptions

__all__ = ["NumericScorer"]


class NumericScorer(TextScorer):
    """1 when the final numbers of prediction and reference agree within a tolerance, else 0.

    Numbers are read with :func:`~fusionsdk.answers.extract_number`. A prediction without a number scores 0. A
    reference without a number is compared as normalised text instead (case, whitespace and
    trailing punctuation ignored), so that non-numeric items in a mixed set still get a score.

    Example:
        >>> NumericScorer().score('{"reasoning": "16 - 7 = 9; 9 * 2", "answer": "$18"}', "18")
        1.0
    """

    class Options(PluginOptions):
        """Options of numeric.

        Attributes:
            rel_tol: Relative tolerance (as in :func:`math.isclose`).
            abs_tol: Absolute tolerance.
        """

        rel_tol: float = Field(default=1e-6, ge=0.0)
        abs_tol: float = Field(default=1e-6, ge=0.0)

    def _score(self, prediction: str, reference: str) -> float:
        expected = extract_number(reference)
        if expected is None:
            return float(normalize_text(prediction) == normalize_text(reference) != "")
        got = extract_number(prediction)
        if got is None:
            return 0.0
        options = self.options
        return float(math.isclose(got, expected, rel_tol=options.rel_tol, abs_tol=options.abs_tol))  # type: ignore[attr-defined]
