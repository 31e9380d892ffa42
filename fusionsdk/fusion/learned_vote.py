"""``learned_vote``: a vote whose rule was learned from data (stacking over the vote table).

Each distinct answer among the candidates gets a score

    intercept + sum of the coefficients of the models that gave it + agreement[k - 1]

where ``k`` is how many candidates gave it (counts past the list's end take its last entry).
The answer with the highest score wins (ties go to the answer seen first), and
``sigmoid(score)`` is its estimated chance of being right. The coefficients are a logistic
regression of "this answer is right" on "who gave it" and "how many agree", fitted on train
questions by :func:`fusionsdk.tuning.learned_vote_fit.fit_rule` (``fusionsdk tune``
writes them). Unlike log-odds weights, they can learn "keep the strongest model's answer unless
three others agree on another": a strong model's coefficient larger than any weak one's, and an
agreement term that only a large group outweighs. Where one model dominates, a plain or
log-odds vote of a panel falls below that model; this rule need not.

Answers are read and grouped by an answer type (``answer:``, any ``fusionsdk.answers`` plugin:
``number``, ``choice``, ``math``, ``python_literal``, ``code_output``, ...; ``text`` by default;
the older ``extract:`` still names the first four), with the same vote keys as ``majority_vote``
and ``weighted_vote``: equivalent answers (``'a'`` and ``"a"`` under ``python_literal``) are one
answer.

It keeps learning: :meth:`LearnedVote.update` takes one stochastic-gradient step of the same
logistic loss for the answer that won, given whether it was right, and rewrites ``model_file``
atomically under a lock.

Example::

    vote:
      kind: fuse
      strategy: learned_vote
      options: {answer: number, coefficients: {strong: 2.1, weak1: 0.4, weak2: 0.3},
                agreement: [-1.2, 0.1, 1.5], intercept: -0.4}
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from fusionsdk.answers import AnswerOptions, AnswerType
from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.files import locked, read_json_file, write_json_file
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.plugin import PluginOptions

if TYPE_CHECKING:
    from fusionsdk.registry import Registry

__all__ = ["LearnedVote", "VoteRule", "score_answers"]

_RULE_KEYS = ("coefficients", "agreement", "intercept")


def score_answers(
    answers: Sequence[tuple[str, str]],
    coefficients: Mapping[str, float],
    agreement: Sequence[float],
    intercept: float = 0.0,
) -> dict[str, float]:
    """Each distinct answer key's score, in the order first seen (see the module docstring).

    Args:
        answers: ``(model, answer key)`` per candidate, in panel order.
        coefficients: Per model; a model not named adds 0.
        agreement: Added for ``k`` agreeing candidates (index ``k - 1``, capped at the end).
        intercept: Added to every answer.

    Example:
        >>> score_answers([("a", "1"), ("b", "2"), ("c", "2")], {"a": 2.0, "b": 0.5, "c": 0.5}, [0, 0.5])
        {'1': 2.0, '2': 1.5}
    """
    givers: dict[str, list[str]] = {}
    for model, key in answers:
        givers.setdefault(key, []).append(model)
    scores = {}
    for key, models in givers.items():
        bonus = agreement[min(len(models), len(agreement)) - 1] if agreement else 0.0
        scores[key] = intercept + bonus + sum(coefficients.get(m, 0.0) for m in models)
    return scores


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -60 else 0.0


class VoteRule:
    """The learned rule: coefficients, agreement terms and intercept (a ``model_file``'s content)."""

    def __init__(
        self, coefficients: Mapping[str, float], agreement: Sequence[float], intercept: float = 0.0
    ) -> None:
        self.coefficients = dict(coefficients)
        self.agreement = list(agreement)
        self.intercept = float(intercept)

    def winner(self, answers: Sequence[tuple[str, str]]) -> tuple[str, dict[str, float]]:
        """The winning key and every key's score (ties go to the key seen first)."""
        scores = score_answers(answers, self.coefficients, self.agreement, self.intercept)
        return max(scores, key=lambda k: scores[k]), scores

    def step(self, answers: Sequence[tuple[str, str]], key: str, right: bool, rate: float) -> None:
        """One gradient step of the logistic loss for ``key`` having been right or wrong."""
        models = [m for m, k in answers if k == key]
        if not models:
            return
        score = score_answers(answers, self.coefficients, self.agreement, self.intercept)[key]
        gradient = rate * ((1.0 if right else 0.0) - _sigmoid(score))
        self.intercept += gradient
        for model in models:
            self.coefficients[model] = self.coefficients.get(model, 0.0) + gradient
        if self.agreement:
            index = min(len(models), len(self.agreement)) - 1
            self.agreement[index] += gradient

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "coefficients": {m: round(c, 6) for m, c in self.coefficients.items()},
            "agreement": [round(a, 6) for a in self.agreement],
            "intercept": round(self.intercept, 6),
        }


