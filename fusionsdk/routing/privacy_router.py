"""``privacy``: keep sensitive requests on local targets; route everything else with an inner
strategy.

A request is sensitive when its metadata says ``sensitive: true`` or a detector finds personal
data in its text (see :mod:`fusionsdk.providers.privacy`). For those, only targets known to be
local are offered to the inner strategy: models with ``locality: local`` (the router learns the
models of its graph through :meth:`~fusionsdk.routing.base.Router.bind`) and the targets listed
in ``local`` (router-node targets are nodes: list those that use local models only). When none
is local the route fails closed with :class:`~fusionsdk.errors.PrivacyViolation`.

The adapter refuses hosted calls with sensitive data whatever the router chose; this router
makes the choice up front, so a sensitive task goes to a local target instead of failing there.

Example::

    solo:
      kind: agent
      router: privacy
      router_options: {strategy: balance, options: {poll_interval_s: 2}}
      models: [gpt4o, vllm-a, vllm-b]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from fusionsdk.config.privacy import PrivacySpec
from fusionsdk.errors import ConfigError, GraphError, PrivacyViolation
from fusionsdk.plugin import PluginOptions
from fusionsdk.providers.privacy import PrivacyPolicy, Sensitivity
from fusionsdk.providers.privacy_scope import current_scope
from fusionsdk.registry import Registry
from fusionsdk.routing.base import RouteDecision, Router, RouteRequest

__all__ = ["PrivacyRouter"]


class PrivacyRouter(Router["PrivacyRouter.Options"]):
    """Filter targets to local ones for sensitive requests; delegate to ``strategy``."""

    class Options(PluginOptions):
        """Privacy router options.

        Attributes:
            strategy: The ``fusionsdk.routers`` plugin that chooses among the allowed targets
                (default: the first allowed target).
            options: That strategy's options.
            local: Targets to treat as local besides the graph's ``locality: local`` models.
            detect: Also run the detectors over the request text (else only the metadata flag
                counts). The graph's own ``privacy`` config applies once the router is bound.
        """

        strategy: str | None = None
        options: dict[str, Any] = Field(default_factory=dict)
        local: list[str] = Field(default_factory=list)
        detect: bool = True

    def __init__(
        self, options: PluginOptions | dict[str, Any] | None = None, *, registry: Registry | None = None
    ) -> None:
        super().__init__(options, registry=registry)
        opts: PrivacyRouter.Options = self.options
        self._models: Mapping[str, Any] = {}
        self._policy = PrivacyPolicy(PrivacySpec(detect=opts.detect))
        self._inner: Router | None = None
        if opts.strategy is not None:
            self._inner = _build_inner(opts.strategy, opts.options, self.registry)
            self.deterministic = type(self._inner).deterministic  # type: ignore[misc]

    def declared_targets(self) -> list[str]:
        opts: PrivacyRouter.Options = self.options
        inner = self._inner.declared_targets() if self._inner is not None else []
        return list(dict.fromkeys([*inner, *opts.local]))

    def bind(self, models: Mapping[str, Any]) -> None:
        opts: PrivacyRouter.Options = self.options
        self._models = models
        hub_policy = getattr(models, "privacy", None)
        if opts.detect and isinstance(hub_policy, PrivacyPolicy):
            self._policy = hub_policy  # the config's detectors and any added in code
        if self._inner is not None:
            self._inner.bind(models)

    def is_local(self, target: str) -> bool:
        """Whether ``target`` is listed in ``local`` or is a bound model with locality local."""
        opts: PrivacyRouter.Options = self.options
        if target in opts.local:
            return True
        model = self._models.get(target)
        return model is not None and getattr(model, "locality", None) == "local"

    async def route(self, request: RouteRequest, targets: Sequence[str]) -> RouteDecision:
        """Route ``request``; a sensitive one only to local targets.

        Raises:
            GraphError: No targets.
            PrivacyViolation: The request is sensitive and no target is local.
        """
        if not targets:
            raise GraphError("privacy router: no targets to choose from")
        scope = current_scope()
        if scope is not None and scope.sensitive:  # the thread saw sensitive data earlier
            sensitivity: Sensitivity | None = Sensitivity("thread", tuple(scope.kinds))
        else:
            sensitivity = self._policy.assess(request.text, request.metadata)
        if sensitivity is None:
            decision = await self._delegate(request, list(targets))
            return RouteDecision(decision.target, f"not sensitive; {decision.reason}", decision.scores)
        allowed = [t for t in targets if self.is_local(t)]
        refused = [t for t in targets if t not in allowed]
        if not allowed:
            raise PrivacyViolation(refused, list(sensitivity.kinds))
        decision = await self._delegate(request, allowed)
        why = ", ".join(sensitivity.kinds) or "flagged"
        kept = f"; not local: {', '.join(refused)}" if refused else ""
        return RouteDecision(
            decision.target,
            f"sensitive ({why}, from {sensitivity.source}): local targets only{kept}; {decision.reason}",
            decision.scores,
        )

    async def _delegate(self, request: RouteRequest, targets: list[str]) -> RouteDecision:
        if self._inner is None:
            return RouteDecision(targets[0], f"first allowed target '{targets[0]}'")
        return await self._inner.route(request, targets)


def _build_inner(strategy: str, options: dict[str, Any], registry: Registry) -> Router[Any]:
    """The inner router ``strategy`` from ``registry``, its options validated (paths under
    ``options``)."""
    from fusionsdk.registry import PluginKind

    if strategy == "privacy":
        raise ConfigError("the privacy router cannot wrap itself", path="options.strategy")
    router: Router[Any] = registry.build(
        PluginKind.ROUTERS, strategy, options, path="options.options", name_path="options.strategy"
    )
    return router
