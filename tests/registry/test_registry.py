"""The plugin registry: discovery, lazy loading, conflicts, failures, allow-list, code registration."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from importlib.metadata import EntryPoint
from typing import Any

import pytest

import fusionsdk
from fusionsdk.errors import FusionError, PluginError
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.fusion.majority_vote import MajorityVote
from fusionsdk.registry import (
    PLUGIN_API_VERSION,
    PluginKind,
    Registry,
    default_registry,
    register,
    reset_default_registry,
)
from fusionsdk.registry.registry import Discovered
from fusionsdk.settings import Settings
from fusionsdk.tools.base import Tool
from tests.plugin_dists import FakeSite

PLUGINS_SOURCE = """
from typing import ClassVar
from fusionsdk.errors import FusionError
from fusionsdk.fusion.base import Fuser, FusionResult


class FirstAnswer(Fuser):
    '''Keeps the first candidate's answer.'''

    async def fuse(self, task, candidates, context=None):
        if not candidates:
            raise FusionError("first_answer needs a candidate")
        return FusionResult(candidates[0].text, candidates[0].model, reason="first")


class LastAnswer(FirstAnswer):
    '''Keeps the last candidate's answer.'''

    async def fuse(self, task, candidates, context=None):
        if not candidates:
            raise FusionError("last_answer needs a candidate")
        return FusionResult(candidates[-1].text, candidates[-1].model, reason="last")


class FromTheFuture(FirstAnswer):
    '''Written for plugin API version 2.'''

    api_version: ClassVar[int] = 2


class NotAFuser:
    '''Has a fuse method but is no Fuser.'''
