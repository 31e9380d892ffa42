"""Entry-point discovery and the plugin registry (the only dispatcher in fusionsdk)."""

from __future__ import annotations

import functools
from typing import Any

from fusionsdk.registry.build import PluginPlan, building_registry
from fusionsdk.registry.kinds import PLUGIN_API_VERSION, PluginKind
from fusionsdk.registry.registry import PluginRecord, Registry

__all__ = [
    "PLUGIN_API_VERSION",
    "PluginKind",
    "PluginPlan",
    "PluginRecord",
    "Registry",
    "ambient_registry",
    "default_registry",
    "register",
    "reset_default_registry",
]


@functools.cache
def default_registry() -> Registry:
    """The process-wide registry, created (from the environment) on first use."""
    return Registry()


def ambient_registry() -> Registry:
    """The registry a plugin resolves its nested plugins from when none is passed to it: the
    one whose :meth:`Registry.build` is constructing it, else (a plugin constructed directly in
    code, a public entry point) the process-wide registry."""
    return building_registry() or default_registry()


def reset_default_registry() -> None:
    """Forget the process-wide registry, e.g. after changing ``FUSIONSDK_PLUGINS``."""
    default_registry.cache_clear()


def register(kind: PluginKind | str, name: str, obj: Any, *, replace: bool = False) -> None:
    """Register a plugin in code on the process-wide registry (see :meth:`Registry.register`)."""
    default_registry().register(kind, name, obj, replace=replace)
