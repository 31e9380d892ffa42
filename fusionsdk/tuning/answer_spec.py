"""Which answer type ``fusionsdk tune`` compares the models' answers with.

Votes and the cascade's agreement rule group the models' answers by an answer type (a plugin of
``fusionsdk.answers``: ``number``, ``choice``, ``math``, ``python_literal``, a user's own, ...).
:class:`AnswerSpec` names one and its options; the search reads the answers with it and the
written graph carries it (``answer:`` and ``answer_options:`` of its fuse and cascade nodes), so
the graph groups answers exactly as the search did. Without ``--answer``, :func:`scorer_answer`
takes the scorer's own answer type (``python_literal`` for the ``python_literal`` scorer,
``number`` for ``numeric``, ``math`` for ``math``), never a comparison of whole replies.

Example:
    >>> spec = resolve_answer("number", ["abs_tol=0.01"])
    >>> spec.fields()
    {'answer': 'number', 'answer_options': {'abs_tol': 0.01}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

import yaml

from fusionsdk.answers import AnswerType, Extract, build_answer_type
from fusionsdk.errors import ConfigError

if TYPE_CHECKING:
    from fusionsdk.eval.base import Scorer
    from fusionsdk.registry import Registry

__all__ = [
    "AnswerSpec",
    "build_checked",
    "known_answer_types",
    "parse_answer_options",
    "resolve_answer",
    "scorer_answer",
]


@dataclass(frozen=True)
class AnswerSpec:
    """An answer type's name and options.

    Attributes:
        name: A ``fusionsdk.answers`` plugin.
        options: Its options (only those that differ from its defaults are kept by
            :func:`scorer_answer`).
    """

    name: str = "text"
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, registry: Registry | None = None, *, path: str = "answer") -> AnswerType[Any]:
        """The answer type (errors name ``<path>.answer`` or ``<path>.answer_options.<field>``)."""
        return build_answer_type(self.name, dict(self.options), registry=registry, path=path)

    def fields(self) -> dict[str, Any]:
        """The options a fuse strategy or a cascade's ``accept`` takes to read answers so."""
        found: dict[str, Any] = {"answer": self.name}
        if self.options:
            found["answer_options"] = dict(self.options)
        return found

    def describe(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"answer": self.name, "answer_options": dict(self.options)}


def known_answer_types(registry: Registry | None = None) -> list[str]:
    """The installed answer types: the older four (``text``, ``number``, ``choice``,
    ``json_field``) first, then the others by name."""
    from fusionsdk.registry import PluginKind, ambient_registry

    names = set((registry or ambient_registry()).names(PluginKind.ANSWERS))
    legacy = [n for n in get_args(Extract) if n in names]
    return legacy + sorted(names - set(legacy))


def build_checked(
    spec: AnswerSpec, registry: Registry | None = None, *, name_path: str, options_path: str
) -> AnswerType[Any]:
    """Build ``spec``; errors name ``name_path`` (an unknown type: "must be one of ...") or
    ``options_path`` (``<option>: problem``).

    Raises:
        ConfigError: As above.
    """
    try:
        return spec.build(registry, path="answer_spec")
    except ConfigError as err:
        path = err.path or ""
        if path.startswith("answer_spec.answer_options."):
            option = path.removeprefix("answer_spec.answer_options.")
            message = f"{option}: {err.message} (of answer type {spec.name!r})"
            raise ConfigError(message, path=options_path) from None
        known = ", ".join(known_answer_types(registry))
        if spec.name not in known_answer_types(registry):
            raise ConfigError(f"must be one of {known}, got {spec.name!r}", path=name_path) from None
        raise ConfigError(err.message, path=name_path) from None


def _defaults(name: str, registry: Registry | None) -> dict[str, Any]:
    from fusionsdk.registry import PluginKind, ambient_registry

    try:
        plugin = (registry or ambient_registry()).get(PluginKind.ANSWERS, name)
        return dict(plugin.Options().model_dump())
    except Exception:  # a plugin without default options: keep everything given
        return {}


def _trimmed(name: str, options: Mapping[str, Any], registry: Registry | None) -> dict[str, Any]:
    defaults = _defaults(name, registry)
    return {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}


def scorer_answer(scorer: Scorer, registry: Registry | None = None) -> AnswerSpec:
    """The answer type ``scorer`` reads answers with (its ``answer:`` option, else its own
    default with the options its settings give it); ``text`` for a scorer that reads none."""
    from fusionsdk.eval.scorers._common import AnswerScorer, AnswerScorerOptions

    if not isinstance(scorer, AnswerScorer):
        return AnswerSpec("text")
    opts = scorer.options
    if isinstance(opts, AnswerScorerOptions) and opts.answer is not None:
        name, options = opts.answer, dict(opts.answer_options)
    else:
        name, options = scorer.default_answer, scorer.default_answer_options()
    return AnswerSpec(name, _trimmed(name, options, registry))


def parse_answer_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``key=value`` pairs (values read as YAML scalars: ``0.01``, ``true``, ``abc``).

    Raises:
        ConfigError: A pair without ``=`` (path ``--answer-option``).
    """
    found: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {pair!r}", path="--answer-option")
        try:
            found[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            found[key.strip()] = value
    return found


def resolve_answer(
    answer: str | None,
    options: Sequence[str] | Mapping[str, Any] = (),
    scorer: Scorer | None = None,
    registry: Registry | None = None,
) -> AnswerSpec:
    """The answer type to tune with: ``answer`` (any installed ``fusionsdk.answers`` plugin)
    with ``options`` (``key=value`` pairs or a mapping), else ``scorer``'s (:func:`scorer_answer`).

    Raises:
        ConfigError: An unknown answer type (path ``--answer``), options it does not take or
            options without a type (path ``--answer-option``).
    """
    given = dict(options) if isinstance(options, Mapping) else parse_answer_options(options)
    if answer is None:
        if given:
            raise ConfigError(
                "answer options need --answer (the answer type they belong to)", path="--answer-option"
            )
        spec = scorer_answer(scorer, registry) if scorer is not None else AnswerSpec("text")
    else:
        spec = AnswerSpec(answer, given)
    build_checked(spec, registry, name_path="--answer", options_path="--answer-option")
    return spec
