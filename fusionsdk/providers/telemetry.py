"""OpenTelemetry traces following the GenAI semantic conventions.

Every model call is a ``chat {model}`` span (``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.request.model``, ``gen_ai.request.max_tokens``/``temperature``/``top_p``,
``gen_ai.response.model``, ``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens``/
``output_tokens``, ``error.type``); every tool call an ``execute_tool {tool}`` span; every
graph run an ``invoke_agent`` span with one span per node beneath it, and router, panel, fusion
and arbiter decisions as span events (``fusionsdk.route``, ``fusionsdk.fuse``, ...).

It is a no-op unless ``opentelemetry-api`` is installed and an SDK ``TracerProvider`` is
configured (``pip install 'fusionsdk[interop]'``; see docs/observability.md). Prompts,
completions, tool arguments, tool results and decision reasons are recorded only when opted in
(``FUSIONSDK_TRACE_CONTENT=1`` or ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``),
and then scrubbed of secrets; keys, headers and URLs' credentials never are.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fusionsdk.providers.secrets import redact

if TYPE_CHECKING:
    from fusionsdk.config.models import ModelSpec
    from fusionsdk.providers.base import CompletionRequest

__all__ = [
    "capture_content",
    "enabled",
    "event",
    "fail",
    "model_attributes",
    "response_attributes",
    "set_attributes",
    "span",
    "start_span",
]

_TRACER_NAME = "fusionsdk"
_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


@functools.cache
def _trace_api() -> Any:
    """``opentelemetry.trace``, or None when the API is not installed (looked up once)."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


@functools.cache
def _release() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fusionsdk")
    except PackageNotFoundError:
        return None


def _tracer() -> Any:
    """The tracer, or None when OpenTelemetry is absent or no SDK provider is configured (so
    an unconfigured process computes no attributes at all)."""
    trace = _trace_api()
    if trace is None:
        return None
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return trace.get_tracer(_TRACER_NAME, _release())


def capture_content() -> bool:
    """Whether prompts and completions may go on spans (opt-in)."""
    if os.environ.get(_CONTENT_ENV, "").lower() in ("1", "true", "yes"):
        return True
    from fusionsdk.settings import load_settings

    return load_settings().trace_content


