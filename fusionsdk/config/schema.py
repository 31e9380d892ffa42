"""The JSON Schema of config files, generated from the same pydantic models the loader uses.

The loader's models keep plugin names as free strings (plugins are found at run time); the
schema is made for one set of installed plugins, passed in (``fusionsdk schema`` reads them from
the registry), so an editor knows exactly what this installation accepts:

- ``nodes``: a union discriminated by ``kind``, one branch per node kind with that kind's own
  fields (its ``Options``), so ``kind: panle`` and a ``quorm:`` field are errors;
- ``provider``, ``store``, ``embedder`` and the fields of node kinds that name a strategy
  (``fuse.strategy``, ``router.strategy``, ``agent.router``, ``arbitrate.arbiter``, ``tool.tool``)
  are enums of the installed plugin names;
- a model's ``name`` is optional: the loader takes it from its key under ``models:``.

A plugin's own ``Options`` field can declare the plugin kind it names with
``Field(json_schema_extra={"plugin_kind": "fusers"})``.

Example:
    >>> schema = config_schema({}, {"providers": ["fake", "tgi"]})
    >>> schema["$defs"]["ModelSpec"]["properties"]["provider"]["enum"]
    ['fake', 'tgi']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, create_model

from fusionsdk.config.file import FusionConfig
from fusionsdk.config.memory import MemorySpec
from fusionsdk.config.models import ModelSpec

__all__ = ["BUILTIN_PLUGIN_FIELDS", "SCHEMA_DIALECT", "config_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: Fields of the built-in node kinds that name a plugin: ``(node kind, field) -> plugin kind``.
BUILTIN_PLUGIN_FIELDS: dict[tuple[str, str], str] = {
    ("agent", "router"): "routers",
    ("router", "strategy"): "routers",
    ("fuse", "strategy"): "fusers",
    ("arbitrate", "arbiter"): "arbiters",
    ("tool", "tool"): "tools",
}


def _names(plugins: Mapping[str, Sequence[str]], kind: str) -> Any:
    """``Literal[...]`` of the installed names of ``kind`` (``str`` when there are none)."""
    names = tuple(sorted(set(plugins.get(kind, ()))))
    return Literal[names] if names else str  # type: ignore[valid-type]


def _plugin_kind(kind: str, field: str, info: Any, extra: Mapping[tuple[str, str], str]) -> str | None:
    declared = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    found = declared.get("plugin_kind") or extra.get((kind, field))
    return str(found) if found else None


def _node_model(
    kind: str,
    options: type[BaseModel],
    plugins: Mapping[str, Sequence[str]],
    plugin_fields: Mapping[tuple[str, str], str],
) -> type[BaseModel]:
    """The node kind's ``Options`` with ``kind: <kind>`` added and plugin fields as enums."""
    fields: dict[str, Any] = {"kind": (Literal[kind], Field(description=f"Node kind '{kind}'."))}
    for field, info in options.model_fields.items():
        plugin_kind = _plugin_kind(kind, field, info, plugin_fields)
        if plugin_kind is None:
            continue
        names = _names(plugins, plugin_kind)
        optional = info.default is None and not info.is_required()
        annotation = names | None if optional else names
        fields[field] = (annotation, info.default if not info.is_required() else ...)
    title = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", kind) if part) or "Custom"
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{title}Node", __base__=options, __doc__=options.__doc__, **fields
    )
    return model


def config_schema(
    node_options: Mapping[str, type[BaseModel]],
    plugins: Mapping[str, Sequence[str]],
    *,
    plugin_fields: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """The config file's JSON Schema for these node kinds and plugin names.

    Args:
        node_options: Each node kind's ``Options`` model, by kind name.
        plugins: Installed plugin names by plugin kind (``providers``, ``fusers``, ``arbiters``,
            ``routers``, ``embedders``, ``memory``, ``scorers``, ``tools``).
        plugin_fields: ``(node kind, field) -> plugin kind`` for node fields that name a plugin
            (default: :data:`BUILTIN_PLUGIN_FIELDS`).
    """
    table = BUILTIN_PLUGIN_FIELDS if plugin_fields is None else plugin_fields
    model_spec = create_model(  # type: ignore[call-overload]
        "ModelSpec",
        __base__=ModelSpec,
        __doc__=ModelSpec.__doc__,
        name=(str | None, Field(None, description="Optional: the key under models: is the name.")),
        provider=(_names(plugins, "providers"), Field(description="A fusionsdk.providers plugin.")),
    )
    memory_spec = create_model(  # type: ignore[call-overload]
        "MemorySpec",
        __base__=MemorySpec,
        __doc__=MemorySpec.__doc__,
        store=(_names(plugins, "memory"), "chroma"),
        embedder=(_names(plugins, "embedders"), "minilm"),
    )
    branches = [_node_model(k, o, plugins, table) for k, o in sorted(node_options.items())]
    node: Any = str
    if len(branches) == 1:
        node = branches[0]
    elif branches:
        node = Annotated[Union[tuple(branches)], Field(discriminator="kind")]  # noqa: UP007
    fields: dict[str, Any] = {
        "models": (dict[str, model_spec], Field(default_factory=dict)),
        "memory": (dict[str, memory_spec], Field(default_factory=dict)),
    }
    if branches:
        fields["nodes"] = (dict[str, node], Field(default_factory=dict))
    config = create_model("FusionConfig", __base__=FusionConfig, __doc__=FusionConfig.__doc__, **fields)  # type: ignore[call-overload]
    schema: dict[str, Any] = {"$schema": SCHEMA_DIALECT, **config.model_json_schema()}
    schema["title"] = "fusionsdk config"
    scorers = sorted(set(plugins.get("scorers", ())))
    if scorers:  # not part of config files (eval takes --scorer), for tools that want the names
        schema.setdefault("$defs", {})["ScorerName"] = {"enum": scorers, "type": "string"}
    return schema
