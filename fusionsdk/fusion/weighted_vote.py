"""``weighted_vote``: a vote over normalised answers in which each model's vote weighs its trust.

Weights are given inline (``weights: {gpt4o: 3.1, mini: 2.3}``), read from a weights file that
``fusionsdk fusion fit`` wrote (``weights_file: weights.json``, format in
:mod:`fusionsdk.fusion.weights_file`), or ``default_weight`` for a model neither names. Learned
weights are the smoothed log-odds of each model's measured accuracy
(:func:`fusionsdk.tuning.fusion_weights.fit_weights`), and they keep learning online:
:meth:`WeightedVote.update` adds a right or wrong answer to the model's record and rewrites the
file atomically.

Example:
    ``vote: {kind: fuse, strategy: weighted_vote, options: {weights_file: gsm8k-weights.json}}``
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from fusionsdk.answers import AnswerOptions, AnswerType, build_answer_type
from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.files import locked
from fusionsdk.fusion.base import Candidate, Fuser, FusionContext, FusionResult
from fusionsdk.fusion.weights_file import (
    WeightsData,
    counts_for_weight,
    log_odds,
    read_weights,
    write_weights,
)
from fusionsdk.plugin import PluginOptions

if TYPE_CHECKING:
    from fusionsdk.registry import Registry

__all__ = ["WeightedVote", "tally"]

_EXTRACTS = ("text", "number", "choice", "json_field")


@functools.lru_cache(maxsize=65536)
def _whole_number(key: str) -> bool:
    try:
        return float(key).is_integer()
    except ValueError:
        return False


def tally(votes: Sequence[tuple[str, float]], integer_bonus: float = 0.0) -> tuple[str, dict[str, float]]:
    """The winning answer of weighted ``(answer key, weight)`` votes, and each answer's total.

    An answer scores its share of the total weight, plus ``integer_bonus`` when it is a whole
    number. Ties go to the answer whose heaviest voter weighs most, then to the one seen first.

    Example:
        >>> tally([("18", 1.0), ("17.5", 1.5)])[0], tally([("18", 1.0), ("17.5", 1.5)], 0.5)[0]
        ('17.5', '18')
    """
    totals: dict[str, float] = defaultdict(float)
    heaviest: dict[str, float] = {}
    for key, weight in votes:
        totals[key] += weight
        heaviest[key] = max(heaviest.get(key, weight), weight)
    grand = sum(totals.values())
    order = {key: i for i, key in enumerate(totals)}

    def rank(key: str) -> tuple[float, float, int]:
        share = totals[key] / grand if grand > 0 else 0.0
        bonus = integer_bonus if integer_bonus and _whole_number(key) else 0.0
        return share + bonus, heaviest[key], -order[key]

    return max(totals, key=rank), dict(totals)


class WeightedVote(Fuser["WeightedVote.Options"]):
    """Vote over answers read by an answer type (``answer:``), equivalent answers sharing one
    vote, each candidate's vote weighing its model's weight times the candidate's own
    ``weight``. The winning text is the first candidate's with the winning answer.

    ``answer`` (or its older name ``extract``), ``integer_bonus`` and ``default_weight`` left
    unset take the weights file's values (when it has them), else ``text``, 0 and 1. Inline
    ``weights`` override the file's.
    """

    class Options(AnswerOptions):
        """Options of weighted_vote.

        Attributes:
            answer: The ``fusionsdk.answers`` type answers are read and compared with
                (``text``, ``number``, ``choice``, ``math``, ...).
            answer_options: Its options.
            extract: The older name of ``answer``, still accepted.
            weights: Weight per model name (at least 0; 0 means the model does not vote).
            weights_file: A JSON weights file (relative to the working folder); updated in place
                by :meth:`WeightedVote.update`.
            default_weight: Weight of a model that has none.
            integer_bonus: Added to the vote share (0 to 1) of whole-number answers; 1 makes any
                whole-number answer beat any fractional one (for tasks such as GSM8K whose answers
                are whole numbers).
            prior_strength: How many answers a weight given without counts is worth once
                feedback starts moving it.
        """

        weights: dict[str, float] = Field(default_factory=dict)
        weights_file: Path | None = None
        default_weight: float | None = Field(None, ge=0)
        integer_bonus: float | None = Field(None, ge=0)
        prior_strength: float = Field(20.0, gt=0)

        @field_validator("weights")
        @classmethod
        def _non_negative(cls, weights: dict[str, float]) -> dict[str, float]:
            for model, weight in weights.items():
                if not weight >= 0:  # also refuses NaN
                    raise ValueError(f"the weight of '{model}' must be at least 0, got {weight}")
            return weights

        @field_validator("weights_file")
        @classmethod
        def _readable(cls, path: Path | None) -> Path | None:
            if path is not None:
                extract = read_weights(path).settings.get("extract")
                if extract is not None and extract not in _EXTRACTS:
                    known = ", ".join(_EXTRACTS)
                    raise ValueError(f"{path}: extract: must be one of {known}, got {extract!r}")
            return path

    def __init__(
        self, options: PluginOptions | dict[str, Any] | None = None, *, registry: Registry | None = None
    ) -> None:
        super().__init__(options, registry=registry)
        self._lock = threading.Lock()
        self._inline = dict(self.options.weights)
        self._load()

    def _load(self) -> None:
        opts: WeightedVote.Options = self.options
        self._data = self._read() if opts.weights_file is not None else WeightsData()
        self._table = {**self._data.weights, **self._inline}
        settings = self._data.settings
        name = opts.answer or settings.get("answer") or settings.get("extract") or "text"
        if name != getattr(self, "extract", None):
            answer_options = opts.answer_options if opts.answer else settings.get("answer_options", {})
            self.answers: AnswerType[Any] = build_answer_type(name, answer_options, registry=self.registry)
        #: The name of the answer type in use.
        self.extract: str = name
        self.integer_bonus = _pick(opts.integer_bonus, settings.get("integer_bonus"), 0.0)
        self.default_weight = _pick(opts.default_weight, settings.get("default_weight"), 1.0)

    def _read(self) -> WeightsData:
        path = self.options.weights_file
        assert path is not None  # read only when the options name a weights file
        try:
            return read_weights(path)
        except ValueError as err:
            raise ConfigError(str(err), path="options.weights_file") from None

    @property
    def weights(self) -> dict[str, float]:
        """The current weight of each model the fuser knows (a copy)."""
        return dict(self._table)

    def weight(self, model: str) -> float:
        """The weight of ``model`` (``default_weight`` when it has none)."""
        return self._table.get(model, self.default_weight)

    def reload(self) -> None:
        """Read the weights file again (after another process updated it). Inline weights still
        override it, except for models that have had feedback since."""
        with self._lock:
            self._load()

    async def fuse(
        self, task: str, candidates: Sequence[Candidate], context: FusionContext | None = None
    ) -> FusionResult:
        if not candidates:
            raise FusionError("weighted_vote needs at least one candidate")
        table = self._table  # one snapshot: updates replace the table, never mutate it
        keys = self.answers.vote_keys([c.text for c in candidates])
        pairs = list(zip(keys, candidates, strict=True))
        votes = [(key, table.get(c.model, self.default_weight) * c.weight) for key, c in pairs]
        best, totals = tally(votes, self.integer_bonus)
        winner = candidates[keys.index(best)]
        grand = sum(totals.values())
        share = totals[best] / grand if grand > 0 else 0.0
        return FusionResult(
            text=winner.text,
            winner=winner.model,
            scores={c.model: totals[key] for key, c in pairs},
            reason=f"answer '{best}' won {share:.0%} of the weighted vote among {len(totals)} answers",
        )

    def update(self, model: str, correct: bool) -> float:
        """Record whether ``model`` answered right; returns its new weight.

        The model's record of right and wrong answers (a Beta posterior) gains one, and its
        weight becomes the record's smoothed log-odds. A model known only by a weight starts
        from a record worth ``prior_strength`` answers. With a ``weights_file``, the file is
        re-read, updated and replaced atomically under a lock, so concurrent updates (threads
        or processes) all count.
        """
        return self.update_many({model: correct})[model]

    def update_many(self, outcomes: Mapping[str, bool]) -> dict[str, float]:
        """Record several models' outcomes at once (one file write); returns their new weights."""
        path = self.options.weights_file
        with self._lock, locked(path) if path is not None else contextlib.nullcontext():
            data = self._read() if path is not None else self._data
            counts, weights = dict(data.counts), dict(data.weights)
            strength = self.options.prior_strength
            for model, correct in outcomes.items():
                start = counts.get(model) or counts_for_weight(self.weight(model), strength, data.smoothing)
                right, wrong = start
                counts[model] = (right + 1, wrong) if correct else (right, wrong + 1)
                weights[model] = log_odds(*counts[model], data.smoothing)
            self._data = dataclasses.replace(data, weights=weights, counts=counts)
            if path is not None:
                write_weights(path, self._data)
            self._inline = {m: w for m, w in self._inline.items() if m not in outcomes}
            self._table = {**weights, **self._inline}
        return {model: weights[model] for model in outcomes}


def _pick(option: float | None, from_file: float | None, default: float) -> float:
    if option is not None:
        return option
    return from_file if from_file is not None else default
