"""The :class:`MemoryHub`: a config's memories, checked up front and opened on first use.

Every store is built through the registry: ``memory.<name>.store`` names a ``fusionsdk.memory``
plugin, ``memory.<name>.embedder`` a ``fusionsdk.embedders`` plugin. Checking (names, options)
happens when the hub is made, so a graph with a bad memory fails to compile with the field's
path; opening (folders, locks, connections, model loading) waits until a node or command first
uses the memory, so compiling never locks a store.

Embedders are built once per process (per plugin and options) and shared by every hub, so a
program that opens memories again and again (a server answering queries, a notebook) loads its
embedding model once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fusionsdk.config.memory import MemorySpec
from fusionsdk.errors import ConfigError
from fusionsdk.memory.base import Embedder, MemoryStore
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import PluginKind, Registry, default_registry

__all__ = ["MemoryHub", "default_memory_spec", "open_memory", "shared_embedder"]

_EMBEDDERS_LOCK = threading.Lock()
# (registry id, plugin name, options) -> (registry, embedder); the registry is kept so its id
# cannot be reused by another registry while the entry lives.
_EMBEDDERS: dict[tuple[int, str, str], tuple[Registry, Embedder]] = {}


def shared_embedder(registry: Registry, key: tuple[str, str], build: Any) -> Embedder:
    """The process's embedder for ``key`` (plugin name, options), built with ``build()`` the
    first time it is asked for."""
    with _EMBEDDERS_LOCK:
        entry = _EMBEDDERS.get((id(registry), *key))
        if entry is None or entry[0] is not registry:
            entry = _EMBEDDERS[(id(registry), *key)] = (registry, build())
        return entry[1]


def default_memory_spec() -> MemorySpec:
    """The memory used with no config: embedded Chroma in ``$FUSIONSDK_HOME/memory``, minilm."""
    from fusionsdk.settings import load_settings

    path = load_settings().home / "memory"
    return MemorySpec.model_validate({"store": "chroma", "path": str(path), "collection": "default"})


class _Plan:
    """A checked memory: its store and embedder plugins with validated options, ready to open."""

    def __init__(self, name: str, spec: MemorySpec, registry: Registry, base_dir: Path) -> None:
        where = f"memory.{name}"
        store_cls = registry.plugin_class(PluginKind.MEMORY, spec.store, path=f"{where}.store")
        registry.plugin_class(PluginKind.EMBEDDERS, spec.embedder, path=f"{where}.embedder")
        fields = spec.fields
        store_fields = getattr(store_cls.Options, "model_fields", {})
        if "collection" in store_fields and "collection" not in fields:
            fields["collection"] = name if len(name) >= 3 else f"{name}-memory"
        if "path" in store_fields and isinstance(fields.get("path"), str):
            path = Path(fields["path"]).expanduser()
            fields["path"] = str(path if path.is_absolute() else base_dir / path)
        self.store = registry.plan(PluginKind.MEMORY, spec.store, fields, path=where)
        self.embedder = registry.plan(
            PluginKind.EMBEDDERS, spec.embedder, spec.embedder_options, path=f"{where}.embedder_options"
        )
        self.embedder_key = (spec.embedder, repr(self.embedder.options))


class MemoryHub(Mapping[str, MemoryStore]):
    """The memories of one config, by name; each store is opened once, when first used.

    Args:
        memory: The ``memory:`` section (name -> :class:`MemorySpec`).
        registry: Where store and embedder plugins come from.
        base_dir: Folder that relative store paths are relative to (the config file's).

    Raises:
        ConfigError: Unknown store or embedder plugin, or bad options, naming the path.

    Example:
        >>> hub = MemoryHub({"docs": MemorySpec(store="ephemeral", embedder="fake")})
        >>> hub["docs"].count()  # doctest: +SKIP
        0
    """

    def __init__(
        self,
        memory: Mapping[str, MemorySpec],
        registry: Registry | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self._registry = registry or default_registry()
        base = base_dir or Path(".")
        self._plans = {name: _Plan(name, spec, self._registry, base) for name, spec in memory.items()}
        self._stores: dict[str, MemoryStore] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> MemoryStore:
        with self._lock:
            store = self._stores.get(name)
            if store is not None:
                return store
            plan = self._plans.get(name)
            if plan is None:
                known = ", ".join(sorted(self._plans)) or "none: add a 'memory:' section"
                raise ConfigError(f"unknown memory '{name}' (known: {known})")
            embedder = shared_embedder(self._registry, plan.embedder_key, plan.embedder.build)
            opened: MemoryStore[Any] = plan.store.build(embedder=embedder)
            self._stores[name] = opened
            return opened

    def __iter__(self) -> Iterator[str]:
        return iter(self._plans)

    def __len__(self) -> int:
        return len(self._plans)

    def check(self, name: Any, path: str) -> str:
        """Fail with a ConfigError at ``path`` unless ``name`` is one of the memories."""
        if name not in self._plans:
            known = ", ".join(sorted(self._plans)) or "none: add a 'memory:' section"
            raise ConfigError(f"unknown memory '{name}' (known: {known})", path=path)
        return str(name)

    def options(self, name: str) -> PluginOptions:
        """The validated store options of memory ``name`` (paths made absolute)."""
        self.check(name, "memory")
        options: PluginOptions = self._plans[name].store.options
        return options

    def close(self) -> None:
        """Close every opened store (frees embedded stores' locks)."""
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()


def open_memory(
    config: str | Path | None = None,
    name: str | None = None,
    *,
    collection: str | None = None,
    registry: Registry | None = None,
) -> tuple[MemoryStore, Path]:
    """Open one memory of a config file (or the default memory when ``config`` is None).

    Args:
        config: A YAML config with a ``memory:`` section.
        name: Which memory; may be omitted when the config has exactly one.
        collection: Use this collection instead of the configured one.
        registry: Where plugins come from.

    Returns:
        The store, and the folder its ``source`` labels are relative to (the config's folder,
        or the working folder for the default memory).

    Raises:
        ConfigError: No such config or memory, several memories and no ``name``, bad options.
    """
    from fusionsdk.config.file import load_config

    if config is None:
        specs, base = {name or "default": default_memory_spec()}, Path.cwd()
    else:
        file = Path(config)
        specs, base = dict(load_config(file).memory), file.resolve().parent
    if not specs:
        raise ConfigError(f"{config} has no 'memory:' section", path="memory")
    if name is None:
        if len(specs) > 1:
            raise ConfigError(
                f"the config has several memories ({', '.join(sorted(specs))}): pick one with --memory"
            )
        name = next(iter(specs))
    if name not in specs:
        raise ConfigError(f"unknown memory '{name}' (known: {', '.join(sorted(specs))})", path="--memory")
    spec = specs[name]
    if collection is not None:
        spec = MemorySpec.model_validate({**spec.model_dump(), "collection": collection})
    hub = MemoryHub({name: spec}, registry, base)
    return hub[name], base
