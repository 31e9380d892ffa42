"""The answer type contract (plugins of ``fusionsdk.answers``) and the options every consumer of
answers shares (``answer:``, ``answer_options:`` and the older ``extract:``).

An answer type does three things: it reads the final answer out of a reply
(:meth:`AnswerType.extract`), turns it into a canonical key (:meth:`AnswerType.canonical`), and
says whether two keys are the same answer (:meth:`AnswerType.equivalent`). Votes, the cascade's
agreement rule, the arbiters' conflict detection and the scorers all read answers through it, so
one answer type serves a task everywhere.

Example:
    >>> from fusionsdk.answers.math import MathAnswer
    >>> math = MathAnswer()
    >>> math.vote_keys(["The answer is 1/2.", "$\\\\frac{1}{2}$", "0.5"])
    ['1/2', '1/2', '1/2']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from pydantic import Field, model_validator

from fusionsdk.answers.normalize import normalize_text
from fusionsdk.plugin import OptionsT, PluginBase, PluginOptions

if TYPE_CHECKING:
    from fusionsdk.registry import Registry

__all__ = ["AnswerOptions", "AnswerType", "build_answer_type"]

#: The answer types the older ``extract:`` option names.
Extract = Literal["text", "number", "choice", "json_field"]


class AnswerType(PluginBase[OptionsT], ABC):
    """Base class of answer types.

    Subclasses implement :meth:`extract` and usually :meth:`canonical`; those whose
    equivalence is more than equal keys (numbers within a tolerance, mathematical equivalence)
    override :meth:`equivalent` and set :attr:`exact_keys` False. Every method must be safe to
    call from several threads at once and must not print or warn.

    Attributes:
        exact_keys: Whether two keys are equivalent exactly when they are equal (then votes
            group by key, which is quicker than comparing answers pairwise).
    """

    exact_keys: ClassVar[bool] = True

    @abstractmethod
    def extract(self, reply: str) -> str | None:
        """The final answer of ``reply`` as text, or None when it gives none."""

    def canonical(self, answer: str) -> str | None:
        """The canonical key of an extracted answer (by default its normalised text), or None
        when nothing is left of it."""
        return normalize_text(answer) or None

    def key(self, reply: str) -> str | None:
        """The canonical key of ``reply``'s answer, or None when it gives none."""
        answer = self.extract(reply)
        return self.canonical(answer) if answer is not None else None

    def equivalent(self, first: str, second: str) -> bool:
        """Whether two keys are the same answer (``first`` is the reference when there is one)."""
        return first == second

    def fallback_equal(self, prediction: str, reference: str) -> bool:
        """How a prediction is compared with a reference that holds no answer of this type: by
        normalised text."""
        expected = normalize_text(reference)
        return expected != "" and normalize_text(prediction) == expected

    def matches(self, prediction: str, reference: str) -> bool:
        """Whether ``prediction`` gives the answer ``reference`` gives (what scorers ask).

        A prediction without an answer does not match; a reference without one is compared
        with :meth:`fallback_equal`.
        """
        expected = self.key(reference)
        if expected is None:
            return self.fallback_equal(prediction, reference)
        got = self.key(prediction)
        return got is not None and self.equivalent(expected, got)

    def vote_key(self, reply: str) -> str:
        """The key ``reply`` votes with: its answer's key, else its normalised text."""
        key = self.key(reply)
        return key if key is not None else normalize_text(reply)

    def vote_keys(self, replies: Sequence[str]) -> list[str]:
        """The keys ``replies`` vote with, equivalent answers sharing one key: each answer takes
        the key of the first earlier answer equivalent to it (replies without an answer vote
        with their normalised text and match only the same text)."""
        keys = [self.key(reply) for reply in replies]
        found = [key for key in keys if key is not None]
        unified = dict(zip(found, self.unify(found), strict=True))
        return [
            unified[key] if key is not None else normalize_text(reply)
            for key, reply in zip(keys, replies, strict=True)
        ]

    def unify(self, keys: Sequence[str]) -> list[str]:
        """Each key replaced by the first key before it (or itself) it is equivalent to."""
        if self.exact_keys:
            return list(keys)
        representatives: list[str] = []
        chosen: dict[str, str] = {}
        for key in keys:
            if key not in chosen:
                chosen[key] = next((r for r in representatives if self.equivalent(r, key)), key)
                if chosen[key] == key:
                    representatives.append(key)
        return [chosen[key] for key in keys]


class AnswerOptions(PluginOptions):
    """The options of a plugin that reads answers: which answer type, and its options.

    ``extract`` is the older name of ``answer`` (``text``, ``number``, ``choice`` or
    ``json_field``), still accepted: given alone, it sets ``answer``; when both are given,
    ``answer`` wins unless ``extract`` names another of the four (an error).

    Attributes:
        answer: A ``fusionsdk.answers`` plugin (``number``, ``math``, ``choice``, ...); None
            means the plugin's default (``text`` unless it says otherwise).
        answer_options: The answer type's own options.
        extract: The older name of ``answer``.
    """

    answer: str | None = None
    answer_options: dict[str, Any] = Field(default_factory=dict)
    extract: Extract = "text"

    @model_validator(mode="after")
    def _extract_is_an_alias(self) -> AnswerOptions:
        # ``extract: text`` is the default: it names no type, so options round-trip unchanged.
        given = "extract" in self.model_fields_set and self.extract != "text"
        if self.answer is None:
            if given:
                self.answer = self.extract
        elif self.answer in get_args(Extract):
            if given and self.extract not in ("text", self.answer):
                raise ValueError(
                    f"'extract' is the older name of 'answer': give one, not both "
                    f"(answer={self.answer!r}, extract={self.extract!r})"
                )
            self.extract = self.answer  # type: ignore[assignment]
        return self

    def answer_type(
        self, registry: Registry | None = None, *, default: str = "text", path: str = "options"
    ) -> AnswerType[Any]:
        """Build the answer type these options name (``default`` when they name none)."""
        return build_answer_type(self.answer or default, self.answer_options, registry=registry, path=path)


def build_answer_type(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    registry: Registry | None = None,
    path: str = "options",
) -> AnswerType[Any]:
    """Build the answer type ``name`` through ``registry`` (by default the ambient one).

    Errors name ``<path>.answer`` (an unknown type) or ``<path>.answer_options.<field>``.

    Example:
        >>> build_answer_type("number").vote_key("I get $1,000.")
        '1000'
    """
    from fusionsdk.registry import PluginKind, ambient_registry

    registry = registry or ambient_registry()
    built: AnswerType[Any] = registry.build(
        PluginKind.ANSWERS,
        name,
        dict(options or {}),
        path=f"{path}.answer_options",
        name_path=f"{path}.answer",
    )
    return built
