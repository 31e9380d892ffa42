"""Building a plugin from config: resolve its name, validate its options, then construct it, with
every error naming its place in the config (``nodes.fuse.options.quorum``).

:meth:`Registry.build <fusionsdk.registry.Registry.build>` is the one way fusionsdk turns
``{name, options}`` into a plugin object; :meth:`Registry.plan` does the first two steps only,
for callers that construct later (memories open on first use).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from fusionsdk.config.validation import validate_model
from fusionsdk.errors import ConfigError
from fusionsdk.registry.kinds import PluginKind

if TYPE_CHECKING:
    from fusionsdk.registry.registry import Registry

__all__ = ["PluginPlan", "building_registry", "reroot", "validate_options"]

#: The path prefix a plugin's own errors use for its options (``options.steps[1].arbiter``).
_OWN_ROOT = "options"


def reroot(err: ConfigError, path: str) -> ConfigError:
    """Move an error a plugin raised about its own options (path ``options...`` or none) under
    ``path``, where those options sit in the config; an error with any other path is returned as is.

    Example:
        >>> reroot(ConfigError("bad", path="options.steps[1]"), "nodes.x.options").path
        'nodes.x.options.steps[1]'
    """
    own = err.path or ""
    if own and own != _OWN_ROOT and not own.startswith((f"{_OWN_ROOT}.", f"{_OWN_ROOT}[")):
        return err
    return ConfigError(err.message, path=path + own[len(_OWN_ROOT) :])


def validate_options(plugin_cls: Any, options: Any, path: str) -> Any:
    """``options`` validated against ``plugin_cls.Options`` (an instance of it is kept as is).

    Raises:
        ConfigError: Bad options, naming ``path.<field>``.
    """
    model: type[BaseModel] = plugin_cls.Options
    if isinstance(options, model):
        return options
    if isinstance(options, BaseModel):
        options = options.model_dump(exclude_unset=True)
    return validate_model(model, dict(options) if isinstance(options, Mapping) else options or {}, path)


_BUILDING: ContextVar[Registry | None] = ContextVar("fusionsdk_building_registry", default=None)


def building_registry() -> Registry | None:
    """The registry whose :meth:`PluginPlan.build` is constructing a plugin right now (None
    outside a build): what :class:`~fusionsdk.plugin.PluginBase` takes as its registry when
    none is passed, so every plugin a build constructs, nested ones included, uses it."""
    return _BUILDING.get()


@dataclass(frozen=True)
class PluginPlan:
    """A resolved plugin and its validated options, ready to construct.

    Attributes:
        kind: The plugin kind.
        name: The name the config used.
        cls: The plugin class.
        options: The validated options.
        path: Where the options sit in the config.
        registry: The registry it came from; while the plugin is constructed it is the
            :func:`building_registry`, so the plugins it builds come from the same registry.
    """

    kind: PluginKind
    name: str
    cls: Any
    options: Any
    path: str
    registry: Registry

    def build(self, *args: Any, **context: Any) -> Any:
        """Construct the plugin: ``cls(*args, options, **context)``, with :attr:`registry` as
        the :func:`building_registry` meanwhile.

        Raises:
            ConfigError: The plugin refused its options; a path relative to its options
                (``options.steps[1]``) is put under :attr:`path`.
        """
        token = _BUILDING.set(self.registry)
        try:
            return self.cls(*args, self.options, **context)
        except ConfigError as err:
            raise reroot(err, self.path) from None
        finally:
            _BUILDING.reset(token)
