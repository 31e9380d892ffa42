"""The LiteLLM boundary: the only module that imports litellm or sees its exceptions.

LiteLLM is imported lazily (it takes seconds and, unless told otherwise, fetches its price map
over the network at import). Before the import we ask for the bundled price map, switch off its
retries and debug banners, and install the secret filter on its loggers. Every exception it, the
openai SDK or httpx raises is mapped to a :class:`~fusionsdk.errors.ProviderError` subclass here;
a connection that could not be made reads in plain words with its URL ("cannot connect to
http://127.0.0.1:9/v1: connection refused"), not as LiteLLM's "InternalServerError:
OpenAIException - Connection error.".
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
from email.utils import parsedate_to_datetime
from types import ModuleType
from typing import Any

from fusionsdk._sync import on_shutdown
from fusionsdk.errors import (
    AuthError,
    BadRequest,
    ContextWindowExceeded,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from fusionsdk.providers.http import unreachable_reason
from fusionsdk.providers.secrets import install_log_filter, redact

__all__ = ["connection_failure", "litellm", "map_litellm_error", "parse_retry_after"]

_CONTEXT_HINT = re.compile(
    r"context length|context window|maximum context|too many tokens|prompt is too long|"
    r"must be <= \d+|exceeds the model",
    re.IGNORECASE,
)


@functools.cache
def litellm() -> ModuleType:
    """Import and configure LiteLLM once."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    import litellm as module

    module.suppress_debug_info = True
    module.telemetry = False
    module.num_retries = 0
    module.drop_params = False  # per call instead (LiteLLMProvider.drop_params)
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        # LiteLLM's own handlers write INFO/DEBUG lines to stdout, into --json output; its
        # records go through the application's logging configuration instead.
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
    install_log_filter("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "openai", "httpx")
    on_shutdown(_stop_logging_worker)
    return module


async def _stop_logging_worker() -> None:
    """Stop LiteLLM's logging worker, dropping callbacks not yet run (what ``fusionsdk`` does
    before exiting: with ``LITELLM_LOG=DEBUG`` its exit-time flush could otherwise wait forever
    on a logging lock held by a thread that will never release it)."""
    try:
        from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
    except ImportError:  # an older LiteLLM without the worker
        return
    await GLOBAL_LOGGING_WORKER.stop(discard_pending=True, timeout=1.0)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or HTTP date)."""
    if not headers:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis is not None:
            return float(millis) / 1000
        value = headers.get("retry-after")
    except AttributeError:
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import datetime, timezone

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None


def _headers(exc: BaseException) -> Any:
    # LiteLLM keeps the server's headers in ``litellm_response_headers``; its ``response`` is
    # often a stand-in with none.
    response = getattr(exc, "response", None)
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(response, "headers", None),
        getattr(exc, "headers", None),
    ):
        if headers:
            return headers
    return None


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _table() -> list[tuple[type[BaseException], type[ProviderError]]]:
    """Exception classes in the order they must be tested (subclasses first)."""
    import httpx
    import openai

    lm = litellm()
    return [
        (lm.ContextWindowExceededError, ContextWindowExceeded),
        (lm.AuthenticationError, AuthError),
        (lm.PermissionDeniedError, AuthError),
        (lm.RateLimitError, RateLimited),
        (lm.Timeout, ProviderTimeout),
        (lm.BadRequestError, BadRequest),
        (lm.UnprocessableEntityError, BadRequest),
        (lm.NotFoundError, BadRequest),
        (lm.APIConnectionError, ProviderUnavailable),
        (lm.ServiceUnavailableError, ProviderUnavailable),
        (lm.InternalServerError, ProviderUnavailable),
        (openai.AuthenticationError, AuthError),
        (openai.PermissionDeniedError, AuthError),
        (openai.RateLimitError, RateLimited),
        (openai.APITimeoutError, ProviderTimeout),
        (openai.BadRequestError, BadRequest),
        (openai.APIConnectionError, ProviderUnavailable),
        (httpx.TimeoutException, ProviderTimeout),
        (httpx.TransportError, ProviderUnavailable),
    ]


_by_status: dict[int, type[ProviderError]] = {
    400: BadRequest,
    401: AuthError,
    403: AuthError,
    404: BadRequest,
    408: ProviderTimeout,
    413: ContextWindowExceeded,
    422: BadRequest,
    429: RateLimited,
}


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from, outermost first (cycles cut)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 16:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _not_connected(chain: list[BaseException]) -> bool:
    """Whether the chain says a connection could not be made."""
    import httpx
    import openai

    return any(
        isinstance(e, httpx.ConnectError | openai.APIConnectionError | ConnectionError | socket.gaierror)
        or type(e).__name__ == "ClientConnectorError"  # aiohttp, which LiteLLM may use
        for e in chain
    )


def _url(chain: list[BaseException]) -> str | None:
    for error in chain:
        request = getattr(error, "_request", None) or getattr(error, "request", None)
        url = getattr(request, "url", None)
        if url is not None:
            return str(url)
    return None


def connection_failure(exc: BaseException, url: str | None = None) -> ProviderUnavailable | None:
    """A :class:`ProviderUnavailable` saying in plain words that ``url`` could not be reached
    (``cannot connect to URL: connection refused``), when that is what ``exc`` (or what it was
    raised from) says; None for any other error.

    Args:
        exc: The exception LiteLLM, openai, httpx or aiohttp raised.
        url: The server's URL, when the caller knows it (else the request's, if recorded).
    """
    chain = _causes(exc)
    if not _not_connected(chain):
        return None
    where = url or _url(chain) or "the server"
    return ProviderUnavailable(redact(f"cannot connect to {where}: {unreachable_reason(exc)}"))


def map_litellm_error(exc: BaseException, url: str | None = None) -> ProviderError:
    """Translate any LiteLLM/openai/httpx exception into a scrubbed ProviderError.

    Args:
        exc: What LiteLLM raised.
        url: The server's URL (the model's ``base_url``), named when it cannot be reached.
    """
    if isinstance(exc, ProviderError):
        return exc
    unreachable = connection_failure(exc, url)
    if unreachable is not None:
        return unreachable
    message = redact(_message(exc))
    target = next((ours for theirs, ours in _table() if isinstance(exc, theirs)), None)
    status = _status(exc)
    if target is None or target is ProviderError:
        target = _by_status.get(status or 0) or (
            ProviderUnavailable if status is None or status >= 500 else BadRequest
        )
    if target is BadRequest and _CONTEXT_HINT.search(message):
        target = ContextWindowExceeded
    if target is RateLimited:
        return RateLimited(message, retry_after=parse_retry_after(_headers(exc)))
    return target(message)


def _message(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc) or type(exc).__name__
    text = re.sub(r"^(litellm\.\w+: )+", "", text)
    return text.strip()[:500]
