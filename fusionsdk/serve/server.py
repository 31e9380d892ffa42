"""The :class:`Server`: everything one app needs per request, made once at start-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from fusionsdk.registry import Registry
from fusionsdk.serve.auth import KeyRing, Principal
from fusionsdk.serve.backpressure import RequestGate
from fusionsdk.serve.catalog import Catalog
from fusionsdk.serve.errors import ApiError
from fusionsdk.serve.metrics import ServeMetrics
from fusionsdk.serve.state import SharedState, open_state

__all__ = ["SENSITIVE_HEADER", "TRACE_HEADER", "Server"]

log = logging.getLogger("fusionsdk.serve")

#: A request with this header set to ``true`` is sensitive: only local models may answer it.
SENSITIVE_HEADER = "x-fusion-sensitive"
#: The response header with the request's trace id (a graph run's thread id).
TRACE_HEADER = "X-Fusion-Trace-Id"


class Server:
    """The catalog, keys, shared state, request gate and metrics of one app.

    Args:
        configs: Config files to serve.
        registry: Where plugins come from.
        environ: Where ``FUSIONSDK_API_KEYS`` is read (the process environment by default).
    """

    def __init__(
        self,
        configs: Sequence[str | Path],
        registry: Registry | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.catalog = Catalog(configs, registry)
        spec = self.catalog.serve
        self.spec = spec
        self.keys = KeyRing(spec.keys, environ)
        self.state: SharedState = open_state(self.catalog.state)
        self.catalog.share_state(self.state)
        self.gate = RequestGate(spec.max_concurrency, spec.max_queue)
        self.metrics = ServeMetrics(self._breakers, lambda: (self.gate.running, self.gate.waiting))
        self.started_at = time.time()
        self.draining = False

    def _breakers(self) -> Iterator[tuple[str, Any]]:
        seen: set[str] = set()
        for model in self.catalog.models.values():
            if model.spec.deployment not in seen:
                seen.add(model.spec.deployment)
                yield model.spec.deployment, model.breaker

    async def start(self) -> None:
        """Connect the shared state; warn when the server needs no key."""
        await self.state.start()
        if not self.keys.enabled:
            log.warning("no API keys configured: every request is accepted (see docs/serving.md)")

    async def stop(self) -> None:
        """Finish shared-state writes, then close providers and memories."""
        self.draining = True
        await self.state.aclose()
        await self.catalog.aclose()

    async def admit(self, principal: Principal, target: str) -> None:
        """Check the caller may use ``target`` now.

        Raises:
            ApiError: 403 (model not allowed), 429 (budget spent or rate limit reached).
        """
        principal.check_model(target)
        if not principal.limited:
            return
        admission = await self.state.admit(principal.limits)
        if admission.allowed:
            return
        if admission.reason == "budget":
            raise ApiError(
                429,
                f"API key '{principal.name}' has spent its budget",
                type="insufficient_quota",
                code="insufficient_quota",
            )
        raise ApiError(
            429,
            f"rate limit reached for API key '{principal.name}'",
            type="rate_limit_error",
            code="rate_limit_exceeded",
            retry_after=admission.retry_after_s or 1.0,
        )

    async def account(self, principal: Principal, tokens: int, cost_usd: float | None) -> None:
        """Count a finished request against the caller's tokens and budget (a shared-state
        failure is logged: the answer is already paid for, so the client still gets it)."""
        if principal.limited and (tokens or cost_usd):
            try:
                await self.state.record_usage(principal.limits, tokens, cost_usd or 0.0)
            except ApiError as err:
                log.warning("usage of key '%s' not recorded: %s", principal.name, err.message)
