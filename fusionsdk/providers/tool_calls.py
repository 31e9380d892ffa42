"""Tool calling at the provider boundary: tool specs from Python functions, OpenAI-style tool
calls read from a response or assembled from stream deltas, and tool calls found in plain text
(what a chat template that "supports tools" makes a small local model write).

The types themselves (:class:`~fusionsdk.providers.base.ToolSpec`,
:class:`~fusionsdk.providers.base.ToolCall`, :class:`~fusionsdk.providers.base.ToolCallDelta`)
live in :mod:`fusionsdk.providers.base`.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fusionsdk.errors import BadRequest
from fusionsdk.providers.base import ToolCall, ToolCallDelta, ToolChoice, ToolSpec

__all__ = [
    "ToolCallAssembler",
    "coerce_tools",
    "parse_openai_tool_calls",
    "parse_text_tool_calls",
    "spec_from_function",
    "tool_choice_openai",
]

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def new_call_id() -> str:
    """A fresh tool-call id for backends that give none."""
    return f"call_{uuid.uuid4().hex[:24]}"


def spec_from_function(
    func: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> ToolSpec:
    """A :class:`ToolSpec` whose parameters schema comes from ``func``'s signature and hints.

    Example:
        >>> def add(a: int, b: int = 0) -> int:
        ...     "Add two numbers."
        ...     return a + b
        >>> spec_from_function(add).parameters["required"]
        ['a']
    """
    from pydantic import create_model

    fields: dict[str, Any] = {}
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in ("self", "cls"):
            continue
        annotation = Any if param.annotation is inspect.Parameter.empty else param.annotation
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, default)
    tool_name = str(name or getattr(func, "__name__", "tool"))
    arguments_model: Any = create_model(f"{tool_name}_arguments", **fields)
    schema: dict[str, Any] = arguments_model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    doc = description if description is not None else inspect.getdoc(func) or ""
    return ToolSpec(tool_name, doc.strip().split("\n\n")[0], schema)


def coerce_tools(tools: Iterable[Any] | None) -> tuple[ToolSpec, ...]:
    """Turn what callers pass as ``tools`` into specs: :class:`ToolSpec` objects, OpenAI tool
    dicts, objects with a ``tool_spec()`` method (``fusionsdk.tools`` plugins) or functions.

    Raises:
        BadRequest: Something else, or a name the OpenAI schema does not allow.
    """
    specs: list[ToolSpec] = []
    for item in tools or ():
        if isinstance(item, ToolSpec):
            spec = item
        elif isinstance(item, Mapping):
            spec = ToolSpec.from_openai(dict(item))
        elif callable(getattr(item, "tool_spec", None)):
            spec = item.tool_spec()
        elif callable(item):
            spec = spec_from_function(item)
        else:
            raise BadRequest(f"not a tool: {item!r} (give a ToolSpec, an OpenAI tool dict or a function)")
        if not _NAME.fullmatch(spec.name):
            raise BadRequest(f"tool name {spec.name!r} must be 1-64 letters, digits, '_' or '-'")
        specs.append(spec)
    return tuple(specs)


def tool_choice_openai(choice: ToolChoice | None) -> Any:
    """The OpenAI ``tool_choice`` value: ``auto``/``none``/``required`` or a named function."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def decode_arguments(raw: Any) -> dict[str, Any]:
    """Tool arguments as a dict; text that is not a JSON object is kept under ``_raw`` so the
    tool can refuse it (and the model see why) instead of the call failing."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {"_raw": str(raw)}
    return value if isinstance(value, dict) else {"_raw": str(raw)}


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def parse_openai_tool_calls(raw: Sequence[Any] | None) -> tuple[ToolCall, ...]:
    """Read OpenAI-style ``message.tool_calls`` (dicts or SDK objects)."""
    calls = []
    for item in raw or ():
        function = _get(item, "function")
        name = _get(function, "name")
        if not name:
            continue
        calls.append(
            ToolCall(
                _get(item, "id") or new_call_id(), str(name), decode_arguments(_get(function, "arguments"))
            )
        )
    return tuple(calls)


def openai_deltas(raw: Sequence[Any] | None) -> tuple[ToolCallDelta, ...]:
    """Read OpenAI-style streamed ``delta.tool_calls``."""
    deltas = []
    for position, item in enumerate(raw or ()):
        function = _get(item, "function")
        index = _get(item, "index")
        deltas.append(
            ToolCallDelta(
                index=int(index) if index is not None else position,
                id=_get(item, "id"),
                name=_get(function, "name"),
                arguments=_get(function, "arguments") or "",
            )
        )
    return tuple(deltas)


class ToolCallAssembler:
    """Joins streamed :class:`ToolCallDelta` pieces into whole :class:`ToolCall` objects."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, Any]] = {}

    def add(self, deltas: Iterable[ToolCallDelta]) -> None:
        """Take the pieces of one chunk."""
        for delta in deltas:
            part = self._parts.setdefault(delta.index, {"id": None, "name": "", "arguments": []})
            part["id"] = part["id"] or delta.id
            if delta.name:
                part["name"] = part["name"] or delta.name
            part["arguments"].append(delta.arguments)

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls assembled so far, in index order."""
        return tuple(
            ToolCall(p["id"] or new_call_id(), p["name"], decode_arguments("".join(p["arguments"])))
            for _, p in sorted(self._parts.items())
            if p["name"]
        )


def _call_from_json(data: Any, known: set[str]) -> ToolCall | None:
    if not isinstance(data, dict):
        return None
    name = data.get("name")
    if not isinstance(name, str) or (known and name not in known):
        return None
    arguments = data.get("arguments", data.get("parameters", {}))
    return ToolCall(new_call_id(), name, decode_arguments(arguments))


def parse_text_tool_calls(text: str, tools: Sequence[ToolSpec]) -> tuple[str, tuple[ToolCall, ...]]:
    """Find tool calls a model wrote as text: ``<tool_call>{"name":..., "arguments":...}</tool_call>``
    blocks (Hermes, Qwen, SmolLM templates), or the whole reply being such a JSON object (or a
    list of them). Only names of offered ``tools`` count.

    Returns:
        The text with the calls removed, and the calls.
    """
    known = {t.name for t in tools}
    calls: list[ToolCall] = []
    for block in _TAGGED.findall(text):
        try:
            call = _call_from_json(json.loads(block), known)
        except ValueError:
            call = None
        if call is not None:
            calls.append(call)
    if calls:
        return _TAGGED.sub("", text).strip(), tuple(calls)
    stripped = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    if stripped[:1] in "{[":
        try:
            data = json.loads(stripped)
        except ValueError:
            return text, ()
        items = data if isinstance(data, list) else data.get("tool_calls", [data])
        found = [c for c in (_call_from_json(item, known) for item in items) if c is not None]
        if found and len(found) == len(items):
            return "", tuple(found)
    return text, ()
