"""The kinds of plugin fusionsdk knows, their entry-point groups and their contracts."""

from __future__ import annotations

import importlib
from enum import Enum

__all__ = ["PLUGIN_API_VERSION", "PluginKind"]

#: The plugin API version this fusionsdk speaks. A plugin declares the version it was written
#: for in its class attribute ``api_version``; a different major version is refused.
PLUGIN_API_VERSION = 1

_BASES: dict[str, str] = {
    "providers": "fusionsdk.providers.base:Provider",
    "routers": "fusionsdk.routing.base:Router",
    "fusers": "fusionsdk.fusion.base:Fuser",
    "arbiters": "fusionsdk.arbiters.base:Arbiter",
    "memory": "fusionsdk.memory.base:MemoryStore",
    "embedders": "fusionsdk.memory.base:Embedder",
    "nodes": "fusionsdk.graph.base:Node",
    "scorers": "fusionsdk.eval.base:Scorer",
    "tools": "fusionsdk.tools.base:Tool",
    "commands": "fusionsdk.cli.base:Command",
    "answers": "fusionsdk.answers.base:AnswerType",
    "engines": "fusionsdk.eval.engines:EvalEngine",
}


class PluginKind(str, Enum):
    """A kind of plugin; its value is the suffix of the entry-point group ``fusionsdk.<value>``."""

    PROVIDERS = "providers"
    ROUTERS = "routers"
    FUSERS = "fusers"
    ARBITERS = "arbiters"
    MEMORY = "memory"
    EMBEDDERS = "embedders"
    NODES = "nodes"
    SCORERS = "scorers"
    TOOLS = "tools"
    COMMANDS = "commands"
    ANSWERS = "answers"
    ENGINES = "engines"

    @property
    def group(self) -> str:
        """The entry-point group, e.g. ``fusionsdk.fusers``."""
        return f"fusionsdk.{self.value}"

    def base_class(self) -> type:
        """Import and return the base class every plugin of this kind must subclass."""
        module_name, _, attr = _BASES[self.value].partition(":")
        return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]

    @classmethod
    def parse(cls, value: str | PluginKind) -> PluginKind:
        """Turn ``"fusers"`` (or ``"fuser"``) into :attr:`FUSERS`, with a clear error otherwise."""
        from fusionsdk.errors import PluginError

        if isinstance(value, PluginKind):
            return value
        for kind in cls:
            if value in (kind.value, kind.value.rstrip("s")):
                return kind
        known = ", ".join(k.value for k in cls)
        raise PluginError(f"unknown plugin kind '{value}' (known: {known})")
