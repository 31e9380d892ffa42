"""What every conformance suite checks, whatever the kind, and helpers the suites share.

A suite is a plain class of pytest tests. A plugin author subclasses it in a test module, names
the subclass ``Test...`` so pytest collects it, and points it at the plugin::

    class TestMyFuser(FuserConformance):
        plugin_class = MyFuser
        plugin_options = {"threshold": 0.7}

The suites need pytest and pytest-asyncio (they mark their async tests, so both the ``auto``
and the ``strict`` asyncio mode work).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

import pytest
from pydantic import BaseModel

from fusionsdk.errors import ConfigError
from fusionsdk.registry import PLUGIN_API_VERSION, PluginKind, Registry
from fusionsdk.settings import Settings

__all__ = ["PluginConformance", "assert_number", "run_in_threads"]

T = TypeVar("T")
R = TypeVar("R")

#: An option name no plugin declares: the suites use it to check unknown options are refused.
UNKNOWN_OPTION = "no_such_option_for_conformance"


def assert_number(value: Any, what: str) -> None:
    """Fail unless ``value`` is a finite int or float (bools are not numbers here)."""
    assert isinstance(value, int | float) and not isinstance(value, bool), (
        f"{what} should be a number, got {value!r}"
    )
    assert math.isfinite(value), f"{what} should be finite, got {value!r}"


def run_in_threads(function: Callable[[T], R], inputs: Sequence[T], workers: int = 8) -> list[R]:
    """Call ``function`` on each input from ``workers`` threads at once; results keep input order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(function, inputs))


class PluginConformance:
    """Checks every plugin kind shares: API version, base class, docstring, options, registry.

    Attributes:
        kind: The plugin kind under test (set by each suite).
        plugin_class: The plugin class under test; set it in your subclass.
        plugin_options: Options (as in YAML) the default ``plugin`` fixture builds it with.

    Override the ``plugin`` fixture when the plugin needs collaborators to be built (an
    embedder, a temporary folder), and :meth:`build` when its constructor takes more than its
    options.
    """

    kind: ClassVar[PluginKind]
    plugin_class: ClassVar[type[Any] | None] = None
    plugin_options: ClassVar[Mapping[str, Any]] = {}

    @pytest.fixture
    def plugin(self) -> Any:
        """The plugin under test, built from :attr:`plugin_class` and :attr:`plugin_options`."""
        return self.build(self._required_class(), self.plugin_options)

    def _required_class(self) -> type[Any]:
        if self.plugin_class is None:
            pytest.fail(
                f"{type(self).__name__}: set plugin_class = <your plugin class> "
                "(or override the plugin fixture)"
            )
        return self.plugin_class

    def build(self, plugin_class: type[Any], options: Mapping[str, Any]) -> Any:
        """Build ``plugin_class`` from raw options; override if its constructor needs more."""
        return plugin_class(dict(options))

    def rebuild(self, plugin: Any, options: Mapping[str, Any]) -> Any:
        """Build another plugin like ``plugin`` from raw (YAML-like) options."""
        return self.build(type(plugin), options)

    # -- identity and contract -----------------------------------------------------------------

    def test_targets_the_supported_plugin_api_version(self, plugin: Any) -> None:
        declared = getattr(type(plugin), "api_version", None)
        assert declared == PLUGIN_API_VERSION, (
            f"{type(plugin).__qualname__}.api_version is {declared!r}; "
            f"this fusionsdk speaks plugin API version {PLUGIN_API_VERSION}"
        )

    def test_subclasses_the_base_class_of_its_kind(self, plugin: Any) -> None:
        base = self.kind.base_class()
        assert isinstance(plugin, base), f"{type(plugin).__qualname__} is not a {base.__qualname__}"

    def test_is_accepted_by_the_registry(self, plugin: Any) -> None:
        registry = Registry(Settings(plugins="", disable_plugin_autoload=False), discover=lambda kind: ())
        registry.register(self.kind, "conformance_probe", type(plugin))
        assert registry.get(self.kind, "conformance_probe") is type(plugin)

    def test_has_its_own_docstring(self, plugin: Any) -> None:
        # `fusionsdk plugins show` prints it; inspect.getdoc would fall back to the base's.
        doc = type(plugin).__dict__.get("__doc__")
        assert doc and doc.strip(), f"{type(plugin).__qualname__} needs a docstring saying what it does"

    # -- options -------------------------------------------------------------------------------

    def test_options_are_a_pydantic_model_that_forbids_unknown_keys(self, plugin: Any) -> None:
        options_class = type(plugin).Options
        assert issubclass(options_class, BaseModel), "Options must be a pydantic model"
        assert options_class.model_config.get("extra") == "forbid", (
            'Options must forbid unknown keys: subclass PluginOptions or set extra="forbid"'
        )
        json.dumps(options_class.model_json_schema())  # `fusionsdk plugins show` prints it

    def test_options_round_trip_through_json(self, plugin: Any) -> None:
        assert isinstance(plugin.options, type(plugin).Options)
        dumped = json.loads(json.dumps(plugin.options.model_dump(mode="json")))
        again = self.rebuild(plugin, dumped)
        assert again.options == plugin.options

    def test_unknown_option_is_a_config_error_naming_it(self, plugin: Any) -> None:
        dumped = plugin.options.model_dump(mode="json")
        with pytest.raises(ConfigError, match=UNKNOWN_OPTION):
            self.rebuild(plugin, {**dumped, UNKNOWN_OPTION: 1})
