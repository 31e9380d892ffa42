"""The weights file of ``weighted_vote``: its format, reading and writing.

A weights file is JSON. ``fusionsdk fusion fit`` writes one; ``weighted_vote`` reads it
(``weights_file:``) and, given feedback, updates it in place::

    {
      "version": 1,
      "weights": {"gpt4o": 3.089, "mini": 2.321},
      "counts": {"gpt4o": {"correct": 636.0, "wrong": 28.0}, "mini": {"correct": 600.0, "wrong": 58.0}},
      "smoothing": 1.0,
      "extract": "number",
      "integer_bonus": 0.5,
      "default_weight": 1.0,
      "panel": ["gpt4o", "mini"]
    }

Only ``weights`` is required. ``counts`` are each model's right and wrong answers seen so far;
a weight is their smoothed log-odds, ``max(0, ln((correct + s) / (wrong + s)))`` with ``s`` the
``smoothing`` (a Beta(s, s) prior). ``extract``, ``integer_bonus`` and ``default_weight`` are
defaults for the fuser's options of the same names. Any other key (the fitted ``panel``, train
figures) is kept as is when the file is updated. Updates hold :func:`fusionsdk.files.locked`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionsdk.files import read_json_as, write_json_file

__all__ = [
    "FORMAT_VERSION",
    "WeightsData",
    "counts_for_weight",
    "log_odds",
    "read_weights",
    "write_weights",
]

FORMAT_VERSION = 1
_SETTINGS = ("extract", "integer_bonus", "default_weight")


def log_odds(correct: float, wrong: float, smoothing: float = 1.0) -> float:
    """A model's weight from its record: the smoothed log-odds of being right, at least 0.

    Example:
        >>> round(log_odds(95, 5), 3)
        2.773
    """
    return max(0.0, math.log((correct + smoothing) / (wrong + smoothing)))


def counts_for_weight(weight: float, strength: float, smoothing: float = 1.0) -> tuple[float, float]:
    """Pseudo-counts worth ``strength`` observations whose log-odds is ``weight``: the starting
    record of a model known only by its weight, so that feedback moves the weight gradually."""
    right = 1.0 / (1.0 + math.exp(-weight))
    total = strength + 2 * smoothing
    return max(0.0, total * right - smoothing), max(0.0, total * (1 - right) - smoothing)


@dataclass(frozen=True)
class WeightsData:
    """A weights file in memory.

    Attributes:
        weights: Weight per model.
        counts: Right and wrong answers per model, where known.
        smoothing: The Beta prior's pseudo-count.
        settings: Option defaults the file carries (``extract``, ``integer_bonus``,
            ``default_weight``).
        extra: Every other key, kept when the file is rewritten.
    """

    weights: dict[str, float] = field(default_factory=dict)
    counts: dict[str, tuple[float, float]] = field(default_factory=dict)
    smoothing: float = 1.0
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> WeightsData:
        """Validate parsed JSON.

        Raises:
            ValueError: The data is not a weights file; the message names the key.
        """
        if not isinstance(data, dict):
            raise ValueError("a weights file is a JSON object with a 'weights' mapping")
        if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            got = data["version"]
            raise ValueError(f"version: this fusionsdk reads version {FORMAT_VERSION}, got {got!r}")
        weights = data.get("weights")
        if not isinstance(weights, dict):
            raise ValueError("weights: missing or not a mapping of model names to numbers")
        smoothing = _number(data.get("smoothing", 1.0), "smoothing", positive=True)
        counts_data = data.get("counts", {})
        if not isinstance(counts_data, dict):
            raise ValueError("counts: not a mapping of model names to {correct, wrong}")
        counts = {}
        for model, record in counts_data.items():
            if not isinstance(record, dict):
                raise ValueError(f"counts.{model}: not a mapping with 'correct' and 'wrong'")
            counts[str(model)] = (
                _number(record.get("correct"), f"counts.{model}.correct"),
                _number(record.get("wrong"), f"counts.{model}.wrong"),
            )
        settings = {key: data[key] for key in _SETTINGS if key in data}
        for key in ("integer_bonus", "default_weight"):
            if key in settings:
                settings[key] = _number(settings[key], key)
        reserved = {"version", "weights", "counts", "smoothing", *_SETTINGS}
        return cls(
            weights={str(m): _number(w, f"weights.{m}") for m, w in weights.items()},
            counts=counts,
            smoothing=smoothing,
            settings=settings,
            extra={k: v for k, v in data.items() if k not in reserved},
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form (what :func:`write_weights` writes)."""
        return {
            "version": FORMAT_VERSION,
            "weights": dict(self.weights),
            "counts": {m: {"correct": c, "wrong": w} for m, (c, w) in self.counts.items()},
            "smoothing": self.smoothing,
            **self.settings,
            **self.extra,
        }


def _number(value: Any, where: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{where}: must be {'above' if positive else 'at least'} 0, got {value}")
    return float(value)


def read_weights(path: Path) -> WeightsData:
    """Read and validate a weights file.

    Raises:
        ValueError: Missing, unreadable or malformed file (the message says which and where).
    """
    return read_json_as(path, "weights file", WeightsData.from_json)


def write_weights(path: Path, data: WeightsData | Mapping[str, Any]) -> None:
    """Write a weights file atomically (:func:`fusionsdk.files.write_json_file`), so a reader
    never sees half a file."""
    write_json_file(path, data.to_json() if isinstance(data, WeightsData) else data)
