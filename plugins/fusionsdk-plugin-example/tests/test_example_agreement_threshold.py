"""agreement_threshold: the conformance kit, then the behaviour this arbiter promises."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.fusion.base import Candidate
from fusionsdk.testing import ArbiterConformance

from fusionsdk_plugin_example import AgreementThreshold


class TestAgreementThresholdConformance(ArbiterConformance):
    """Everything fusionsdk expects of an arbiter, with default options."""

    plugin_class = AgreementThreshold


class TestRefusingAgreementThresholdConformance(ArbiterConformance):
    """With ``on_conflict: refuse`` conflicts raise; the kit allows that and checks the rest."""

    plugin_class = AgreementThreshold
    plugin_options: ClassVar[dict[str, Any]] = {"min_agreement": 0.5, "on_conflict": "refuse"}


def panel(*answers: tuple[str, str, float]) -> list[Candidate]:
    return [Candidate(model, text, weight=weight) for model, text, weight in answers]


def test_agreement_is_the_plurality_share() -> None:
    conflict = AgreementThreshold().detect(panel(("a", "x", 1), ("b", "X.", 1), ("c", "y", 1), ("d", "z", 1)))
    assert conflict.agreement == pytest.approx(0.5)
    assert conflict.conflicted  # under the default 0.6


def test_min_agreement_sets_the_conflict_line() -> None:
    three = panel(("a", "x", 1), ("b", "x", 1), ("c", "y", 1))
    assert not AgreementThreshold().detect(three).conflicted
    assert AgreementThreshold({"min_agreement": 0.9}).detect(three).conflicted


async def test_resolve_picks_the_heaviest_candidate_of_the_plurality() -> None:
    candidates = panel(("light", "Paris", 0.5), ("heavy", "paris.", 2.0), ("loner", "Lyon", 9.0))
    result = await AgreementThreshold().resolve("capital?", candidates)
    assert (result.text, result.winner) == ("paris.", "heavy")
    assert result.scores == pytest.approx({"light": 2 / 3, "heavy": 2 / 3, "loner": 1 / 3})
    assert "no conflict" in result.reason


async def test_a_tie_between_answers_goes_to_more_total_weight() -> None:
    candidates = panel(("a", "x", 1.0), ("b", "x", 1.0), ("c", "y", 1.5), ("d", "y", 1.5))
    result = await AgreementThreshold({"min_agreement": 0.5}).resolve("t", candidates)
    assert (result.text, result.winner) == ("y", "c")


async def test_a_conflict_is_settled_by_plurality_by_default() -> None:
    candidates = panel(("a", "x", 1), ("b", "y", 1), ("c", "z", 1))
    result = await AgreementThreshold().resolve("t", candidates)
    assert result.winner == "a" and "conflict settled by plurality" in result.reason


async def test_refuse_raises_on_conflict_for_the_next_rung_to_handle() -> None:
    candidates = panel(("a", "x", 1), ("b", "y", 1), ("c", "z", 1))
    arbiter = AgreementThreshold({"on_conflict": "refuse"})
    with pytest.raises(FusionError, match="only 33% of the candidates agree, under min_agreement 60%"):
        await arbiter.resolve("t", candidates)
    agreeing = panel(("a", "x", 1), ("b", "x", 1), ("c", "z", 1))
    assert (await arbiter.resolve("t", agreeing)).text == "x"


async def test_negative_weights_are_fusion_errors() -> None:
    with pytest.raises(FusionError, match="candidate 'b' has weight -1"):
        await AgreementThreshold().resolve("t", panel(("a", "x", 1), ("b", "x", -1)))


def test_bad_options_are_config_errors_naming_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        AgreementThreshold({"on_conflict": "panic"})
    assert caught.value.path == "options.on_conflict"
