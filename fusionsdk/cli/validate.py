"""``fusionsdk validate CONFIG`` and ``fusionsdk schema``.

``validate`` reports every problem of a config in one run, each with its path and, for a typo,
the name it probably meant; ``schema`` prints the JSON Schema for the installed plugins.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from fusionsdk.cli._common import stdout
from fusionsdk.cli.base import Command
from fusionsdk.config.file import FusionConfig, load_config
from fusionsdk.config.graph import NodeSpec
from fusionsdk.config.schema import BUILTIN_PLUGIN_FIELDS, config_schema
from fusionsdk.config.validation import combine_errors, did_you_mean
from fusionsdk.errors import ConfigError, PluginError
from fusionsdk.registry import PluginKind, Registry, default_registry

__all__ = ["SchemaCommand", "ValidateCommand", "check_config", "installed_schema"]


def installed_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The config JSON Schema for the plugins ``registry`` (the process-wide one) offers."""
    registry = registry or default_registry()
    plugins = {kind.value: registry.names(kind) for kind in PluginKind if kind is not PluginKind.COMMANDS}
    node_options = {}
    for name in registry.names(PluginKind.NODES):
        try:
            node_options[name] = registry.get(PluginKind.NODES, name).Options
        except PluginError:  # a broken node plugin: `fusionsdk plugins list` says why
            continue
    return config_schema(node_options, plugins)


def _errors(check: Any, *args: Any) -> list[ConfigError]:
    """The problems ``check(*args)`` raises (a PluginError naming a plugin is one at the last
    argument, its config path)."""
    try:
        check(*args)
    except PluginError as err:
        return [ConfigError(str(err), path=args[-1] if args and isinstance(args[-1], str) else None)]
    except ConfigError as err:
        return list(err.errors)
    return []


def _plugin(registry: Registry, kind: str, name: str, path: str) -> None:
    registry.plugin_class(kind, name, path=path)


def _node_errors(
    nodes: Mapping[str, NodeSpec], models: Collection[str], registry: Registry
) -> list[ConfigError]:
    """Each node's problems: its kind, the plugins its fields name, its fields, its models."""
    from fusionsdk.plugin import check_models, models_named
    from fusionsdk.registry.build import validate_options

    errors = []
    known = sorted(models)
    for name, spec in nodes.items():
        where = f"nodes.{name}"
        try:
            plugin_cls = registry.plugin_class(PluginKind.NODES, spec.kind, path=f"{where}.kind")
        except ConfigError as err:
            errors += err.errors
            continue
        found: list[ConfigError] = []
        for (node_kind, field), kind in BUILTIN_PLUGIN_FIELDS.items():
            value = spec.fields.get(field)
            if node_kind == spec.kind and isinstance(value, str):
                found += _errors(_plugin, registry, kind, value, f"{where}.{field}")
        found += _errors(validate_options, plugin_cls, spec.fields, where)
        for ref, model in models_named(spec.fields, plugin_cls.model_refs).items():
            if model not in models:
                message = f"unknown model '{model}' (known: {', '.join(known)}){did_you_mean(model, known)}"
                found.append(ConfigError(message, path=f"{where}.{ref}"))
        if not found:  # the node itself may check more (and name models elsewhere)
            plan = registry.plan(PluginKind.NODES, spec.kind, spec.fields, path=where)
            found += _errors(
                lambda plan=plan, name=name, where=where: check_models(plan.build(name=name), models, where)
            )
        errors += found
    return errors


def _raw_errors(file: Path, registry: Registry) -> list[ConfigError]:
    """The plugin names (providers, node kinds and their fields) of a config that failed to
    load, checked on its raw data so one run reports them with the file's other problems."""
    from fusionsdk.config.safe_yaml import read_yaml_file

    try:
        data = read_yaml_file(file)  # within the same limits as load_config (a hostile file)
    except ConfigError:
        return []
    if not isinstance(data, dict):
        return []
    raw_models: Any = data.get("models")
    models: dict[str, Any] = raw_models if isinstance(raw_models, dict) else {}
    errors: list[ConfigError] = []
    for name, spec in models.items():
        if isinstance(spec, dict) and isinstance(spec.get("provider"), str):
            path = f"models.{name}.provider"
            errors += _errors(_plugin, registry, PluginKind.PROVIDERS, spec["provider"], path)
    nodes = {}
    raw_nodes: Any = data.get("nodes")
    for name, raw in (raw_nodes if isinstance(raw_nodes, dict) else {}).items():
        try:
            nodes[str(name)] = NodeSpec.model_validate(raw)
        except ValidationError:
            continue  # load_config reported it
    return errors + _node_errors(nodes, [str(m) for m in models], registry)


def check_config(path: str | Path, registry: Registry | None = None) -> FusionConfig:
    """Check a config completely without running anything, collecting every problem: the
    file's fields and references, then each model's provider, each memory and each node on its
    own, then (when all of those pass) the compiled graph.

    Raises:
        ConfigError: Every problem, each with its path (:attr:`ConfigError.errors`).
    """
    from fusionsdk.graph import compile_file
    from fusionsdk.memory.hub import MemoryHub
    from fusionsdk.providers.hub import ModelHub, build_provider

    registry = registry or default_registry()
    file = Path(path)
    try:
        config = load_config(file)
    except ConfigError as err:  # the file's own problems; the plugins it names are checked too
        raise combine_errors([*err.errors, *_raw_errors(file, registry)]) from None
    errors: list[ConfigError] = []
    for name, spec in config.models.items():
        errors += _errors(build_provider, spec, registry, f"models.{name}")
    for name, memory in config.memory.items():
        errors += _errors(MemoryHub, {name: memory}, registry, file.resolve().parent)
    errors += _node_errors(config.nodes, config.models, registry)
    if errors:
        raise combine_errors(errors)
    if config.nodes:
        compile_file(file, registry=registry)
    else:
        ModelHub(config, registry)
    return config


def validate(config: Path = typer.Argument(..., help="Config file to check.")) -> None:
    """Check a config completely (models, providers, nodes, edges) without running anything.

    Exits 0 with a one-line summary, or 2 listing every problem with its path.
    """
    try:
        loaded = check_config(config)
    except ConfigError as err:
        if len(err.errors) == 1:
            raise
        listing = "".join(f"\n  {problem}" for problem in err.errors)
        raise ConfigError(f"{config}: {len(err.errors)} problems:{listing}", errors=err.errors) from None
    stdout.print(
        f"{config}: ok ({len(loaded.models)} models, {len(loaded.nodes)} nodes, {len(loaded.edges)} edges)",
        markup=False,
    )


def schema() -> None:
    """Print the config file's JSON Schema for the installed plugins (for editor completion):
    node kinds with their own fields, providers and strategies as enums."""
    typer.echo(json.dumps(installed_schema(), indent=2))


class ValidateCommand(Command):
    """``fusionsdk validate``: check a config."""

    def build(self) -> Any:
        return validate


class SchemaCommand(Command):
    """``fusionsdk schema``: the config JSON Schema."""

    def build(self) -> Any:
        return schema
