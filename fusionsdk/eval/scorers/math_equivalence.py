"""``math``: mathematical equivalence of answers (LaTeX or plain), checked with math-verify."""

from __future__ import annotations

import threading
from typing import Any

from pydantic import Field

from fusionsdk.answers import normalize_text
from fusionsdk.eval.scorers._common import TextScorer
from fusionsdk.plugin import PluginOptions

__all__ = ["MathScorer"]


class MathScorer(TextScorer):
    """1 when prediction and reference are the same mathematical object, else 0.

    Both sides are parsed with `math-verify <https://github.com/huggingface/Math-Verify>`_ (LaTeX,
    ``\\boxed{}`` answers and plain expressions, to sympy) and compared numerically and
    symbolically: ``"\\frac{1}{2}"`` equals ``"0.5"``, ``"x^2+2x+1"`` equals ``"(x+1)^2"``, and
    ``"The answer is $\\boxed{5}$."`` equals ``"5"``. Text that is not maths (``"Paris"``) is
    compared as normalised text. Only the last ``max_chars`` characters of each string are
    parsed, since final answers come last and parsing long prose is slow.

    math-verify bounds parsing and comparison time with ``SIGALRM``, which only the main thread
    may use: called from another thread, this scorer runs without a time limit.

    Example:
        >>> MathScorer().score("so the answer is $\\\\boxed{\\\\frac{1}{2}}$", "0.5")
        1.0
    """

    class Options(PluginOptions):
        """Options of math.

        Attributes:
            timeout_s: Time limit in seconds for each parse and comparison (0: none).
            max_chars: How many characters, from the end of each string, are parsed.
            float_rounding: Decimal places floats are rounded to before comparison.
        """

        timeout_s: int = Field(default=5, ge=0)
        max_chars: int = Field(default=2000, gt=0)
        float_rounding: int = Field(default=6, ge=0)

    def _score(self, prediction: str, reference: str) -> float:
        if normalize_text(prediction) == normalize_text(reference):
            return 1.0
        from math_verify import verify

        options: Any = self.options
        timeout = self._timeout()
        gold = self._parse(reference, timeout)
        answer = self._parse(prediction, timeout)
        if not gold or not answer:
            return 0.0
        return float(verify(gold, answer, float_rounding=options.float_rounding, timeout_seconds=timeout))

    def _timeout(self) -> int | None:
        timeout: int = self.options.timeout_s  # type: ignore[attr-defined]
        # math-verify times out with signal.alarm, which raises outside the main thread.
        if timeout == 0 or threading.current_thread() is not threading.main_thread():
            return None
        return timeout

    def _parse(self, text: str, timeout: int | None) -> list[Any]:
        from math_verify import parse

        tail = text[-self.options.max_chars :]  # type: ignore[attr-defined]
        parsed: list[Any] = parse(tail, parsing_timeout=timeout)
        if not parsed and "$" not in tail:
            # A bare expression such as "x^2+2x+1" is only read as LaTeX between dollars.
            parsed = parse(f"${tail}$", parsing_timeout=timeout)
        return parsed
