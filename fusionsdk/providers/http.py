"""Shared plumbing for providers that speak HTTP natively (TGI's ``/generate``, Triton):
status-code mapping, Server-Sent Events parsing and the reachability probe, all on httpx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from fusionsdk.errors import (
    AuthError,
    BadRequest,
    ContextWindowExceeded,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from fusionsdk.providers.base import Reachability
from fusionsdk.providers.secrets import redact

__all__ = ["error_for_response", "iter_sse", "map_transport_error", "probe"]

_CONTEXT_HINTS = ("must be <=", "context", "too long", "maximum length", "input_length")


def _body_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no body"
    if isinstance(data, dict):
        error = data.get("error", data.get("message", data))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:300]
    return text[:300]


def error_for_response(response: httpx.Response, body: bytes) -> ProviderError:
    """The ProviderError for a non-2xx response (``body`` already read)."""
    from fusionsdk.providers._litellm import parse_retry_after

    status = response.status_code
    message = redact(f"HTTP {status}: {_body_message(body)}")
    if status in (401, 403):
        return AuthError(message)
    if status == 429:
        return RateLimited(message, retry_after=parse_retry_after(response.headers))
    if status in (408, 504):
        return ProviderTimeout(message)
    if status == 413 or (status in (400, 422) and any(h in message for h in _CONTEXT_HINTS)):
        return ContextWindowExceeded(message)
    if 400 <= status < 500 and status != 424:  # TGI's 424 is a failed generation
        return BadRequest(message)
    return ProviderUnavailable(message)


def map_transport_error(exc: Exception) -> ProviderError:
    """Translate an httpx transport error (or a JSON decoding error) into a ProviderError."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(redact(f"timed out: {type(exc).__name__}"))
    if isinstance(exc, httpx.HTTPError):
        return ProviderUnavailable(redact(f"connection failed: {type(exc).__name__}: {exc}"))
    return ProviderUnavailable(redact(f"bad response: {type(exc).__name__}: {exc}"))


async def iter_sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Yield the JSON payload of each ``data:`` event; stop at ``[DONE]``.

    Raises:
        ProviderUnavailable: The stream broke or carried an ``error`` event.
    """
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise ProviderUnavailable(f"malformed stream event: {payload[:80]!r}") from exc
        if isinstance(event, dict) and event.get("error"):
            raise ProviderUnavailable(redact(f"stream error: {event['error']}"))
        yield event


async def probe(url: str, key: str | None = None, timeout_s: float = 3.0) -> Reachability:
    """GET ``url``; ``ok`` on 2xx. Used by ``fusionsdk models``."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return Reachability("unreachable", redact(f"{type(exc).__name__}"))
    if response.is_success:
        return Reachability("ok", f"HTTP {response.status_code}")
    return Reachability("error", redact(f"HTTP {response.status_code}"))


class LoopLocalClient:
    """One ``httpx.AsyncClient`` per event loop (a client must not cross loops; the sync
    wrappers run on their own loop).

    Args:
        timeout_s: Read/connect timeout for every request.
    """

    def __init__(self, timeout_s: float) -> None:
        import weakref

        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        self._clients: weakref.WeakKeyDictionary[Any, httpx.AsyncClient] = weakref.WeakKeyDictionary()

    def get(self) -> httpx.AsyncClient:
        """The client of the running loop, created on first use."""
        import asyncio

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
            client = self._clients[loop] = httpx.AsyncClient(timeout=self._timeout, limits=limits)
        return client

    async def aclose(self) -> None:
        """Close the running loop's client."""
        import asyncio

        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