"""

BROKEN_SOURCE = """
import fusionsdk_no_such_dependency  # the plugin's own dependency is missing
"""

PANEL = [Candidate("a", "one"), Candidate("b", "two")]


def settings(plugins: str = "", disable_autoload: bool = False) -> Settings:
    return Settings(plugins=plugins, disable_plugin_autoload=disable_autoload)


def entry(name: str, target: str, kind: str = "fusers") -> EntryPoint:
    return EntryPoint(name, target, f"fusionsdk.{kind}")


class FakeDiscovery:
    """A ``discover`` callable serving fixed entry points per kind, counting its scans."""

    def __init__(self, found: dict[str, list[Discovered]]) -> None:
        self.found = found
        self.scans: list[PluginKind] = []

    def __call__(self, kind: PluginKind) -> Iterable[Discovered]:
        self.scans.append(kind)
        return self.found.get(kind.value, [])


@pytest.fixture
def plugins_module(fake_site: FakeSite) -> str:
    """The name of an importable module of sample plugins, not imported yet."""
    fake_site.add_modules({"sample_plugins": PLUGINS_SOURCE, "broken_plugin": BROKEN_SOURCE})
    return "sample_plugins"


def registry_of(*found: Discovered, plugins: str = "", disable_autoload: bool = False) -> Registry:
    discovery = FakeDiscovery({})
    for ep, dist, version in found:
        discovery.found.setdefault(ep.group.removeprefix("fusionsdk."), []).append((ep, dist, version))
    return Registry(settings(plugins, disable_autoload), discover=discovery)


def fuse(fuser_class: type[Fuser]) -> FusionResult:
    import asyncio

    return asyncio.run(fuser_class().fuse("task", PANEL, FusionContext()))


# -- discovery and lazy loading -------------------------------------------------------------------


def test_records_list_plugins_without_importing_them(plugins_module: str) -> None:
    registry = registry_of((entry("first", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"))
    (record,) = registry.records("fusers")
    assert (record.name, record.distribution, record.version, record.status) == (
        "first",
        "dist-a",
        "1.0",
        "available",
    )
    assert plugins_module not in sys.modules
    assert registry.names("fusers") == ["first"]


def test_get_imports_on_first_use_and_caches(plugins_module: str) -> None:
    discovery = FakeDiscovery(
        {"fusers": [(entry("first", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0")]}
    )
    registry = Registry(settings(), discover=discovery)
    fuser = registry.get("fusers", "first")
    assert plugins_module in sys.modules
    assert fuse(fuser).text == "one"
    assert registry.get(PluginKind.FUSERS, "first") is fuser
    assert registry.records("fusers")[0].status == "loaded"
    assert discovery.scans == [PluginKind.FUSERS], "each kind is scanned once"


def test_unknown_name_lists_the_known_ones(plugins_module: str) -> None:
    registry = registry_of((entry("first", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"))
    with pytest.raises(PluginError, match=r"unknown fusers plugin 'frist' \(known: first\)"):
        registry.get("fusers", "frist")


def test_the_same_distribution_found_twice_is_listed_once(plugins_module: str) -> None:
    ep = entry("first", f"{plugins_module}:FirstAnswer")
    registry = registry_of((ep, "Dist_A", "1.0"), (ep, "dist-a", "1.0"))
    assert len(registry.records("fusers")) == 1
    assert registry.get("fusers", "first").__name__ == "FirstAnswer"


def test_describe_gives_the_docstring_and_options_schema() -> None:
    info = Registry(settings()).describe("fusers", "majority_vote")
    assert info["distribution"] == "fusionsdk" and info["builtin"] is True
    assert "Vote over normalised answers" in info["doc"]
    assert info["options_schema"]["properties"]["extract"]["enum"] == [
        "text",
        "number",
        "choice",
        "json_field",
    ]


# -- conflicts ------------------------------------------------------------------------------------


def test_two_distributions_with_one_name_is_an_error_naming_both(plugins_module: str) -> None:
    registry = registry_of(
        (entry("pick", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"),
        (entry("pick", f"{plugins_module}:LastAnswer"), "dist_b", "2.0"),
    )
    with pytest.raises(PluginError) as caught:
        registry.get("fusers", "pick")
    message = str(caught.value)
    assert "'dist-a' and 'dist_b'" in message
    assert "'dist-a:pick' or 'dist-b:pick'" in message


def test_distribution_colon_name_resolves_a_conflict(plugins_module: str) -> None:
    registry = registry_of(
        (entry("pick", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"),
        (entry("pick", f"{plugins_module}:LastAnswer"), "dist_b", "2.0"),
    )
    assert fuse(registry.get("fusers", "dist-a:pick")).text == "one"
    assert fuse(registry.get("fusers", "Dist_B:pick")).text == "two"  # names are normalised
    with pytest.raises(PluginError, match="unknown fusers plugin 'dist-c:pick'"):
        registry.get("fusers", "dist-c:pick")


# -- failures and contract checks -----------------------------------------------------------------


def test_a_plugin_that_fails_to_import_is_reported_and_others_still_load(plugins_module: str) -> None:
    registry = registry_of(
        (entry("broken", "broken_plugin:Anything"), "dist-broken", "0.3.1"),
        (entry("first", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"),
    )
    with pytest.raises(PluginError) as caught:
        registry.get("fusers", "broken")
    message = str(caught.value)
    assert "'broken' from dist-broken 0.3.1 failed to load" in message
    assert "ModuleNotFoundError" in message and "fusionsdk_no_such_dependency" in message
    assert fuse(registry.get("fusers", "first")).text == "one"
    records = {r.name: r for r in registry.load_all("fusers")}
    assert records["broken"].status == "error" and "fusionsdk_no_such_dependency" in records["broken"].error
    assert records["first"].status == "loaded"
    with pytest.raises(PluginError, match="failed to load"):  # the failure is remembered
        registry.get("fusers", "broken")


def test_a_missing_attribute_is_reported_like_an_import_failure(plugins_module: str) -> None:
    registry = registry_of((entry("ghost", f"{plugins_module}:NoSuchClass"), "dist-a", "1.0"))
    with pytest.raises(PluginError, match=r"AttributeError.*NoSuchClass"):
        registry.get("fusers", "ghost")


def test_an_incompatible_api_version_is_refused(plugins_module: str) -> None:
    registry = registry_of((entry("future", f"{plugins_module}:FromTheFuture"), "dist-a", "1.0"))
    with pytest.raises(PluginError) as caught:
        registry.get("fusers", "future")
    message = str(caught.value)
    assert "plugin API version 2" in message
    assert f"supports version {PLUGIN_API_VERSION}" in message and "upgrade" in message
    assert registry.records("fusers")[0].status == "error"


def test_an_object_that_is_not_a_subclass_of_the_kind_base_is_refused(plugins_module: str) -> None:
    registry = registry_of((entry("impostor", f"{plugins_module}:NotAFuser"), "dist-a", "1.0"))
    with pytest.raises(PluginError, match=r"not a subclass of fusionsdk\.fusion\.base\.Fuser"):
        registry.get("fusers", "impostor")


def test_a_plugin_of_another_kind_is_refused(plugins_module: str) -> None:
    registry = registry_of((entry("first", f"{plugins_module}:FirstAnswer", "arbiters"), "dist-a", "1.0"))
    with pytest.raises(PluginError, match=r"arbiters plugin 'first'.*Arbiter"):
        registry.get("arbiters", "first")


# -- allow-list and autoload ----------------------------------------------------------------------


def _allow_list_registry(plugins_module: str, plugins: str, disable_autoload: bool = False) -> Registry:
    return registry_of(
        (entry("majority_vote", "fusionsdk.fusion.majority_vote:MajorityVote"), "fusionsdk", "0.1.0"),
        (entry("first", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"),
        (entry("last", f"{plugins_module}:LastAnswer"), "dist-b", "1.0"),
        plugins=plugins,
        disable_autoload=disable_autoload,
    )


@pytest.mark.parametrize("allow", ["dist-a", "Dist_A", "first", "dist-a:first", " first , other "])
def test_the_allow_list_admits_by_distribution_name_or_qualified_name(
    plugins_module: str, allow: str
) -> None:
    registry = _allow_list_registry(plugins_module, allow)
    assert registry.names("fusers") == ["first", "majority_vote"]
    assert registry.get("fusers", "first").__name__ == "FirstAnswer"
    blocked = next(r for r in registry.records("fusers") if r.name == "last")
    assert (blocked.status, blocked.error) == ("blocked", "not in FUSIONSDK_PLUGINS")
    with pytest.raises(PluginError, match="'last' from dist-b is not loaded: not in FUSIONSDK_PLUGINS"):
        registry.get("fusers", "last")


def test_an_empty_allow_list_admits_everything(plugins_module: str) -> None:
    assert _allow_list_registry(plugins_module, "").names("fusers") == ["first", "last", "majority_vote"]


def test_disabled_autoload_loads_only_builtins_and_named_plugins(plugins_module: str) -> None:
    registry = _allow_list_registry(plugins_module, "", disable_autoload=True)
    assert registry.names("fusers") == ["majority_vote"]
    with pytest.raises(PluginError, match="FUSIONSDK_DISABLE_PLUGIN_AUTOLOAD"):
        registry.get("fusers", "first")
    named = _allow_list_registry(plugins_module, "dist-b", disable_autoload=True)
    assert named.names("fusers") == ["last", "majority_vote"]


def test_settings_come_from_the_environment(plugins_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONSDK_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("FUSIONSDK_PLUGINS", "dist-a")
    discovery = FakeDiscovery(
        {
            "fusers": [
                (entry("first", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"),
                (entry("last", f"{plugins_module}:LastAnswer"), "dist-b", "1.0"),
            ]
        }
    )
    assert Registry(discover=discovery).names("fusers") == ["first"]


def test_code_registration_is_never_blocked(plugins_module: str) -> None:
    registry = _allow_list_registry(plugins_module, "nothing-allowed", disable_autoload=True)
    registry.register("fusers", "mine", MajorityVote)
    assert registry.get("fusers", "mine") is MajorityVote


# -- registration in code -------------------------------------------------------------------------


class Shout(Fuser):
    """Upper-cases the first answer."""

    async def fuse(self, task: str, candidates: Any, context: FusionContext | None = None) -> FusionResult:
        if not candidates:
            raise FusionError("shout needs a candidate")
        return FusionResult(candidates[0].text.upper(), candidates[0].model)


def test_register_in_code_then_get_and_list() -> None:
    registry = Registry(settings(), discover=FakeDiscovery({}))
    registry.register("fuser", "shout", Shout)
    assert registry.get("fusers", "shout") is Shout
    (record,) = registry.records("fusers")
    assert (record.distribution, record.status, record.target) == ("<code>", "loaded", f"{__name__}:Shout")
    assert fuse(registry.get("fusers", "<code>:shout")).text == "ONE"


def test_register_twice_needs_replace() -> None:
    registry = Registry(settings(), discover=FakeDiscovery({}))
    registry.register("fusers", "shout", Shout)
    with pytest.raises(PluginError, match=r"'shout' already exists \(from <code>\); pass replace=True"):
        registry.register("fusers", "shout", MajorityVote)
    registry.register("fusers", "shout", MajorityVote, replace=True)
    assert registry.get("fusers", "shout") is MajorityVote
    assert len(registry.records("fusers")) == 1


def test_replace_shadows_an_entry_point_plugin_until_unregistered(plugins_module: str) -> None:
    registry = registry_of((entry("first", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"))
    with pytest.raises(PluginError, match=r"already exists \(from dist-a\)"):
        registry.register("fusers", "first", Shout)
    registry.register("fusers", "first", Shout, replace=True)
    assert registry.get("fusers", "first") is Shout
    assert registry.get("fusers", "dist-a:first").__name__ == "FirstAnswer"
    registry.unregister("fusers", "first")
    assert registry.get("fusers", "first").__name__ == "FirstAnswer"


def test_unregister_only_removes_code_registrations(plugins_module: str) -> None:
    registry = registry_of((entry("first", f"{plugins_module}:FirstAnswer"), "dist-a", "1.0"))
    with pytest.raises(PluginError, match="no fusers plugin 'first' was registered in code"):
        registry.unregister("fusers", "first")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (object, "not a subclass of fusionsdk.fusion.base.Fuser"),
        (Shout(), "not a subclass"),
        (type("Old", (Shout,), {"api_version": 0, "__doc__": "old"}), "plugin API version 0"),
    ],
)
def test_register_checks_the_contract(obj: Any, message: str) -> None:
    registry = Registry(settings(), discover=FakeDiscovery({}))
    with pytest.raises(PluginError, match=message):
        registry.register("fusers", "bad", obj)
    assert registry.records("fusers") == []


@pytest.mark.parametrize("name", ["", "dist:name", " padded", "line\nbreak", 3])
def test_register_refuses_names_configs_could_not_use(name: Any) -> None:
    registry = Registry(settings(), discover=FakeDiscovery({}))
    with pytest.raises(PluginError, match="is not a valid fusers plugin name"):
        registry.register("fusers", name, Shout)


def test_a_function_registers_as_a_tool() -> None:
    def shout(text: str) -> str:
        """Upper-case a text."""
        return text.upper()

    registry = Registry(settings(), discover=FakeDiscovery({}))
    registry.register("tools", "shout", shout)
    tool_class = registry.get("tools", "shout")
    assert issubclass(tool_class, Tool) and tool_class.description == "Upper-case a text."
    import asyncio

    assert asyncio.run(tool_class().run(text="hi")) == "HI"


def test_module_level_register_uses_the_process_wide_registry() -> None:
    reset_default_registry()
    try:
        register("fusers", "shout_everywhere", Shout)
        assert default_registry().get("fusers", "shout_everywhere") is Shout
        assert fusionsdk.register is register
        reset_default_registry()
        with pytest.raises(PluginError, match="unknown fusers plugin 'shout_everywhere'"):
            default_registry().get("fusers", "shout_everywhere")
    finally:
        reset_default_registry()


# -- kinds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("fusers", PluginKind.FUSERS),
        ("fuser", PluginKind.FUSERS),
        ("memory", PluginKind.MEMORY),
        ("embedder", PluginKind.EMBEDDERS),
    ],
)
def test_kind_names_parse_singular_or_plural(text: str, kind: PluginKind) -> None:
    assert PluginKind.parse(text) is kind
    assert kind.group == f"fusionsdk.{kind.value}"


@pytest.mark.parametrize("bad", ["fusors", "", "Fusers", "fusionsdk.fusers"])
def test_unknown_kinds_are_plugin_errors_listing_the_known(bad: str) -> None:
    registry = Registry(settings(), discover=FakeDiscovery({}))
    for call in (
        lambda: registry.get(bad, "x"),
        lambda: registry.records(bad),
        lambda: PluginKind.parse(bad),
    ):
        with pytest.raises(PluginError, match=r"unknown plugin kind .* \(known: providers, routers, fusers"):
            call()


def test_every_kind_has_an_importable_base_class() -> None:
    for kind in PluginKind:
        base = kind.base_class()
        assert isinstance(base, type)
        assert getattr(base, "api_version", None) == PLUGIN_API_VERSION


# -- real entry points of installed-looking distributions -----------------------------------------


def test_an_installed_distribution_is_discovered_and_loaded_lazily(fake_site: FakeSite) -> None:
    fake_site.add(
        "mydist",
        "1.0",
        {"fusionsdk.fusers": {"first": "mydist_plugins:FirstAnswer"}},
        {"mydist_plugins": PLUGINS_SOURCE},
    )
    registry = Registry(settings())
    record = registry.resolve("fusers", "first")
    assert (record.distribution, record.version, record.target, record.builtin) == (
        "mydist",
        "1.0",
        "mydist_plugins:FirstAnswer",
        False,
    )
    assert "mydist_plugins" not in sys.modules
    assert fuse(registry.get("fusers", "first")).text == "one"
    assert "mydist_plugins" in sys.modules
    assert registry.get("fusers", "mydist:first") is registry.get("fusers", "first")


def test_installed_distributions_with_one_name_conflict(fake_site: FakeSite) -> None:
    fake_site.add(
        "dist-one",
        "1.0",
        {"fusionsdk.fusers": {"pick": "pick_one:FirstAnswer"}},
        {"pick_one": PLUGINS_SOURCE},
    )
    fake_site.add(
        "dist-two", "2.5", {"fusionsdk.fusers": {"pick": "pick_two:LastAnswer"}}, {"pick_two": PLUGINS_SOURCE}
    )
    registry = Registry(settings())
    with pytest.raises(PluginError, match="registered by both 'dist-one' and 'dist-two'"):
        registry.get("fusers", "pick")
    assert fuse(registry.get("fusers", "dist-one:pick")).text == "one"
    assert fuse(registry.get("fusers", "dist-two:pick")).text == "two"


def test_an_installed_broken_plugin_does_not_break_the_others(fake_site: FakeSite) -> None:
    fake_site.add(
        "dist-broken",
        "0.0.1",
        {"fusionsdk.fusers": {"broken": "broken_dist_plugin:Broken"}},
        {"broken_dist_plugin": BROKEN_SOURCE},
    )
    registry = Registry(settings())
    records = {r.name: r for r in registry.load_all("fusers")}
    assert records["broken"].status == "error"
    assert records["broken"].as_dict()["distribution"] == "dist-broken"
    assert "fusionsdk_no_such_dependency" in (records["broken"].error or "")
    assert records["majority_vote"].status == "loaded"
    with pytest.raises(
        PluginError, match=r"'broken' from dist-broken 0\.0\.1 failed to load: ModuleNotFoundError"
    ):
        registry.get("fusers", "broken")


def test_importing_fusionsdk_imports_no_plugin_module() -> None:
    code = textwrap.dedent("""
        import json, sys
        from importlib.metadata import entry_points
        import fusionsdk
        from fusionsdk.registry import PluginKind, default_registry
        records = default_registry().records()
        targets = {ep.value.partition(":")[0] for kind in PluginKind for ep in entry_points(group=kind.group)}
        imported = sorted(t for t in targets if t in sys.modules)
        print(json.dumps({"records": len(records), "imported": imported}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["records"] > 0
    assert report["imported"] == [], f"import fusionsdk (and listing plugins) imported {report['imported']}"
