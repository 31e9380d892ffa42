"""What every plugin class shares: the API version it targets, its ``Options`` model, the
registry it builds nested plugins from, and the one declaration of the graph models it calls."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from fusionsdk.registry import Registry

__all__ = ["OptionsT", "PluginBase", "PluginOptions", "check_models", "models_named"]


class PluginOptions(BaseModel):
    """Base of every plugin's ``Options``: unknown keys are an error naming the field path."""

    model_config = ConfigDict(extra="forbid")


#: The type of a plugin's validated ``options`` (its ``Options`` model).
OptionsT = TypeVar("OptionsT", bound=PluginOptions)


def models_named(options: Any, fields: Collection[str]) -> dict[str, str]:
    """The model names found in ``options`` under ``fields`` (dotted paths; a field holds a
    string or a list of strings), by option path: ``{"judge": "gemma", "models[1]": "smol"}``."""
    found: dict[str, str] = {}
    for field in fields:
        value: Any = options
        for part in field.split("."):
            value = value.get(part) if isinstance(value, Mapping) else getattr(value, part, None)
        if isinstance(value, str):
            found[field] = value
        elif isinstance(value, list | tuple):
            found.update({f"{field}[{i}]": v for i, v in enumerate(value) if isinstance(v, str)})
    return found


def check_models(plugin: PluginBase[Any], known: Collection[str], path: str) -> None:
    """Fail unless every model ``plugin`` calls (:meth:`PluginBase.referenced_models`) is one
    of ``known``; the error names ``path.<option path>``.

    Raises:
        ConfigError: An unknown model.
    """
    from fusionsdk.config.validation import combine_errors, did_you_mean
    from fusionsdk.errors import ConfigError

    names = ", ".join(sorted(known)) or "none"
    errors = [
        ConfigError(
            f"unknown model '{model}' (known: {names}){did_you_mean(model, known)}", path=f"{path}.{where}"
        )
        for where, model in plugin.referenced_models().items()
        if model not in known
    ]
    if errors:
        raise combine_errors(errors)


class PluginBase(Generic[OptionsT]):
    """Mixin of the per-kind base classes (not of providers, which take a spec too), generic in
    the plugin's options: ``class Judge(Arbiter["Judge.Options"])`` types ``self.options``.

    Args:
        options: Validated options, or raw ones (validated against :attr:`Options`).
        registry: The registry nested plugins come from; by default the one whose
            :meth:`Registry.build <fusionsdk.registry.Registry.build>` is constructing this
            plugin (see :func:`~fusionsdk.registry.ambient_registry`).

    Attributes:
        api_version: The fusionsdk plugin API version the plugin was written for.
        Options: The plugin's options; ``options:`` in YAML is validated against it.
        model_refs: Option fields (dotted paths) that name graph models, as a string or a list
            of strings: the one declaration of the models a plugin calls. The compiler checks
            them against the config's models, naming the path on error; plugins that name
            models elsewhere override :meth:`referenced_models`.
    """

    api_version: ClassVar[int] = 1
    Options: ClassVar[type[PluginOptions]] = PluginOptions
    model_refs: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        options: PluginOptions | Mapping[str, Any] | None = None,
        *,
        registry: Registry | None = None,
    ) -> None:
        from fusionsdk.config.validation import validate_model
        from fusionsdk.registry import ambient_registry

        if options is None or isinstance(options, Mapping):
            options = validate_model(self.Options, dict(options or {}), "options")
        self.options: OptionsT = cast("OptionsT", options)
        self._registry = registry or ambient_registry()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to a Ray worker, say) without its registry, which holds locks; unpickled, it
        resolves nested plugins from that process's registry."""
        state = dict(self.__dict__)
        state.pop("_registry", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        from fusionsdk.registry import ambient_registry

        self.__dict__.update(state)
        self._registry = ambient_registry()

    @property
    def registry(self) -> Registry:
        """Where this plugin resolves the plugins it builds (steps, inner routers, embedders):
        the one passed, else the registry whose build constructed it, else (constructed directly
        in code) the process-wide one (:func:`~fusionsdk.registry.ambient_registry`)."""
        return self._registry

    def referenced_models(self) -> dict[str, str]:
        """The graph models this plugin calls, by option path (``{"judge": "gemma"}``); by
        default those its :attr:`model_refs` fields name."""
        return models_named(self.options, self.model_refs)
