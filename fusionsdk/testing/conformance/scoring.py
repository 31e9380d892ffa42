"""Conformance suite of scorers (``fusionsdk.scorers``).

A score is a number in [0, 1] and a prediction equal to its reference scores 1. The suite also
feeds empty and very long strings and calls one instance from several threads.
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from fusionsdk.errors import FusionError
from fusionsdk.eval.base import Scorer
from fusionsdk.registry import PluginKind
from fusionsdk.testing.conformance._common import PluginConformance, assert_number, run_in_threads

__all__ = ["ScorerConformance"]

#: (prediction, reference) pairs every scorer must handle.
SAMPLE_PAIRS: list[tuple[str, str]] = [
    ("Paris", "Paris"),
    ("paris.", "Paris"),
    ("The answer is 42", "42"),
    ("Lyon", "Paris"),
    ("Sí, es correcto", "Sí"),
]


class ScorerConformance(PluginConformance):
    """Conformance suite of scorers; set ``plugin_class`` to your :class:`Scorer`.

    Determinism is checked when the plugin's ``deterministic`` class attribute is True.

    Attributes:
        examples: ``(prediction, reference, expected score)`` triples your scorer must reproduce.
        long_text_chars: Length of the strings in the long-input test.
    """

    kind: ClassVar[PluginKind] = PluginKind.SCORERS
    examples: ClassVar[list[tuple[str, str, float]]] = []
    long_text_chars: ClassVar[int] = 100_000

    @staticmethod
    def check_score(score: object) -> None:
        """Fail unless ``score`` is a number in [0, 1]."""
        assert_number(score, "score")
        assert 0.0 <= score <= 1.0, f"score {score} is outside [0, 1]"  # type: ignore[operator]

    def test_scores_lie_between_zero_and_one(self, plugin: Scorer) -> None:
        for prediction, reference in SAMPLE_PAIRS:
            self.check_score(plugin.score(prediction, reference))

    def test_a_prediction_equal_to_its_reference_scores_one(self, plugin: Scorer) -> None:
        for _, reference in SAMPLE_PAIRS:
            assert plugin.score(reference, reference) == pytest.approx(1.0)

    def test_examples(self, plugin: Scorer) -> None:
        if not self.examples:
            pytest.skip("no examples given (set examples = [(prediction, reference, score), ...])")
        for prediction, reference, expected in self.examples:
            assert plugin.score(prediction, reference) == pytest.approx(expected), (prediction, reference)

    @pytest.mark.parametrize(("prediction", "reference"), [("", ""), ("", "Paris"), ("Paris", "")])
    def test_empty_strings_give_a_score_or_a_fusion_error(
        self, plugin: Scorer, prediction: str, reference: str
    ) -> None:
        try:
            score = plugin.score(prediction, reference)
        except FusionError:
            return
        self.check_score(score)

    def test_long_input(self, plugin: Scorer) -> None:
        text = ("lorem ipsum " * (self.long_text_chars // 12 + 1))[: self.long_text_chars]
        self.check_score(plugin.score(text, text[: self.long_text_chars // 2]))

    def test_deterministic_when_promised(self, plugin: Scorer) -> None:
        if not type(plugin).deterministic:
            pytest.skip("the plugin does not promise determinism (deterministic = False)")
        first = [plugin.score(p, r) for p, r in SAMPLE_PAIRS]
        assert [plugin.score(p, r) for p, r in SAMPLE_PAIRS] == first
        fresh = self.rebuild(plugin, plugin.options.model_dump(mode="json"))
        assert [fresh.score(p, r) for p, r in SAMPLE_PAIRS] == first

    def test_safe_from_several_threads(self, plugin: Scorer) -> None:
        pairs = SAMPLE_PAIRS * 8
        scores = run_in_threads(lambda pair: plugin.score(*pair), pairs)
        for score in scores:
            self.check_score(score)
        if type(plugin).deterministic:
            assert scores == [plugin.score(p, r) for p, r in pairs]
