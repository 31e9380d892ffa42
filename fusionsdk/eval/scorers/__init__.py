"""The built-in scorers (plugins of ``fusionsdk.scorers``), registered by entry-point name.

=================  ==========================================================================
name               scores
=================  ==========================================================================
``numeric``        the final number, within a tolerance (:func:`~fusionsdk.answers.extract_number`)
``exact``          normalised exact match
``choice``         the option letter of a multiple-choice answer (:func:`~fusionsdk.answers.extract_choice`)
``python_literal`` equality after :func:`ast.literal_eval`
``math``           mathematical equivalence (LaTeX or plain, via math-verify and sympy)
``bleu``           sentence BLEU (sacreBLEU), 0 to 1
``rouge``          ROUGE-1, ROUGE-2 or ROUGE-L, 0 to 1
=================  ==========================================================================

All share two rules: a prediction or reference that is not a ``str`` raises
:class:`~fusionsdk.errors.FusionError`, and an empty (or blank) one scores 0. Heavy libraries
(sympy, sacreBLEU) are imported on the first score, not on import.

Example:
    >>> from fusionsdk.registry import default_registry
    >>> scorer = default_registry().get("scorers", "numeric")({"abs_tol": 0.01})
    >>> scorer.score('{"reasoning": "...", "answer": "$1,000"}', "1000")
    1.0
"""

from fusionsdk.eval.scorers._common import TextScorer
from fusionsdk.eval.scorers.choice import ChoiceScorer
from fusionsdk.eval.scorers.exact import ExactScorer
from fusionsdk.eval.scorers.math_equivalence import MathScorer
from fusionsdk.eval.scorers.numeric import NumericScorer
from fusionsdk.eval.scorers.python_literal import PythonLiteralScorer
from fusionsdk.eval.scorers.text_overlap import BleuScorer, RougeScorer, lcs_length

__all__ = [
    "BleuScorer",
    "ChoiceScorer",
    "ExactScorer",
    "MathScorer",
    "NumericScorer",
    "PythonLiteralScorer",
    "RougeScorer",
    "TextScorer",
    "lcs_length",
]
