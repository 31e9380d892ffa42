"""Config files: safe YAML loading and the top-level :class:`FusionConfig`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fusionsdk.config.checkpoint import CheckpointSpec
from fusionsdk.config.graph import END, START, BudgetSpec, NodeSpec
from fusionsdk.config.memory import MemorySpec, check_memory_names
from fusionsdk.config.models import ModelSpec
from fusionsdk.config.privacy import PrivacySpec
from fusionsdk.config.serve import ServeSpec, StateSpec
from fusionsdk.config.validation import combine_errors, config_errors, did_you_mean, nested_in_config
from fusionsdk.errors import ConfigError

__all__ = ["FusionConfig", "load_config", "parse_config", "reference_errors"]


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
        checkpoint: Where durable runs keep their state (see :mod:`fusionsdk.config.checkpoint`);
            in memory when omitted.
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
    checkpoint: CheckpointSpec | None = None

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
    def _check_references(self) -> FusionConfig:
        fallbacks = {name: list(spec.fallbacks) for name, spec in self.models.items()}
        errors = reference_errors(fallbacks, list(self.nodes), list(self.edges))
        if errors:
            raise combine_errors(errors)
        return self


def reference_errors(
    fallbacks: Mapping[str, Sequence[Any]], nodes: Sequence[str], edges: Sequence[Any]
) -> list[ConfigError]:
    """Every dangling name: fallbacks that are not models, edge ends that are not nodes, edges
    the wrong way round, a graph with no way in. Reads raw data too (entries of the wrong shape
    are skipped: field validation reports those).

    Args:
        fallbacks: Each model's fallbacks, by model name.
        nodes: The node names.
        edges: The ``[from, to]`` pairs.
    """
    errors: list[ConfigError] = []
    known = sorted(fallbacks)
    for name, chain in fallbacks.items():
        for i, fallback in enumerate(chain):
            if isinstance(fallback, str) and fallback not in fallbacks:
                errors.append(
                    ConfigError(
                        f"unknown model '{fallback}' (known: {', '.join(known)})"
                        + did_you_mean(fallback, known),
                        path=f"models.{name}.fallbacks[{i}]",
                    )
                )
    for reserved in sorted({START, END} & set(nodes)):
        errors.append(ConfigError(f"'{reserved}' is reserved for the graph's ends", path="nodes"))
    names = ", ".join(sorted(nodes)) or "none"
    pairs = [(i, e) for i, e in enumerate(edges) if isinstance(e, list | tuple) and len(e) == 2]
    for i, (source, target) in pairs:
        for j, end in enumerate((source, target)):
            if isinstance(end, str) and end not in nodes and end not in (START, END):
                hint = did_you_mean(end, [*nodes, START, END])
                errors.append(
                    ConfigError(f"unknown node '{end}' (known: {names}){hint}", path=f"edges[{i}][{j}]")
                )
        if source == END or target == START:
            errors.append(
                ConfigError("edges run from START and into END, not the other way", path=f"edges[{i}]")
            )
    if nodes and not any(source == START for _, (source, _) in pairs):
        errors.append(ConfigError("no edge leaves START: add [START, <first node>]", path="edges"))
    return errors


def _section(data: Mapping[str, Any], key: str, kind: type) -> Any:
    """``data[key]`` when it is a ``kind``, else an empty one."""
    value = data.get(key)
    return value if isinstance(value, kind) else kind()


def _raw_reference_errors(data: Mapping[str, Any]) -> list[ConfigError]:
    """:func:`reference_errors` over unvalidated data (for a config with other errors too)."""
    models = _section(data, "models", dict)
    nodes = _section(data, "nodes", dict)
    edges = _section(data, "edges", list)
    fallbacks = {
        str(name): spec["fallbacks"]
        if isinstance(spec, dict) and isinstance(spec.get("fallbacks"), list)
        else []
        for name, spec in models.items()
    }
    return reference_errors(fallbacks, [str(n) for n in nodes], edges)


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
        with nested_in_config():
            return FusionConfig.model_validate(data)
    except ValidationError as err:  # field errors; the cross-references are checked as well
        raise combine_errors(config_errors(err, "", FusionConfig) + _raw_reference_errors(data)) from None
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
