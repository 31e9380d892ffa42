"""Conformance suite of routers (``fusionsdk.routers``).

A router must pick one of the targets it is offered, say why, refuse an empty target list with a
:class:`~fusionsdk.errors.FusionError`, and serve concurrent requests from one instance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from fusionsdk.errors import FusionError
from fusionsdk.registry import PluginKind
from fusionsdk.routing.base import RouteDecision, Router, RouteRequest
from fusionsdk.testing.conformance._common import PluginConformance, assert_number

__all__ = ["RouterConformance"]


class RouterConformance(PluginConformance):
    """Conformance suite of routers; set ``plugin_class`` to your :class:`Router`.

    Determinism is checked when the plugin's ``deterministic`` class attribute is True.

    Attributes:
        large_target_count: How many targets the large-input test offers.
        concurrent_calls: How many requests the concurrency test makes at once.
    """

    kind: ClassVar[PluginKind] = PluginKind.ROUTERS
    large_target_count: ClassVar[int] = 500
    concurrent_calls: ClassVar[int] = 16

    @pytest.fixture
    def route_request(self) -> RouteRequest:
        """An ordinary request; override to add the metadata your router reads."""
        return RouteRequest("Summarise the attached quarterly report in three bullet points.")

    @pytest.fixture
    def targets(self) -> list[str]:
        """The targets offered; override with the names your router knows how to score."""
        return ["small", "medium", "large"]

    async def route(self, plugin: Router, request: RouteRequest, targets: Sequence[str]) -> RouteDecision:
        """Call the plugin (a hook for suites that wrap the call)."""
        return await plugin.route(request, targets)

    @staticmethod
    def check_decision(decision: Any, targets: Sequence[str]) -> None:
        """Fail unless ``decision`` is a well-formed :class:`RouteDecision` among ``targets``."""
        assert isinstance(decision, RouteDecision), f"expected a RouteDecision, got {decision!r}"
        assert decision.target in targets, f"chose {decision.target!r}, which was not offered"
        assert isinstance(decision.reason, str) and decision.reason.strip(), "say why in reason"
        for target, score in decision.scores.items():
            assert target in targets, f"scored {target!r}, which was not offered"
            assert_number(score, f"score of {target!r}")

    @pytest.mark.asyncio
    async def test_route_picks_an_offered_target(
        self, plugin: Router, route_request: RouteRequest, targets: list[str]
    ) -> None:
        self.check_decision(await self.route(plugin, route_request, targets), targets)

    @pytest.mark.asyncio
    async def test_no_targets_is_a_fusion_error(self, plugin: Router, route_request: RouteRequest) -> None:
        with pytest.raises(FusionError):
            await self.route(plugin, route_request, [])

    @pytest.mark.asyncio
    async def test_single_target(
        self, plugin: Router, route_request: RouteRequest, targets: list[str]
    ) -> None:
        decision = await self.route(plugin, route_request, targets[:1])
        self.check_decision(decision, targets[:1])

    @pytest.mark.asyncio
    async def test_large_input(self, plugin: Router, route_request: RouteRequest, targets: list[str]) -> None:
        many = targets + [f"target-{i}" for i in range(self.large_target_count)]
        self.check_decision(await self.route(plugin, route_request, many), many)

    @pytest.mark.asyncio
    async def test_empty_request_gives_a_decision_or_a_fusion_error(
        self, plugin: Router, targets: list[str]
    ) -> None:
        try:
            decision = await self.route(plugin, RouteRequest(""), targets)
        except FusionError:
            return
        self.check_decision(decision, targets)

    @pytest.mark.asyncio
    async def test_does_not_mutate_the_targets(
        self, plugin: Router, route_request: RouteRequest, targets: list[str]
    ) -> None:
        before = list(targets)
        await self.route(plugin, route_request, targets)
        assert targets == before

    @pytest.mark.asyncio
    async def test_deterministic_when_promised(
        self, plugin: Router, route_request: RouteRequest, targets: list[str]
    ) -> None:
        if not type(plugin).deterministic:
            pytest.skip("the plugin does not promise determinism (deterministic = False)")
        first = await self.route(plugin, route_request, targets)
        assert await self.route(plugin, route_request, targets) == first
        fresh = self.rebuild(plugin, plugin.options.model_dump(mode="json"))
        assert await self.route(fresh, route_request, targets) == first

    @pytest.mark.asyncio
    async def test_safe_under_concurrency(
        self, plugin: Router, route_request: RouteRequest, targets: list[str]
    ) -> None:
        requests = [
            RouteRequest(f"{route_request.text} (#{i})", route_request.metadata)
            for i in range(self.concurrent_calls)
        ]
        together = await asyncio.gather(*(self.route(plugin, r, targets) for r in requests))
        for decision in together:
            self.check_decision(decision, targets)
        if type(plugin).deterministic:
            assert list(together) == [await self.route(plugin, r, targets) for r in requests]
