"""weighted_confidence: the conformance kit, then the behaviour this strategy promises."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.fusion.base import Candidate
from fusionsdk.providers.base import TokenLogprob
from fusionsdk.testing import FuserConformance

from fusionsdk_plugin_example import WeightedConfidence


class TestWeightedConfidenceConformance(FuserConformance):
    """Everything fusionsdk expects of a fuser, with default options."""

    plugin_class = WeightedConfidence


class TestStrictWeightedConfidenceConformance(FuserConformance):
    """The same with every option changed (round trip, determinism, concurrency)."""

    plugin_class = WeightedConfidence
    plugin_options: ClassVar[dict[str, Any]] = {
        "default_confidence": 0.9,
        "min_support": 0.0,
        "case_sensitive": True,
    }


def sure(model: str, text: str, logprob: float, weight: float = 1.0) -> Candidate:
    """A candidate whose every token has log-probability ``logprob``."""
    tokens = tuple(TokenLogprob(word, logprob) for word in text.split())
    return Candidate(model, text, weight=weight, logprobs=tokens)


async def test_a_confident_minority_beats_a_hesitant_majority() -> None:
    panel = [sure("a", "Lyon", -2.0), sure("b", "Lyon", -2.0), sure("c", "Paris", -0.01)]
    result = await WeightedConfidence().fuse("capital?", panel)
    assert (result.text, result.winner) == ("Paris", "c")
    assert result.scores["c"] == pytest.approx(math.exp(-0.01))
    assert result.scores["a"] == pytest.approx(math.exp(-2.0))


async def test_weights_scale_the_vote() -> None:
    panel = [Candidate("small", "41"), Candidate("big", "42", weight=3.0)]
    assert (await WeightedConfidence().fuse("6 x 7?", panel)).text == "42"


async def test_answers_match_ignoring_case_space_and_final_punctuation() -> None:
    panel = [Candidate("a", "Paris"), Candidate("b", " paris. "), Candidate("c", "Lyon", weight=1.5)]
    result = await WeightedConfidence().fuse("capital?", panel)
    assert result.text == "Paris" and "2 distinct answers" in result.reason


async def test_case_sensitive_keeps_answers_apart() -> None:
    panel = [Candidate("a", "Paris"), Candidate("b", "paris"), Candidate("c", "Lyon", weight=1.5)]
    result = await WeightedConfidence({"case_sensitive": True}).fuse("capital?", panel)
    assert result.text == "Lyon"


async def test_the_text_comes_from_the_strongest_supporter() -> None:
    panel = [Candidate("a", "paris", weight=0.5), Candidate("b", "Paris.", weight=2.0)]
    result = await WeightedConfidence().fuse("capital?", panel)
    assert (result.text, result.winner) == ("Paris.", "b")


async def test_ties_go_to_the_stronger_supporter_then_to_the_first_answer() -> None:
    split = [Candidate("a", "x", 1.0), Candidate("b", "x", 1.0), Candidate("c", "y", 2.0)]
    assert (await WeightedConfidence().fuse("t", split)).text == "y"
    even = [Candidate("a", "x"), Candidate("b", "y")]
    assert (await WeightedConfidence().fuse("t", even)).text == "x"


async def test_min_support_refuses_a_weak_winner() -> None:
    panel = [Candidate("a", "x"), Candidate("b", "y"), Candidate("c", "z")]
    with pytest.raises(FusionError, match=r"33% of the support, under min_support 50%"):
        await WeightedConfidence({"min_support": 0.5}).fuse("t", panel)


@pytest.mark.parametrize("weight", [-1.0, math.inf, math.nan])
async def test_invalid_weights_are_fusion_errors_naming_the_model(weight: float) -> None:
    panel = [Candidate("ok", "x"), Candidate("odd", "y", weight=weight)]
    with pytest.raises(FusionError, match="candidate 'odd' has weight"):
        await WeightedConfidence().fuse("t", panel)


async def test_no_support_at_all_is_a_fusion_error() -> None:
    with pytest.raises(FusionError, match="zero weight or confidence"):
        await WeightedConfidence().fuse("t", [Candidate("a", "x", weight=0.0)])


async def test_a_nan_logprob_is_a_fusion_error() -> None:
    with pytest.raises(FusionError, match="'a' has a log-probability that is NaN"):
        await WeightedConfidence().fuse("t", [sure("a", "x", math.nan)])


@pytest.mark.parametrize(
    ("options", "path"),
    [({"default_confidence": 0}, "options.default_confidence"), ({"min_suport": 0.5}, "options.min_suport")],
)
def test_bad_options_are_config_errors_naming_the_field(options: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WeightedConfidence(options)
    assert caught.value.path == path