def _clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Drop unset values; OpenTelemetry attributes must be scalars or lists of them."""
    clean: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, list):
            value = [v if isinstance(v, str | int | float | bool) else str(v) for v in value]
        elif not isinstance(value, str | int | float | bool):
            value = json.dumps(value, default=str)
        clean[key] = value
    return clean


def enabled() -> bool:
    """Whether spans are recorded (OpenTelemetry installed and an SDK provider configured)."""
    return _tracer() is not None


class span:  # used as a function: ``with span(name, attributes) as current:``
    """A span made current for the block (None when tracing is off). ``attributes`` may be a
    function, called only when tracing is on. An exception leaving the block sets
    ``error.type`` and an error status, then propagates.

    A class rather than a generator context manager: every model call, node and run enters one,
    and with tracing off it should cost next to nothing.
    """

    __slots__ = ("_attributes", "_current", "_name", "_opened")

    def __init__(
        self, name: str, attributes: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None
    ) -> None:
        self._name = name
        self._attributes = attributes
        self._opened: Any = None

    def __enter__(self) -> Any:
        tracer = _tracer()
        if tracer is None:
            return None
        attributes = self._attributes
        values = attributes() if callable(attributes) else attributes or {}
        opened = tracer.start_as_current_span(self._name, attributes=_clean(values), record_exception=False)
        self._current = opened.__enter__()
        self._opened = opened
        return self._current

    def __exit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> bool | None:
        opened, self._opened = self._opened, None
        if opened is None:
            return None
        if exc is not None:
            fail(self._current, exc)
        return opened.__exit__(kind, exc, traceback)  # type: ignore[no-any-return]


def start_span(name: str, attributes: Callable[[], Mapping[str, Any]]) -> Any:
    """A span that is not made current (for async generators); end it with ``.end()``. None
    when tracing is off (``attributes`` is then not called)."""
    tracer = _tracer()
    return None if tracer is None else tracer.start_span(name, attributes=_clean(attributes()))


def attach(current: Any) -> Any:
    """Make ``current`` the current span until :func:`detach` (for async generators, whose
    body runs in their consumer's context); returns the token to detach with."""
    if current is None:
        return None
    from opentelemetry import context, trace

    return context.attach(trace.set_span_in_context(current))


def detach(token: Any) -> None:
    """Undo :func:`attach` (quietly when the generator was closed from another context)."""
    if token is None:
        return
    from opentelemetry import context

    with contextlib.suppress(Exception):
        context.detach(token)


def fail(current: Any, exc: BaseException) -> None:
    """Mark ``current`` as failed with ``exc``'s type (never its message: it may hold data)."""
    if current is None or not current.is_recording():
        return
    from opentelemetry.trace import Status, StatusCode

    current.set_attribute("error.type", type(exc).__qualname__)
    current.set_status(Status(StatusCode.ERROR, type(exc).__name__))


def set_attributes(current: Any, attributes: Mapping[str, Any]) -> None:
    """Set attributes on ``current`` if it records."""
    if current is not None and current.is_recording():
        current.set_attributes(_clean(attributes))


def span_name(operation: str, target: str) -> str:
    """``{operation} {target}``, the GenAI span naming rule."""
    return f"{operation} {target}"


def event(name: str, attributes: Mapping[str, Any], current: Any = None) -> None:
    """Add an event to ``current`` (default: the current span), if it records."""
    if current is None:
        if _tracer() is None:
            return
        from opentelemetry import trace

        current = trace.get_current_span()
    if current.is_recording():
        current.add_event(name, _clean(attributes))


def content(value: Any) -> str | None:
    """``value`` as scrubbed JSON text when content capture is on, else None."""
    if not capture_content():
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return redact(text)


def model_attributes(spec: ModelSpec, request: CompletionRequest, stream: bool = False) -> dict[str, Any]:
    """The request side of a ``chat`` span."""
    params = request.params
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": spec.provider,
        "gen_ai.request.model": spec.model or spec.name,
        "gen_ai.request.max_tokens": params.max_tokens,
        "gen_ai.request.temperature": params.temperature,
        "gen_ai.request.top_p": params.top_p,
        "gen_ai.request.seed": params.seed,
        "gen_ai.request.stop_sequences": params.stop,
        "fusionsdk.model": spec.name,
        "fusionsdk.stream": stream,
    }
    if request.tools:
        attributes["fusionsdk.request.tools"] = [t.name for t in request.tools]
    if spec.base_url:
        parts = urlsplit(spec.base_url)  # host and port only: never user:password@ or paths
        attributes["server.address"] = parts.hostname
        attributes["server.port"] = parts.port
    attributes["gen_ai.input.messages"] = content(request.messages)
    return attributes


def response_attributes(completion: Any) -> dict[str, Any]:
    """The response side of a ``chat`` span, from a finished Completion."""
    output: Any = None
    if capture_content():
        output = content([completion.message()])
    return {
        "gen_ai.response.model": completion.backend_model,
        "gen_ai.response.finish_reasons": [completion.finish_reason] if completion.finish_reason else None,
        "gen_ai.usage.input_tokens": completion.usage.prompt_tokens,
        "gen_ai.usage.output_tokens": completion.usage.completion_tokens,
        "fusionsdk.cost_usd": completion.cost_usd,
        "fusionsdk.latency_s": completion.latency_s,
        "fusionsdk.attempts": completion.attempts,
        "fusionsdk.locality": completion.locality,
        "fusionsdk.response.tool_calls": [c.name for c in completion.tool_calls] or None,
        "gen_ai.output.messages": output,
    }
