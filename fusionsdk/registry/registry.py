"""The plugin registry: the only place that turns a name from a config into code.

Plugins are found through entry points (``importlib.metadata``), one group per
:class:`~fusionsdk.registry.kinds.PluginKind`. Discovery reads metadata only; a plugin's module
is imported the first time the plugin is used, then cached. fusionsdk's own built-ins are entry
points of the ``fusionsdk`` distribution and go through exactly the same path.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from fusionsdk.config.validation import did_you_mean
from fusionsdk.errors import ConfigError, PluginError
from fusionsdk.registry.build import PluginPlan, validate_options
from fusionsdk.registry.kinds import PLUGIN_API_VERSION, PluginKind
from fusionsdk.settings import Settings, load_settings

__all__ = ["PluginRecord", "Registry", "normalize_distribution"]

BUILTIN_DISTRIBUTION = "fusionsdk"
CODE_DISTRIBUTION = "<code>"
_PLUGIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")

#: (entry point, distribution name, distribution version) as discovery yields them.
Discovered = tuple[EntryPoint, str, str]


def normalize_distribution(name: str) -> str:
    """Normalise a distribution name the way PyPI does (``My_Plugin`` -> ``my-plugin``)."""
    return name.lower().replace("_", "-").replace(".", "-")


def _discover_installed(kind: PluginKind) -> list[Discovered]:
    found = []
    for ep in entry_points(group=kind.group):
        dist = ep.dist
        found.append((ep, dist.name if dist else "unknown", dist.version if dist else "unknown"))
    return found


@dataclass
class PluginRecord:
    """What the registry knows of one plugin.

    Attributes:
        kind: Its kind.
        name: The name configs use.
        distribution: The distribution that provides it (``<code>`` if registered in code).
        version: That distribution's version.
        target: ``module:attribute`` of the entry point.
        status: ``available`` (not imported yet), ``loaded``, ``error`` or ``blocked``.
        error: Why it is ``error`` or ``blocked``.
    """

    kind: PluginKind
    name: str
    distribution: str
    version: str
    target: str
    status: str = "available"
    error: str | None = None
    entry_point: EntryPoint | None = field(default=None, repr=False)
    obj: Any = field(default=None, repr=False)

    @property
    def builtin(self) -> bool:
        """Whether fusionsdk itself provides this plugin."""
        return normalize_distribution(self.distribution) == BUILTIN_DISTRIBUTION

    @property
    def qualified_name(self) -> str:
        """``distribution:name``, which is never ambiguous."""
        return f"{normalize_distribution(self.distribution)}:{self.name}"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "target": self.target,
            "builtin": self.builtin,
            "error": self.error,
        }


class Registry:
    """Finds, loads, checks and caches plugins.

    Args:
        settings: Allow-list and autoload settings; read from the environment when omitted.
        discover: Returns the installed entry points of a kind (for tests).

    Example:
        >>> from fusionsdk.registry import default_registry
        >>> vote = default_registry().get("fusers", "majority_vote")
    """

    def __init__(
        self,
        settings: Settings | None = None,
        discover: Callable[[PluginKind], Iterable[Discovered]] = _discover_installed,
    ) -> None:
        self._settings = settings or load_settings()
        self._discover = discover
        self._records: dict[PluginKind, list[PluginRecord]] = {}
        self._lock = threading.RLock()

    # -- discovery ---------------------------------------------------------------------------

    def records(self, kind: PluginKind | str | None = None) -> list[PluginRecord]:
        """Every known plugin of ``kind`` (all kinds if None), without importing any."""
        kinds = [PluginKind.parse(kind)] if kind is not None else list(PluginKind)
        return [record for k in kinds for record in self._kind_records(k)]

    def _kind_records(self, kind: PluginKind) -> list[PluginRecord]:
        with self._lock:
            if kind not in self._records:
                self._records[kind] = self._scan(kind)
            return self._records[kind]

    def _scan(self, kind: PluginKind) -> list[PluginRecord]:
        records: list[PluginRecord] = []
        seen: set[tuple[str, str]] = set()
        for ep, dist, version in self._discover(kind):
            key = (normalize_distribution(dist), ep.name)
            if key in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(key)
            record = PluginRecord(kind, ep.name, dist, version, ep.value, entry_point=ep)
            blocked = self._blocked_reason(record)
            if blocked:
                record.status, record.error = "blocked", blocked
            records.append(record)
        return records

    def _blocked_reason(self, record: PluginRecord) -> str | None:
        if record.builtin:
            return None
        allow = self._settings.plugin_allow_list
        if any(self._allows(entry, record) for entry in allow):
            return None
        if allow:
            return "not in FUSIONSDK_PLUGINS"
        if self._settings.disable_plugin_autoload:
            return "FUSIONSDK_DISABLE_PLUGIN_AUTOLOAD is set and FUSIONSDK_PLUGINS does not name it"
        return None

    @staticmethod
    def _allows(entry: str, record: PluginRecord) -> bool:
        """Whether allow-list ``entry`` (distribution, name or ``distribution:name``) names ``record``."""
        dist = normalize_distribution(record.distribution)
        prefix, sep, name = entry.rpartition(":")
        if sep:
            return normalize_distribution(prefix) == dist and name == record.name
        return entry == record.name or normalize_distribution(entry) == dist

    def names(self, kind: PluginKind | str) -> list[str]:
        """The usable (not blocked) names of a kind, sorted."""
        return sorted({r.name for r in self.records(kind) if r.status != "blocked"})

    # -- lookup and loading ------------------------------------------------------------------

    def get(self, kind: PluginKind | str, name: str) -> Any:
        """Return the plugin object (usually a class) named ``name``, importing it if needed.

        Args:
            kind: The plugin kind.
            name: A plugin name, or ``distribution:name`` to pick one of several.

        Raises:
            PluginError: Unknown, ambiguous, blocked, broken or incompatible plugin.
        """
        record = self.resolve(kind, name)
        return self._load(record)

    def plugin_class(self, kind: PluginKind | str, name: str, *, path: str | None = None) -> Any:
        """:meth:`get`, with a failure turned into a ConfigError at ``path`` (where the name sits
        in the config) when ``path`` is given.

        Raises:
            ConfigError: The plugin cannot be had and ``path`` is given.
            PluginError: The plugin cannot be had and ``path`` is None.
        """
        try:
            return self.get(kind, name)
        except PluginError as err:
            if path is None:
                raise
            raise ConfigError(str(err), path=path) from None

    def plan(
        self, kind: PluginKind | str, name: str, options: Any, *, path: str, name_path: str | None = None
    ) -> PluginPlan:
        """Resolve plugin ``name`` and validate ``options`` against its ``Options``; construct it
        later with :meth:`PluginPlan.build`.

        Args:
            kind: The plugin kind.
            name: The plugin name from the config.
            options: Its raw options (a mapping), or an instance of its ``Options``.
            path: Where the options sit in the config, e.g. ``nodes.fuse.options``.
            name_path: Where the name sits, e.g. ``nodes.fuse.strategy``; failing to resolve
                the name is then a ConfigError there instead of a PluginError.

        Raises:
            ConfigError: Bad options (naming ``path.<field>``), or an unusable name at ``name_path``.
            PluginError: An unusable name when ``name_path`` is None.
        """
        plugin_cls = self.plugin_class(kind, name, path=name_path)
        validated = validate_options(plugin_cls, options, path)
        return PluginPlan(PluginKind.parse(kind), name, plugin_cls, validated, path, self)

    def build(
        self,
        kind: PluginKind | str,
        name: str,
        options: Any,
        *,
        path: str,
        name_path: str | None = None,
        **context: Any,
    ) -> Any:
        """The one way to make a plugin from config: resolve ``name``, validate ``options``,
        construct it with ``context`` as keywords (and ``registry=self`` when it takes one).

        Errors name their config path: bad options ``path.<field>``, an error the plugin raises
        about its own options (``options.steps[1]``) is put under ``path``.

        Example:
            >>> registry = Registry()
            >>> vote = registry.build("fusers", "majority_vote", {}, path="nodes.vote.options")

        Raises:
            ConfigError: Bad options, or an unusable name at ``name_path``.
            PluginError: An unusable name when ``name_path`` is None.
        """
        return self.plan(kind, name, options, path=path, name_path=name_path).build(**context)

    def resolve(self, kind: PluginKind | str, name: str) -> PluginRecord:
        """Find the record ``name`` refers to, without importing it."""
        kind = PluginKind.parse(kind)
        dist, sep, short = name.rpartition(":")
        candidates = [r for r in self._kind_records(kind) if r.name == (short if sep else name)]
        if sep:
            wanted = normalize_distribution(dist)
            candidates = [r for r in candidates if normalize_distribution(r.distribution) == wanted]
        usable = [r for r in candidates if r.status != "blocked"]
        if not usable:
            if candidates:
                raise PluginError(
                    f"{kind.value} plugin '{name}' from {candidates[0].distribution} is not loaded: "
                    f"{candidates[0].error}"
                )
            names = self.names(kind)
            known = ", ".join(names) or "none"
            hint = did_you_mean(name, names)
            raise PluginError(f"unknown {kind.value} plugin '{name}' (known: {known}){hint}")
        if len(usable) > 1:
            code = [r for r in usable if r.distribution == CODE_DISTRIBUTION]
            if code:  # registered in code with replace=True: it shadows on purpose
                return code[0]
            both = " and ".join(f"'{r.distribution}'" for r in usable)
            choices = " or ".join(f"'{r.qualified_name}'" for r in usable)
            raise PluginError(
                f"{kind.value} plugin name '{name}' is registered by both {both}; write {choices}"
            )
        return usable[0]

    def _load(self, record: PluginRecord) -> Any:
        with self._lock:
            if record.status == "loaded":
                return record.obj
            if record.status == "error":
                raise PluginError(self._describe_failure(record))
            assert record.entry_point is not None
            try:
                obj = record.entry_point.load()
            except Exception as exc:  # a broken plugin must not break the others
                record.status, record.error = "error", f"{type(exc).__name__}: {exc}"
                raise PluginError(self._describe_failure(record)) from exc
            try:
                obj = self._accept(record.kind, record.name, obj)
            except PluginError as exc:
                record.status, record.error = "error", str(exc)
                raise
            record.obj, record.status = obj, "loaded"
            return obj

    def load_all(self, kind: PluginKind | str | None = None) -> list[PluginRecord]:
        """Import every allowed plugin so that broken ones show ``status == "error"``."""
        for record in self.records(kind):
            if record.status == "available":
                with contextlib.suppress(PluginError):  # the failure is kept on the record
                    self._load(record)
        return self.records(kind)

    def describe(self, kind: PluginKind | str, name: str) -> dict[str, Any]:
        """A plugin's summary plus its docstring and options JSON Schema (imports it)."""
        record = self.resolve(kind, name)
        obj = self._load(record)
        options = getattr(obj, "Options", None)
        schema = options.model_json_schema() if options is not None else {}
        return {**record.as_dict(), "doc": inspect.getdoc(obj) or "", "options_schema": schema}

    @staticmethod
    def _describe_failure(record: PluginRecord) -> str:
        return (
            f"{record.kind.value} plugin '{record.name}' from {record.distribution} "
            f"{record.version} failed to load: {record.error}"
        )

    @staticmethod
    def _accept(kind: PluginKind, name: str, obj: Any) -> Any:
        """Check ``obj`` honours the contract of ``kind`` and speaks our plugin API version."""
        base = kind.base_class()
        adapt = getattr(base, "adapt_plugin", None)
        if adapt is not None and not (isinstance(obj, type) and issubclass(obj, base)):
            obj = adapt(obj)
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise PluginError(
                f"{kind.value} plugin '{name}' is {obj!r}, not a subclass of "
                f"{base.__module__}.{base.__qualname__}"
            )
        declared = getattr(obj, "api_version", None)
        if declared != PLUGIN_API_VERSION:
            raise PluginError(
                f"{kind.value} plugin '{name}' targets fusionsdk plugin API version {declared}; "
                f"this fusionsdk supports version {PLUGIN_API_VERSION}: upgrade the plugin or fusionsdk"
            )
        return obj

    # -- registration in code ----------------------------------------------------------------

    def register(self, kind: PluginKind | str, name: str, obj: Any, *, replace: bool = False) -> None:
        """Register ``obj`` as plugin ``name`` of ``kind`` without packaging (for notebooks).

        Args:
            kind: The plugin kind.
            name: The name configs will use.
            obj: The plugin class (or, for tools, a callable).
            replace: Allow shadowing a plugin of the same name.

        Raises:
            PluginError: The name is taken and ``replace`` is False, or ``obj`` breaks the contract.
        """
        kind = PluginKind.parse(kind)
        if not isinstance(name, str) or not _PLUGIN_NAME.fullmatch(name):
            raise PluginError(
                f"{name!r} is not a valid {kind.value} plugin name (letters, digits, _ . -; "
                "':' is reserved for distribution:name)"
            )
        accepted = self._accept(kind, name, obj)
        with self._lock:
            records = self._kind_records(kind)
            taken = [r for r in records if r.name == name and r.status != "blocked"]
            if taken and not replace:
                raise PluginError(
                    f"{kind.value} plugin '{name}' already exists (from {taken[0].distribution}); "
                    "pass replace=True to shadow it"
                )
            records[:] = [r for r in records if not (r.name == name and r.distribution == CODE_DISTRIBUTION)]
            target = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"
            records.append(PluginRecord(kind, name, CODE_DISTRIBUTION, "-", target, "loaded", obj=accepted))

    def unregister(self, kind: PluginKind | str, name: str) -> None:
        """Remove a plugin registered in code; entry-point plugins it shadowed come back."""
        kind = PluginKind.parse(kind)
        with self._lock:
            records = self._kind_records(kind)
            remaining = [r for r in records if not (r.name == name and r.distribution == CODE_DISTRIBUTION)]
            if len(remaining) == len(records):
                raise PluginError(f"no {kind.value} plugin '{name}' was registered in code")
            records[:] = remaining
