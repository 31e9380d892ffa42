"""Errors in OpenAI's shape, with the status each failure deserves.

Every failure leaves the server as ``{"error": {"message", "type", "param", "code"}}``; the message
is scrubbed of anything that looks like a secret and never carries a traceback:

=======================================  ======  ==========================
failure                                  status  type
=======================================  ======  ==========================
malformed request, bad parameter         400     invalid_request_error
missing or unknown API key               401     authentication_error
sensitive request, hosted-only target    403     permission_error
model or graph the key may not call      403     permission_error
unknown model                            404     not_found_error
body too large                           413     invalid_request_error
rate limit, full queue, budget spent     429     rate_limit_error / insufficient_quota
upstream failed (5xx, refused, auth)     502     upstream_error
reply never matched ``response_format``  502     upstream_error
every deployment's breaker open          503     service_unavailable
upstream or request timeout              504     timeout
=======================================  ======  ==========================
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fusionsdk.errors import (
    AllModelsFailed,
    BadRequest,
    BudgetExceeded,
    CircuitOpen,
    ConfigError,
    FusionError,
    GraphError,
    PrivacyViolation,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    StructuredOutputError,
)
from fusionsdk.providers.secrets import redact

__all__ = ["ApiError", "api_error_from"]

log = logging.getLogger("fusionsdk.serve")


class ApiError(FusionError):
    """A failure to report to the client.

    Args:
        status: HTTP status.
        message: What went wrong (no secrets).
        type: OpenAI's error ``type``.
        code: A stable machine-readable code.
        param: The request field at fault, if any.
        retry_after: Seconds for the ``Retry-After`` header (429/503).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, redact(message), type, code
        self.param, self.retry_after = param, retry_after

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def headers(self) -> dict[str, str]:
        """``Retry-After`` when the client should wait (whole seconds, at least 1)."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


def _provider_error(err: ProviderError) -> ApiError:
    message = str(err)
    if isinstance(err, RateLimited):
        return ApiError(
            429,
            message,
            type="rate_limit_error",
            code="upstream_rate_limited",
            retry_after=err.retry_after or 1.0,
        )
    if isinstance(err, CircuitOpen):
        return ApiError(503, message, type="service_unavailable", code="circuit_open", retry_after=1.0)
    if isinstance(err, ProviderTimeout):
        return ApiError(504, message, type="timeout", code="upstream_timeout")
    if isinstance(err, BadRequest):
        return ApiError(400, message, code="upstream_bad_request")
    return ApiError(502, message, type="upstream_error", code="upstream_error")


def api_error_from(err: BaseException) -> ApiError:
    """The client-facing error for any exception (unexpected ones are logged by type only)."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, ProviderError):
        return _provider_error(err)
    if isinstance(err, AllModelsFailed):
        mapped = [_provider_error(e) for e in err.errors]
        status = min(m.status for m in mapped) if mapped else 502
        first = next(m for m in mapped if m.status == status) if mapped else None
        return ApiError(
            status,
            str(err),
            type=first.type if first else "upstream_error",
            code=first.code if first else "upstream_error",
            retry_after=first.retry_after if first else None,
        )
    if isinstance(err, PrivacyViolation):
        return ApiError(403, str(err), type="permission_error", code="privacy_violation")
    if isinstance(err, ConfigError | BudgetExceeded):
        return ApiError(400, str(err), code="invalid_request")
    if isinstance(err, StructuredOutputError):
        return ApiError(502, str(err), type="upstream_error", code="structured_output_invalid")
    if isinstance(err, GraphError):
        return ApiError(502, str(err), type="upstream_error", code="graph_error")
    if isinstance(err, TimeoutError):
        return ApiError(
            504, "the request took longer than the server's limit", type="timeout", code="timeout"
        )
    log.error("unexpected %s while serving a request", type(err).__name__)
    return ApiError(500, "internal server error", type="server_error", code="internal_error")
