"""Shared plumbing for providers that speak HTTP natively (TGI's ``/generate``, Triton):
status-code mapping, Server-Sent Events parsing and the reachability probe, all on httpx."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx

from fusionsdk.config.models import ModelSpec
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
from fusionsdk.providers.locality import unix_socket_path
from fusionsdk.providers.secrets import api_key, redact

__all__ = [
    "LoopLocalClient",
    "error_for_response",
    "http_endpoint",
    "iter_sse",
    "map_transport_error",
    "probe",
    "probe_deployment",
    "unreachable_reason",
]

# TGI: "`inputs` tokens + `max_new_tokens` must be <= N", "`inputs` must have less than N tokens".
_CONTEXT_HINTS = (
    "must be <=",
    "must have less than",
    "context",
    "too long",
    "maximum length",
    "input_length",
)


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
    from fusionsdk.providers.litellm_boundary import parse_retry_after

    status = response.status_code
    message = redact(f"HTTP {status}: {_body_message(body)}")
    if status in (401, 403):
        return AuthError(message)
    if status == 429:
        return RateLimited(message, retry_after=parse_retry_after(response.headers))
    if status in (408, 504):
        return ProviderTimeout(message)
    if status == 413 or (status in (400, 422) and _is_context_error(message)):
        return ContextWindowExceeded(message)
    if 400 <= status < 500 and status != 424:  # TGI's 424 is a failed generation
        return BadRequest(message)
    return ProviderUnavailable(message)


def _is_context_error(message: str) -> bool:
    return any(hint in message for hint in _CONTEXT_HINTS)


def _stream_error(event: dict[str, Any]) -> ProviderError:
    """The ProviderError for an in-band ``error`` event. TGI reports every failure of
    ``/generate_stream`` this way (status 200), validation errors included, so its
    ``error_type`` decides whether a retry can help."""
    message = redact(f"stream error: {event['error']}")
    kind = event.get("error_type")
    if kind == "validation":
        return ContextWindowExceeded(message) if _is_context_error(message) else BadRequest(message)
    if kind == "overloaded":
        return RateLimited(message)
    return ProviderUnavailable(message)


def unreachable_reason(exc: BaseException) -> str:
    """Why a connection could not be made, in words ("connection refused", "host not found"),
    from ``exc`` and the errors it was raised from."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    for error in seen:
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, socket.gaierror):
            return "host not found"
        if isinstance(error, ConnectionResetError):
            return "connection reset"
        if isinstance(error, httpx.ConnectTimeout | TimeoutError):
            return "timed out while connecting"
    return "connection failed"


def map_transport_error(exc: Exception) -> ProviderError:
    """Translate an httpx transport error (or a JSON decoding error) into a ProviderError; a
    connection that could not be made reads "cannot connect to URL: connection refused"."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, httpx.ConnectError):
        request = getattr(exc, "_request", None)
        where = str(request.url) if request is not None else "the server"
        return ProviderUnavailable(redact(f"cannot connect to {where}: {unreachable_reason(exc)}"))
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(redact(f"timed out: {type(exc).__name__}"))
    if isinstance(exc, httpx.HTTPError):
        return ProviderUnavailable(redact(f"connection failed: {type(exc).__name__}: {exc}"))
    return ProviderUnavailable(redact(f"bad response: {type(exc).__name__}: {exc}"))


async def iter_sse(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Yield the JSON payload of each ``data:`` event; stop at ``[DONE]``.

    Raises:
        ProviderError: The stream carried an ``error`` event (mapped by its ``error_type``).
        ProviderUnavailable: The stream broke.
    """
    check_event_stream(response.headers.get("content-type"))
    events = 0
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        events += 1
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise ProviderUnavailable(f"malformed stream event: {payload[:80]!r}") from exc
        if isinstance(event, dict) and event.get("error"):
            raise _stream_error(event)
        yield event
    if events == 0:
        raise ProviderUnavailable("the stream ended before its first event")


def check_event_stream(content_type: str | None) -> None:
    """Raise :class:`ProviderUnavailable` (so the call fails over) when a server answers a
    stream request with a body that is not an event stream (an HTML error page from a proxy,
    a JSON answer): read as a stream it would be an empty answer that looks finished."""
    if content_type is None:
        return
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind and kind != "text/event-stream":
        raise ProviderUnavailable(f"the server answered a stream with {kind}, not an event stream")


def http_endpoint(base_url: str) -> tuple[str, str | None]:
    """The HTTP base URL to request and the Unix socket to connect through (None: TCP).

    Example:
        >>> http_endpoint("http+unix://%2Frun%2Ftgi.sock/api")
        ('http://localhost/api', '/run/tgi.sock')
    """
    socket = unix_socket_path(base_url)
    if socket is None:
        return base_url, None
    path = base_url.split("://", 1)[1].partition("/")[2]
    return "http://localhost" + (f"/{path}" if path else ""), socket


async def probe(
    url: str, key: str | None = None, timeout_s: float = 3.0, uds: str | None = None
) -> Reachability:
    """GET ``url`` (through the Unix socket ``uds`` when given); ``ok`` on 2xx."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    transport = httpx.AsyncHTTPTransport(uds=uds) if uds else None
    try:
        async with httpx.AsyncClient(timeout=timeout_s, transport=transport) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return Reachability("unreachable", redact(f"{url}: {unreachable_reason(exc)}"))
    if response.is_success:
        return Reachability("ok", f"HTTP {response.status_code}")
    return Reachability("error", redact(f"HTTP {response.status_code}"))


async def probe_deployment(spec: ModelSpec, url: str, uds: str | None = None) -> Reachability:
    """``missing-key`` when ``spec`` names an unset API-key variable (its calls would fail even
    where the health route is open), else :func:`probe` of ``url`` with the key."""
    key = api_key(spec, required=False)
    if spec.api_key_env and key is None:
        return Reachability("missing-key", f"set {spec.api_key_env}")
    return await probe(url, key, uds=uds)


class LoopLocalClient:
    """One ``httpx.AsyncClient`` per event loop (a client must not cross loops; the sync
    wrappers run on their own loop).

    Args:
        timeout_s: Read/connect timeout for every request.
        uds: A Unix socket to connect through instead of TCP.
    """

    def __init__(self, timeout_s: float, uds: str | None = None) -> None:
        import weakref

        self._uds = uds
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))
        self._clients: weakref.WeakKeyDictionary[Any, httpx.AsyncClient] = weakref.WeakKeyDictionary()

    def get(self) -> httpx.AsyncClient:
        """The client of the running loop, created on first use."""
        import asyncio

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
            transport = httpx.AsyncHTTPTransport(uds=self._uds, limits=limits) if self._uds else None
            client = self._clients[loop] = httpx.AsyncClient(
                timeout=self._timeout, limits=limits, transport=transport
            )
        return client

    async def aclose(self) -> None:
        """Close the running loop's client."""
        import asyncio

        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
