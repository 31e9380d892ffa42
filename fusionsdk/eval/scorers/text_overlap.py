"""``bleu`` and ``rouge``: n-gram overlap of free text with a reference, in [0, 1]."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from fusionsdk.errors import require_extra
from fusionsdk.eval.scorers._common import TextScorer
from fusionsdk.plugin import PluginOptions

__all__ = ["BleuScorer", "RougeScorer", "lcs_length", "rouge_tokens"]

_WORD = re.compile(r"[^\W_]+")


class BleuScorer(TextScorer):
    """Sentence BLEU of the prediction against the reference, from 0 to 1 (sacreBLEU / 100).

    Computed by `sacreBLEU <https://github.com/mjpost/sacrebleu>`_ with effective n-gram order,
    so short texts are not scored 0 merely for lacking 4-grams. Identical texts score 1.

    Example:
        >>> round(BleuScorer().score("the cat sat on a mat", "the cat sat on the mat"), 3)
        0.537
    """

    class Options(PluginOptions):
        """Options of bleu.

        Attributes:
            tokenize: sacreBLEU tokenizer: ``13a`` (its default), ``intl``, ``char``, ``zh`` or ``none``.
            lowercase: Compare case-insensitively.
            smooth_method: Smoothing of zero n-gram counts: ``exp``, ``floor``, ``add-k`` or ``none``.
        """

        tokenize: Literal["13a", "intl", "char", "zh", "none"] = "13a"
        lowercase: bool = False
        smooth_method: Literal["exp", "floor", "add-k", "none"] = "exp"

    def _score(self, prediction: str, reference: str) -> float:
        if prediction.strip() == reference.strip():
            return 1.0
        BLEU = require_extra("sacrebleu.metrics", "eval", "The bleu scorer's metrics").BLEU

        options = self.options
        bleu = BLEU(
            lowercase=options.lowercase,  # type: ignore[attr-defined]
            tokenize=options.tokenize,  # type: ignore[attr-defined]
            smooth_method=options.smooth_method,  # type: ignore[attr-defined]
            effective_order=True,
        )
        return bleu.sentence_score(prediction, [reference]).score / 100.0


class RougeScorer(TextScorer):
    """ROUGE-1, ROUGE-2 or ROUGE-L of the prediction against the reference, from 0 to 1.

    Texts are case-folded and split into Unicode words (letters and digits), like the
    ``rouge-score`` package's default tokenizer but without dropping non-ASCII letters, and
    without stemming. ROUGE-L uses a bit-parallel longest common subsequence, so long texts are
    cheap. Identical token sequences score 1, even when too short to hold a bigram.

    Example:
        >>> RougeScorer({"variant": "rouge1"}).score("the cat sat", "the cat sat down")
        0.8571428571428571
    """

    class Options(PluginOptions):
        """Options of rouge.

        Attributes:
            variant: ``rouge1`` (words), ``rouge2`` (word pairs) or ``rougeL`` (longest common
                subsequence).
            measure: ``f1``, ``precision`` or ``recall``.
        """

        variant: Literal["rouge1", "rouge2", "rougeL"] = "rougeL"
        measure: Literal["f1", "precision", "recall"] = "f1"

    def _score(self, prediction: str, reference: str) -> float:
        predicted, expected = rouge_tokens(prediction), rouge_tokens(reference)
        if not predicted or not expected:
            return 0.0
        if predicted == expected:
            return 1.0
        variant: str = self.options.variant  # type: ignore[attr-defined]
        if variant == "rougeL":
            overlap, n_predicted, n_expected = lcs_length(predicted, expected), len(predicted), len(expected)
        else:
            n = int(variant[-1])
            predicted_grams, expected_grams = _ngrams(predicted, n), _ngrams(expected, n)
            overlap = sum((predicted_grams & expected_grams).values())
            n_predicted, n_expected = sum(predicted_grams.values()), sum(expected_grams.values())
        if overlap == 0:
            return 0.0
        precision, recall = overlap / n_predicted, overlap / n_expected
        measure: str = self.options.measure  # type: ignore[attr-defined]
        if measure == "precision":
            return precision
        if measure == "recall":
            return recall
        return 2 * precision * recall / (precision + recall)


def rouge_tokens(text: str) -> list[str]:
    """The case-folded words (runs of Unicode letters and digits) of ``text``."""
    return _WORD.findall(text.casefold())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences.

    Uses the bit-parallel algorithm of Allison and Dix (as refined by Hyyrö): one big-integer
    update per token of the longer sequence, so 10,000 by 10,000 tokens take milliseconds and
    no quadratic table.

    Example:
        >>> lcs_length("the cat sat on the mat".split(), "a cat on a mat".split())
        3
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    positions: dict[str, int] = {}
    for index, token in enumerate(b):
        positions[token] = positions.get(token, 0) | (1 << index)
    full = (1 << len(b)) - 1
    row = full  # bit i clear: b[: i + 1] has one more LCS element than b[:i]
    for token in a:
        matches = positions.get(token)
        if matches:
            low = row & matches
            row = ((row + low) | (row - low)) & full
    return len(b) - row.bit_count()


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(zip(*(tokens[i:] for i in range(n)), strict=False))
