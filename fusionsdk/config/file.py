"""Config files: safe YAML loading and the top-level :class:`FusionConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fusionsdk.config.graph import END, START, BudgetSpec, NodeSpec
from fusionsdk.config.memory import MemorySpec, check_memory_names
from fusionsdk.config.models import ModelSpec
from fusionsdk.config.privacy import PrivacySpec
from fusionsdk.config.serve import ServeSpec, StateSpec
from fusionsdk.config.validation import validate_model
from fusionsdk.errors import ConfigError

__all__ = ["FusionConfig", "load_config", "parse_config"]


class FusionConfig(BaseModel):
    """A whole config file (``version: 1``).

    Attributes:
        version: Config format version; only 1 exists.
        models: Model specs by name.
        nodes: Graph nodes by name (each a ``kind`` and that kind's fields).
        edges: ``[from, to]`` pairs; ``START`` and ``END`` are the graph's ends.
        budget: Limits of one run.
        privacy: How sensitive requests are recognised and kept on local models.
        memory: Memory stores by name (see :mod:`fusionsdk.config.memory`).
        serve: How ``fusionsdk serve`` runs: API keys, limits (see :mod:`fusionsdk.config.serve`).
        state: Where replicas share state (``redis: URL``); in the process when omitted.
    """

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    nodes: dict[str, NodeSpec] = Field(default_factory=dict)
    edges: list[tuple[str, str]] = Field(default_factory=list)
    budget: BudgetSpec = BudgetSpec()
    privacy: PrivacySpec = PrivacySpec()
    memory: dict[str, MemorySpec] = Field(default_factory=dict)
    serve: ServeSpec = ServeSpec()
    state: StateSpec = StateSpec()

    _check_memory = field_validator("memory")(classmethod(lambda cls, v: check_memory_names(v)))

    @model_validator(mode="before")
    @classmethod
    def _name_models(cls, data: Any) -> Any:
        """Each model's name is its key; a ``name:`` inside must agree."""
        if isinstance(data, dict) and isinstance(data.get("models"), dict):
            named = {}
            for key, spec in data["models"].items():
                if isinstance(spec, dict):
                    if spec.get("name", key) != key:
                        raise ValueError(f"models.{key}.name: must equal its key '{key}'")
                    spec = {**spec, "name": key}
                named[key] = spec
            data = {**data, "models": named}
        return data

    @model_validator(mode="after")
    def _check_fallbacks(self) -> FusionConfig:
        known = sorted(self.models)
        for name, spec in self.models.items():
            for i, fallback in enumerate(spec.fallbacks):
                if fallback not in self.models:
                    raise ConfigError(
                        f"unknown model '{fallback}' (known: {', '.join(known)})",
                        path=f"models.{name}.fallbacks[{i}]",
                    )
        self._check_edges()
        return self

    def _check_edges(self) -> None:
        reserved = {START, END} & set(self.nodes)
        if reserved:
            raise ConfigError(f"'{reserved.pop()}' is reserved for the graph's ends", path="nodes")
        known = ", ".join(sorted(self.nodes)) or "none"
        for i, (source, target) in enumerate(self.edges):
            for j, end in enumerate((source, target)):
                if end not in self.nodes and end not in (START, END):
                    raise ConfigError(f"unknown node '{end}' (known: {known})", path=f"edges[{i}][{j}]")
            if source == END or target == START:
                raise ConfigError("edges run from START and into END, not the other way", path=f"edges[{i}]")
        if self.nodes and not any(source == START for source, _ in self.edges):
            raise ConfigError("no edge leaves START: add [START, <first node>]", path="edges")


def parse_config(data: Any, source: str = "config") -> FusionConfig:
    """Validate already-parsed config data; errors name the field path.

    Raises:
        ConfigError: The data is not a valid config.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping with 'version' and 'models'")
    if "version" not in data:
        raise ConfigError("missing; this fusionsdk reads 'version: 1'", path="version")
    try:
        return validate_model(FusionConfig, data)
    except ValueError as err:  # raised by our own validators with a path inside
        raise ConfigError(str(err)) from None


def load_config(path: str | Path) -> FusionConfig:
    """Read a YAML (or JSON) config file within limits (size, encoding, depth, aliases, number
    length: :mod:`fusionsdk.config.safe_yaml`) with a safe loader, and validate it.

    Raises:
        ConfigError: The file is missing, unreadable, not YAML, beyond a limit, or not a valid
            config.
    """
    from fusionsdk.config.safe_yaml import read_yaml_file

    file = Path(path)
    return parse_config(read_yaml_file(file), source=str(file))
