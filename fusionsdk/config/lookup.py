"""Find a node of a config by kind or by name: :func:`find_node` and the :class:`NodeRef` it returns.

Offline fitting (``fusionsdk.tuning``), routing feedback and the CLI all ask a config for "the
panel", "the routed agent" or "the node whose router to fit"; this is the one place that reads
nodes out of a config, so each of them gets the node's name, kind, fields and config path, and
errors that name the argument that chose it.

Example:
    >>> from fusionsdk.config.file import parse_config
    >>> config = parse_config({
    ...     "version": 1,
    ...     "models": {"a": {"provider": "fake"}},
    ...     "nodes": {"ask": {"kind": "panel", "models": ["a"]},
    ...               "vote": {"kind": "fuse", "strategy": "majority_vote"}},
    ...     "edges": [["START", "ask"], ["ask", "vote"], ["vote", "END"]],
    ... })
    >>> find_node(config, kind="panel").path
    'nodes.ask'
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fusionsdk.errors import ConfigError

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig

__all__ = ["NodeRef", "RouterRef", "find_node"]


@dataclass(frozen=True)
class RouterRef:
    """The router a node routes with.

    Attributes:
        strategy: The ``fusionsdk.routers`` plugin (``rules`` when a router node names none).
        options: Its options.
        path: The config path of those options (``nodes.pick.router_options``).
    """

    strategy: str
    options: dict[str, Any]
    path: str


@dataclass(frozen=True)
class NodeRef:
    """A node found in a config.

    Attributes:
        name: The node's name.
        kind: Its kind (a ``fusionsdk.nodes`` plugin).
        fields: Its kind-specific fields, as written.
    """

    name: str
    kind: str
    fields: dict[str, Any]

    @property
    def path(self) -> str:
        """The node's config path (``nodes.NAME``)."""
        return f"nodes.{self.name}"

    @property
    def options(self) -> dict[str, Any]:
        """The node's ``options`` field (empty when it has none)."""
        return dict(self.fields.get("options") or {})

    @property
    def router(self) -> RouterRef | None:
        """The router of a ``router`` node, or of a node with a ``router`` field; else None."""
        if self.kind == "router":
            return RouterRef(str(self.fields.get("strategy", "rules")), self.options, f"{self.path}.options")
        if self.fields.get("router"):
            options = dict(self.fields.get("router_options") or {})
            return RouterRef(str(self.fields["router"]), options, f"{self.path}.router_options")
        return None

    def models(self, what: str = "node") -> list[str]:
        """The node's ``models`` field.

        Raises:
            ConfigError: The node has no models (at ``nodes.NAME.models``).
        """
        models = self.fields.get("models")
        if not isinstance(models, list) or not models:
            raise ConfigError(f"the {what} has no models", path=f"{self.path}.models")
        return [str(m) for m in models]


def find_node(
    config: FusionConfig,
    name: str | None = None,
    *,
    kind: str | Collection[str] | None = None,
    where: Callable[[NodeRef], bool] | None = None,
    prefer: Callable[[NodeRef], bool] | None = None,
    first: bool = False,
    arg: str = "node",
    unnamed: str = "name the node to use (nodes: {found})",
    unknown: str = "'{name}' is not such a node (those are: {found})",
    missing: str | None = None,
) -> NodeRef:
    """The node called ``name`` among those of ``kind`` that pass ``where``; with no name, the
    only such node (only among those passing ``prefer``, when any do), or with ``first`` the
    first in config order.

    Args:
        config: The config to search.
        name: The node wanted, or None for the only (or first) match.
        kind: A node kind, or several, to consider (default: every kind).
        where: A further test of the nodes to consider.
        prefer: Without a name, choose among the matches passing this test when there are any.
        first: Without a name, take the first match instead of requiring a single one.
        arg: The argument that names the node: the path of errors about the choice.
        unnamed: Message when no name was given and the choice is not unique (``{found}``: the
            candidates, or ``none``).
        unknown: Message when ``name`` is not a match (``{name}``, ``{found}``).
        missing: Message when nothing matches at all (path ``nodes``); None: ``unnamed``.

    Raises:
        ConfigError: No node, or no single node, matches.
    """
    kinds = {kind} if isinstance(kind, str) else set(kind) if kind is not None else None
    matches = {
        ref.name: ref
        for ref in (NodeRef(n, spec.kind, spec.fields) for n, spec in config.nodes.items())
        if (kinds is None or ref.kind in kinds) and (where is None or where(ref))
    }
    if not matches and missing is not None:
        raise ConfigError(missing, path="nodes")
    if name is None:
        preferred = [n for n, ref in matches.items() if prefer is not None and prefer(ref)]
        choices = preferred or list(matches)
        if choices and first:
            return matches[choices[0]]
        if len(choices) != 1:
            raise ConfigError(unnamed.format(found=", ".join(choices) or "none"), path=arg)
        return matches[choices[0]]
    if name not in matches:
        raise ConfigError(unknown.format(name=name, found=", ".join(matches) or "none"), path=arg)
    return matches[name]