class LearnedVote(Fuser["LearnedVote.Options"]):
    """Score each distinct answer with a learned linear rule over who gave it and how many
    agree; the highest wins (see the module docstring)."""

    class Options(AnswerOptions):
        """Options of learned_vote.

        Attributes:
            answer: The ``fusionsdk.answers`` type answers are read and compared with
                (``text``, ``number``, ``choice``, ``math``, ``python_literal``, ...).
            answer_options: Its options.
            extract: The older name of ``answer`` (``text``, ``number``, ``choice``,
                ``json_field``), still accepted.
            coefficients: Per model (a model not named adds 0).
            agreement: Added when ``k`` candidates agree (index ``k - 1``; the last entry for more).
            intercept: Added to every answer.
            model_file: A JSON file with ``coefficients``, ``agreement`` and ``intercept`` (relative
                to the working folder); read instead of the inline values, updated by feedback.
            learning_rate: Step size of :meth:`LearnedVote.update`.
        """

        coefficients: dict[str, float] = Field(default_factory=dict)
        agreement: list[float] = Field(default_factory=list)
        intercept: float = 0.0
        model_file: Path | None = None
        learning_rate: float = Field(0.05, gt=0, le=1)

    def __init__(
        self, options: PluginOptions | dict[str, Any] | None = None, *, registry: Registry | None = None
    ) -> None:
        super().__init__(options, registry=registry)
        self._lock = threading.Lock()
        opts: LearnedVote.Options = self.options
        self.answers: AnswerType[Any] = opts.answer_type(self.registry)
        self.rule = (
            self._read()
            if opts.model_file is not None
            else VoteRule(opts.coefficients, opts.agreement, opts.intercept)
        )

    def _read(self) -> VoteRule:
        path = self.options.model_file
        assert path is not None
        try:
            data = read_json_file(path, "learned vote file")
            return VoteRule(data["coefficients"], data.get("agreement", []), data.get("intercept", 0.0))
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"{path}: not a learned vote file ({err})", path="options.model_file") from None

    def _answers(self, candidates: Sequence[Candidate]) -> list[tuple[str, str]]:
        keys = self.answers.vote_keys([c.text for c in candidates])
        return [(c.model, key) for c, key in zip(candidates, keys, strict=True)]

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        if not candidates:
            raise FusionError("learned_vote needs at least one candidate")
        answers = self._answers(candidates)
        best, scores = self.rule.winner(answers)
        winner = candidates[[k for _, k in answers].index(best)]
        return FusionResult(
            text=winner.text,
            winner=winner.model,
            scores={model: scores[key] for model, key in answers},
            reason=f"answer '{best}' scored highest ({_sigmoid(scores[best]):.0%} estimated right) "
            f"among {len(scores)} answers",
            details={"confidence": _sigmoid(scores[best])},
        )

    def update(self, candidates: Sequence[Candidate], correct: bool) -> VoteRule:
        """Learn from whether the fused answer to ``candidates`` was right (one gradient step);
        with a ``model_file``, re-read, update and replace it atomically under a lock."""
        answers = self._answers(candidates)
        path = self.options.model_file
        with self._lock, locked(path) if path is not None else contextlib.nullcontext():
            rule = self._read() if path is not None else self.rule
            best, _ = rule.winner(answers)
            rule.step(answers, best, correct, self.options.learning_rate)
            if path is not None:
                write_json_file(path, rule.as_dict())
            self.rule = rule
        return rule
