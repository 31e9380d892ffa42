"""Conformance suites for fusion strategies (``fusionsdk.fusers``) and arbiters (``fusionsdk.arbiters``).

Both receive a task and candidate answers and return a
:class:`~fusionsdk.fusion.base.FusionResult`; the suites feed them ordinary, empty, single and
large candidate lists, check the result's shape, that bad input is a
:class:`~fusionsdk.errors.FusionError`, determinism when the plugin promises it, and that one
instance serves concurrent calls.

Example:
    >>> class TestMyFuser(FuserConformance):  # doctest: +SKIP
    ...     plugin_class = MyFuser
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from fusionsdk.arbiters.base import Arbiter, Conflict
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.registry import PluginKind
from fusionsdk.testing.conformance._common import PluginConformance, assert_number, run_in_threads

__all__ = ["ArbiterConformance", "FuserConformance", "check_fusion_result"]


def check_fusion_result(result: Any, candidates: Sequence[Candidate]) -> None:
    """Fail unless ``result`` is a well-formed :class:`FusionResult` for ``candidates``."""
    assert isinstance(result, FusionResult), f"expected a FusionResult, got {result!r}"
    assert isinstance(result.text, str), f"FusionResult.text should be a str, got {result.text!r}"
    assert isinstance(result.reason, str), "FusionResult.reason should be a str"
    models = {c.model for c in candidates}
    assert result.winner is None or result.winner in models, (
        f"winner {result.winner!r} is not one of the candidates' models"
    )
    for model, score in result.scores.items():
        assert isinstance(model, str), f"score keys should be model names, got {model!r}"
        assert_number(score, f"score of {model!r}")


def many_candidates(count: int) -> list[Candidate]:
    """``count`` candidates spread over a handful of answers, weights varying."""
    answers = ["Paris", "paris.", "Lyon", "Marseille", "The capital is Paris"]
    return [
        Candidate(f"model-{i}", answers[i % len(answers)], weight=1.0 + (i % 3) / 2) for i in range(count)
    ]


class _CandidateSuite(PluginConformance):
    """Fixtures shared by the fuser and arbiter suites.

    Attributes:
        task: The task text handed to the plugin.
        single_candidate_passthrough: Whether one candidate's text is returned as is (turn off
            for strategies that rewrite answers, such as synthesis by a model).
        large_candidate_count: How many candidates the large-input test uses.
        concurrent_calls: How many calls the concurrency test makes at once.
    """

    task: ClassVar[str] = "What is the capital of France?"
    single_candidate_passthrough: ClassVar[bool] = True
    large_candidate_count: ClassVar[int] = 300
    concurrent_calls: ClassVar[int] = 16

    @pytest.fixture
    def candidates(self) -> list[Candidate]:
        """An ordinary panel: two of three models agree."""
        return [
            Candidate("alpha", "Paris", weight=1.0),
            Candidate("beta", "Paris.", weight=0.8),
            Candidate("gamma", "Lyon", weight=0.5),
        ]

    @pytest.fixture
    def context(self) -> FusionContext | None:
        """What the plugin may use besides candidates; override to give judge models (fakes)."""
        return None

    def candidate_sets(self, count: int) -> list[list[Candidate]]:
        """Distinct candidate lists for the concurrency test."""
        return [many_candidates(2 + i % 5)[i % 3 :] or many_candidates(1) for i in range(count)]


class FuserConformance(_CandidateSuite):
    """Conformance suite of fusion strategies; set ``plugin_class`` to your :class:`Fuser`.

    Determinism is checked when the plugin's ``deterministic`` class attribute is True.
    """

    kind: ClassVar[PluginKind] = PluginKind.FUSERS

    async def fuse(
        self, plugin: Fuser, candidates: Sequence[Candidate], context: FusionContext | None
    ) -> FusionResult:
        """Call the plugin (a hook for suites that wrap the call)."""
        return await plugin.fuse(self.task, candidates, context)

    @pytest.mark.asyncio
    async def test_fuse_returns_a_fusion_result(
        self, plugin: Fuser, candidates: list[Candidate], context: FusionContext | None
    ) -> None:
        check_fusion_result(await self.fuse(plugin, candidates, context), candidates)

    @pytest.mark.asyncio
    async def test_no_candidates_is_a_fusion_error(
        self, plugin: Fuser, context: FusionContext | None
    ) -> None:
        with pytest.raises(FusionError):
            await self.fuse(plugin, [], context)

    @pytest.mark.asyncio
    async def test_single_candidate(self, plugin: Fuser, context: FusionContext | None) -> None:
        only = [Candidate("solo", "Paris")]
        result = await self.fuse(plugin, only, context)
        check_fusion_result(result, only)
        if self.single_candidate_passthrough:
            assert (result.text, result.winner) == ("Paris", "solo")

    @pytest.mark.asyncio
    async def test_large_input(self, plugin: Fuser, context: FusionContext | None) -> None:
        panel = many_candidates(self.large_candidate_count)
        check_fusion_result(await self.fuse(plugin, panel, context), panel)

    @pytest.mark.asyncio
    async def test_empty_answers_give_a_result_or_a_fusion_error(
        self, plugin: Fuser, context: FusionContext | None
    ) -> None:
        blank = [Candidate("alpha", ""), Candidate("beta", "   ")]
        try:
            result = await self.fuse(plugin, blank, context)
        except FusionError:
            return
        check_fusion_result(result, blank)

    @pytest.mark.asyncio
    async def test_does_not_mutate_the_candidate_list(
        self, plugin: Fuser, candidates: list[Candidate], context: FusionContext | None
    ) -> None:
        before = list(candidates)
        await self.fuse(plugin, candidates, context)
        assert candidates == before

    @pytest.mark.asyncio
    async def test_deterministic_when_promised(
        self, plugin: Fuser, candidates: list[Candidate], context: FusionContext | None
    ) -> None:
        if not type(plugin).deterministic:
            pytest.skip("the plugin does not promise determinism (deterministic = False)")
        first = await self.fuse(plugin, candidates, context)
        assert await self.fuse(plugin, candidates, context) == first
        fresh = self.rebuild(plugin, plugin.options.model_dump(mode="json"))
        assert await self.fuse(fresh, candidates, context) == first

    @pytest.mark.asyncio
    async def test_safe_under_concurrency(self, plugin: Fuser, context: FusionContext | None) -> None:
        panels = self.candidate_sets(self.concurrent_calls)
        together = await asyncio.gather(*(self.fuse(plugin, panel, context) for panel in panels))
        for panel, result in zip(panels, together, strict=True):
            check_fusion_result(result, panel)
        if type(plugin).deterministic:
            one_by_one = [await self.fuse(plugin, panel, context) for panel in panels]
            assert list(together) == one_by_one


class ArbiterConformance(_CandidateSuite):
    """Conformance suite of arbiters; set ``plugin_class`` to your :class:`Arbiter`.

    Determinism of :meth:`Arbiter.resolve` is checked when the plugin's ``deterministic``
    class attribute is True; :meth:`Arbiter.detect` must always be deterministic.
    """

    kind: ClassVar[PluginKind] = PluginKind.ARBITERS

    async def resolve(
        self, plugin: Arbiter, candidates: Sequence[Candidate], context: FusionContext | None
    ) -> FusionResult:
        """Call the plugin's ``resolve`` (a hook for suites that wrap the call)."""
        return await plugin.resolve(self.task, candidates, context)

    @staticmethod
    def check_conflict(conflict: Any) -> None:
        """Fail unless ``conflict`` is a well-formed :class:`Conflict`."""
        assert isinstance(conflict, Conflict), f"detect should return a Conflict, got {conflict!r}"
        assert_number(conflict.agreement, "Conflict.agreement")
        assert 0.0 <= conflict.agreement <= 1.0, f"agreement {conflict.agreement} is outside [0, 1]"
        assert isinstance(conflict.conflicted, bool), "Conflict.conflicted should be a bool"

    def test_detect_returns_a_conflict(self, plugin: Arbiter, candidates: list[Candidate]) -> None:
        self.check_conflict(plugin.detect(candidates))

    def test_unanimous_candidates_are_not_a_conflict(self, plugin: Arbiter) -> None:
        same = [Candidate(f"m{i}", "Paris") for i in range(4)]
        conflict = plugin.detect(same)
        self.check_conflict(conflict)
        assert conflict.agreement == pytest.approx(1.0)
        assert not conflict.conflicted

    def test_disagreement_lowers_agreement(self, plugin: Arbiter) -> None:
        split = [Candidate(f"m{i}", text) for i, text in enumerate(["Paris", "Lyon", "Nice", "Lille"])]
        conflict = plugin.detect(split)
        self.check_conflict(conflict)
        assert conflict.agreement < 1.0

    def test_detect_on_no_candidates_gives_a_conflict_or_a_fusion_error(self, plugin: Arbiter) -> None:
        try:
            conflict = plugin.detect([])
        except FusionError:
            return
        self.check_conflict(conflict)

    def test_detect_is_deterministic_and_thread_safe(self, plugin: Arbiter) -> None:
        panels = self.candidate_sets(self.concurrent_calls)
        one_by_one = [plugin.detect(panel) for panel in panels]
        assert run_in_threads(plugin.detect, panels) == one_by_one

    @pytest.mark.asyncio
    async def test_resolve_returns_a_fusion_result(
        self, plugin: Arbiter, candidates: list[Candidate], context: FusionContext | None
    ) -> None:
        check_fusion_result(await self.resolve(plugin, candidates, context), candidates)

    @pytest.mark.asyncio
    async def test_resolve_without_candidates_is_a_fusion_error(
        self, plugin: Arbiter, context: FusionContext | None
    ) -> None:
        with pytest.raises(FusionError):
            await self.resolve(plugin, [], context)

    @pytest.mark.asyncio
    async def test_single_candidate(self, plugin: Arbiter, context: FusionContext | None) -> None:
        only = [Candidate("solo", "Paris")]
        self.check_conflict(plugin.detect(only))
        result = await self.resolve(plugin, only, context)
        check_fusion_result(result, only)
        if self.single_candidate_passthrough:
            assert (result.text, result.winner) == ("Paris", "solo")

    @pytest.mark.asyncio
    async def test_large_input(self, plugin: Arbiter, context: FusionContext | None) -> None:
        panel = many_candidates(self.large_candidate_count)
        self.check_conflict(plugin.detect(panel))
        try:
            result = await self.resolve(plugin, panel, context)
        except FusionError:
            return  # an arbiter may refuse to settle a real conflict, but only this way
        check_fusion_result(result, panel)

    @pytest.mark.asyncio
    async def test_does_not_mutate_the_candidate_list(
        self, plugin: Arbiter, candidates: list[Candidate], context: FusionContext | None
    ) -> None:
        before = list(candidates)
        plugin.detect(candidates)
        await self.resolve(plugin, candidates, context)
        assert candidates == before

    @pytest.mark.asyncio
    async def test_deterministic_when_promised(
        self, plugin: Arbiter, candidates: list[Candidate], context: FusionContext | None
    ) -> None:
        if not type(plugin).deterministic:
            pytest.skip("the plugin does not promise determinism (deterministic = False)")
        first = await self.resolve(plugin, candidates, context)
        assert await self.resolve(plugin, candidates, context) == first
        fresh = self.rebuild(plugin, plugin.options.model_dump(mode="json"))
        assert await self.resolve(fresh, candidates, context) == first

    @pytest.mark.asyncio
    async def test_safe_under_concurrency(self, plugin: Arbiter, context: FusionContext | None) -> None:
        panels = self.candidate_sets(self.concurrent_calls)

        async def settle(panel: list[Candidate]) -> FusionResult | FusionError:
            try:
                return await self.resolve(plugin, panel, context)
            except FusionError as err:
                return err

        together = await asyncio.gather(*(settle(panel) for panel in panels))
        for panel, outcome in zip(panels, together, strict=True):
            if not isinstance(outcome, FusionError):
                check_fusion_result(outcome, panel)
        if type(plugin).deterministic:
            one_by_one = [await settle(panel) for panel in panels]
            assert [_comparable(o) for o in together] == [_comparable(o) for o in one_by_one]


def _comparable(outcome: FusionResult | FusionError) -> object:
    return (type(outcome), str(outcome)) if isinstance(outcome, FusionError) else outcome
