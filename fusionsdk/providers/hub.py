"""The :class:`ModelHub`: every model of a config, built through the registry and ready to call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fusionsdk.config.file import FusionConfig, load_config, parse_config
from fusionsdk.config.models import ModelSpec
from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.providers.base import Provider, Reachability
from fusionsdk.providers.breaker import CircuitBreaker
from fusionsdk.providers.locality import unix_socket_path
from fusionsdk.providers.model import Model
from fusionsdk.providers.privacy import PrivacyPolicy
from fusionsdk.registry import PluginKind, Registry, default_registry

__all__ = ["EMBEDDED_MODELS", "ModelHub", "build_provider"]

#: The models available with no config at all: the two tiny models PyPI packages ship.
EMBEDDED_MODELS: dict[str, dict[str, str]] = {
    "smollm2": {"provider": "llamacpp", "model": "smollm2-135m-instruct"},
    "gemma3": {"provider": "llamacpp", "model": "gemma3-270m"},
}


def build_provider(spec: ModelSpec, registry: Registry, path: str) -> Provider[Any]:
    """Instantiate the provider plugin ``spec.provider`` from ``registry`` with its validated
    options.

    Raises:
        ConfigError: Unknown provider, bad options, or a missing ``base_url``.
    """
    provider_cls = registry.plugin_class(PluginKind.PROVIDERS, spec.provider, path=f"{path}.provider")
    if provider_cls.requires_base_url and spec.base_url is None:
        raise ConfigError(f"provider '{spec.provider}' needs a base_url", path=f"{path}.base_url")
    if spec.base_url and unix_socket_path(spec.base_url) and not provider_cls.supports_unix_socket:
        raise ConfigError(
            f"provider '{spec.provider}' cannot reach a Unix socket (the tgi and triton providers can)",
            path=f"{path}.base_url",
        )
    plan = registry.plan(PluginKind.PROVIDERS, spec.provider, spec.options, path=f"{path}.options")
    try:
        provider: Provider[Any] = plan.build(spec)
    except ConfigError as err:
        if err.path:
            raise
        raise ConfigError(err.message, path=f"{path}.options") from None
    return provider


class ModelHub(Mapping[str, Model]):
    """The models of one config, by name. Deployments that share an endpoint share a breaker,
    and every model shares the config's privacy policy (:attr:`privacy`).

    Args:
        config: A validated config.
        registry: Where provider plugins come from (the process-wide one by default).

    Example:
        >>> hub = ModelHub.from_file("fusion.yaml")  # doctest: +SKIP
        >>> hub["smol"].complete("Hi").text  # doctest: +SKIP
    """

    def __init__(self, config: FusionConfig, registry: Registry | None = None) -> None:
        self.config = config
        self._registry = registry or default_registry()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._models: dict[str, Model] = {}
        #: Keeps sensitive requests off hosted models; ``hub.privacy.add_detector(...)`` adds one.
        self.privacy = PrivacyPolicy(config.privacy)
        for name, spec in config.models.items():
            provider = build_provider(spec, self._registry, f"models.{name}")
            breaker = self._breakers.setdefault(
                spec.deployment, CircuitBreaker(spec.deployment, spec.breaker)
            )
            self._models[name] = Model(spec, provider, breaker, self.__getitem__, self.privacy)

    @classmethod
    def from_file(cls, path: str | Path, registry: Registry | None = None) -> ModelHub:
        """Build the hub of a YAML config file."""
        return cls(load_config(path), registry)

    @classmethod
    def from_dict(cls, data: dict[str, object], registry: Registry | None = None) -> ModelHub:
        """Build the hub of config data already in memory."""
        return cls(parse_config(data), registry)

    @classmethod
    def embedded(cls, registry: Registry | None = None) -> ModelHub:
        """The hub of the embedded models ``smollm2`` and ``gemma3`` (no config needed)."""
        return cls.from_dict({"version": 1, "models": dict(EMBEDDED_MODELS)}, registry)

    def __getitem__(self, name: str) -> Model:
        try:
            return self._models[name]
        except KeyError:
            known = ", ".join(sorted(self._models)) or "none"
            raise ConfigError(f"unknown model '{name}' (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._models

    def get(self, name: str, default: Model | None = None) -> Model | None:  # type: ignore[override]
        """The model ``name``, or ``default`` when there is none."""
        return self._models.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)

    async def reachability(self) -> dict[str, Reachability]:
        """Probe every model concurrently; a failing probe is reported, never raised."""

        async def probe(model: Model) -> Reachability:
            try:
                return await asyncio.wait_for(model.provider.reachability(), timeout=10)
            except TimeoutError:
                return Reachability("unreachable", "no answer within 10s")
            except FusionError as err:
                return Reachability("error", str(err))

        results = await asyncio.gather(*(probe(m) for m in self._models.values()))
        return dict(zip(self._models, results, strict=True))

    async def aclose(self) -> None:
        """Close every provider's connections."""
        await asyncio.gather(*(m.provider.aclose() for m in self._models.values()))
