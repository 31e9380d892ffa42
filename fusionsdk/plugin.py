"""What every plugin class shares: the API version it targets and its ``Options`` model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["PluginBase", "PluginOptions"]


class PluginOptions(BaseModel):
    """Base of every plugin's ``Options``: unknown keys are an error naming the field path."""

    model_config = ConfigDict(extra="forbid")


class PluginBase:
    """Mixin of the per-kind base classes (not of providers, which take a spec too).

    Attributes:
        api_version: The fusionsdk plugin API version the plugin was written for.
        Options: The plugin's options; ``options:`` in YAML is validated against it.
    """

    api_version: ClassVar[int] = 1
    Options: ClassVar[type[PluginOptions]] = PluginOptions

    def __init__(self, options: PluginOptions | dict[str, Any] | None = None) -> None:
        from fusionsdk.config.validation import validate_model

        if options is None or isinstance(options, dict):
            options = validate_model(self.Options, options or {}, "options")
        self.options = options
