"""What a server offers: the models, graphs and embedders of its config files, by served name.

* every model of every config, by its name (``smol``);
* every config with nodes as a virtual model ``graph:<file stem>`` (``graph:quickstart``);
* every memory's embedder as ``memory:<name>``, for ``/v1/embeddings``.

A model defined the same way in two configs is served once; defined differently it is an error.
At most one config may carry the ``serve:`` and ``state:`` sections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fusionsdk.config.file import FusionConfig, load_config
from fusionsdk.config.memory import MemorySpec
from fusionsdk.config.serve import ServeSpec, StateSpec
from fusionsdk.errors import ConfigError
from fusionsdk.graph import Graph, compile_config
from fusionsdk.memory.base import Embedder
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.model import Model
from fusionsdk.registry import PluginKind, Registry, default_registry
from fusionsdk.serve.errors import ApiError
from fusionsdk.serve.state.base import SharedState

__all__ = ["GRAPH_PREFIX", "MEMORY_PREFIX", "Catalog"]

GRAPH_PREFIX = "graph:"
MEMORY_PREFIX = "memory:"


class Catalog:
    """The served names of some config files, and what answers each.

    Args:
        configs: Config files (YAML).
        registry: Where plugins come from.

    Raises:
        ConfigError: A config is invalid, two define a name differently, or two carry ``serve:``
            or ``state:``.
    """

    def __init__(self, configs: Sequence[str | Path], registry: Registry | None = None) -> None:
        if not configs:
            raise ConfigError("give at least one config file to serve")
        self.registry = registry or default_registry()
        self.models: dict[str, Model] = {}
        self.graphs: dict[str, Graph] = {}
        self.hubs: list[ModelHub] = []
        self._embedder_specs: dict[str, tuple[MemorySpec, str]] = {}
        self._embedders: dict[str, Embedder] = {}
        self.serve, self.state = ServeSpec(), StateSpec()
        owners: dict[str, Path] = {}
        for path in map(Path, configs):
            config = load_config(path)
            self._take_sections(config, path, owners)
            hub = self._load(config, path)
            self.hubs.append(hub)
            for name, model in hub.items():
                self._add_model(name, model, path, owners)
            for name, spec in config.memory.items():
                self._embedder_specs.setdefault(MEMORY_PREFIX + name, (spec, f"{path}: memory.{name}"))

    def _take_sections(self, config: FusionConfig, path: Path, owners: dict[str, Path]) -> None:
        for section in ("serve", "state"):
            if section not in config.model_fields_set:
                continue
            if section in owners:
                raise ConfigError(
                    f"only one config may have a '{section}:' section (also in {owners[section]})",
                    path=section,
                )
            owners[section] = path
            setattr(self, section, getattr(config, section))

    def _load(self, config: FusionConfig, path: Path) -> ModelHub:
        if not config.nodes:
            return ModelHub(config, self.registry)
        name = GRAPH_PREFIX + path.stem
        if name in self.graphs:
            raise ConfigError(f"two configs would both be served as '{name}'", path=str(path))
        graph = compile_config(config, registry=self.registry, base_dir=path.resolve().parent)
        self.graphs[name] = graph
        hub: ModelHub = graph.hub
        return hub

    def _add_model(self, name: str, model: Model, path: Path, owners: dict[str, Path]) -> None:
        known = self.models.get(name)
        if known is None:
            self.models[name] = model
            owners[f"model:{name}"] = path
        elif known.spec != model.spec:
            raise ConfigError(
                f"model '{name}' is defined differently in {owners[f'model:{name}']} and {path}",
                path=f"models.{name}",
            )

    def share_state(self, state: SharedState) -> None:
        """Give every model the state's breaker for its deployment and its in-flight counter
        (shared across replicas with Redis)."""
        for hub in self.hubs:
            for name, model in hub.items():
                model.breaker = state.breaker(model.spec.deployment, model.spec.breaker)
                model.load = state.in_flight(name)

    def names(self) -> list[str]:
        """Every chat name served: models, then graphs."""
        return [*self.models, *self.graphs]

    def target(self, name: str) -> Model | Graph:
        """What answers chat requests for ``name``.

        Raises:
            ApiError: 404 when nothing is served under that name.
        """
        found: Model | Graph | None = self.models.get(name) or self.graphs.get(name)
        if found is None:
            raise ApiError(
                404,
                f"The model '{name}' does not exist",
                type="not_found_error",
                code="model_not_found",
                param="model",
            )
        return found

    def embedder(self, name: str) -> Embedder:
        """The embedder served as ``name`` (``memory:<memory name>``), built on first use.

        Raises:
            ApiError: 404 when no memory is served under that name.
        """
        found = self._embedders.get(name)
        if found is not None:
            return found
        if name not in self._embedder_specs:
            raise ApiError(
                404,
                f"The embedding model '{name}' does not exist",
                type="not_found_error",
                code="model_not_found",
                param="model",
            )
        spec, where = self._embedder_specs[name]
        embedder: Embedder = self.registry.build(
            PluginKind.EMBEDDERS,
            spec.embedder,
            spec.embedder_options,
            path=f"{where}.embedder_options",
            name_path=f"{where}.embedder",
        )
        self._embedders[name] = embedder
        return embedder

    def embedder_names(self) -> list[str]:
        """Every embedding name served."""
        return list(self._embedder_specs)

    def describe(self, name: str) -> dict[str, Any]:
        """What ``/v1/models`` says about a served name."""
        if name in self.graphs:
            return {"id": name, "object": "model", "created": 0, "owned_by": "fusionsdk-graph"}
        if name in self.models:
            model = self.models[name]
            return {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": f"fusionsdk-{model.locality}",
                "locality": model.locality,
            }
        return {"id": name, "object": "model", "created": 0, "owned_by": "fusionsdk-embedder"}

    async def aclose(self) -> None:
        """Close every provider and memory."""
        await asyncio.gather(*(hub.aclose() for hub in self.hubs), return_exceptions=True)
        for graph in self.graphs.values():
            if graph.context.memories is not None:
                graph.context.memories.close()
