"""The model file of the ``learned`` router: its format, reading and atomic writing.

``fusionsdk router train`` writes one; the router reads it (``model_file:``) and, given feedback,
updates it in place under a lock (:mod:`fusionsdk.files`, as ``weighted_vote`` does for vote
weights). It is JSON; arrays are base64 float32 with their shape::

    {
      "version": 1,
      "method": "knn",
      "embedder": "hashing", "embedder_options": {},
      "models": ["flash", "mini", "gpt4o"],
      "costs": {"flash": 0.00004, "mini": 0.0001, "gpt4o": 0.0017},
      "counts": {"flash": {"correct": 603, "wrong": 57}, ...},
      "settings": {"k": 30, "prior_strength": 10.0, "max_memory": 50000},
      "state": {"x": {"shape": [660, 1024], "float32": "..."}, "y": {...}, "prior": {...}},
      "feedback": 0,
      "train": {"questions": 660, "dataset": "...", "split": "train", "seed": 0}
    }

``costs`` are each model's mean USD per request; ``counts`` its right and wrong answers seen
(training plus feedback). Unknown keys are kept when the file is rewritten.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionsdk.files import read_json_as, write_json_file
from fusionsdk.routing.predictors import PREDICTORS, Predictor

__all__ = ["FORMAT_VERSION", "RouterModel", "read_router_model", "write_router_model"]

FORMAT_VERSION = 1
_RESERVED = {
    "version",
    "method",
    "embedder",
    "embedder_options",
    "models",
    "costs",
    "counts",
    "settings",
    "state",
    "feedback",
}


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value, dtype="<f4").tobytes()
        return {"shape": list(value.shape), "float32": base64.b64encode(data).decode("ascii")}
    return value


def _decode(value: Any, where: str) -> Any:
    if not (isinstance(value, dict) and "float32" in value):
        return value
    try:
        array = np.frombuffer(base64.b64decode(value["float32"]), dtype="<f4")
        return array.reshape([int(n) for n in value["shape"]]).astype(np.float64)
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"{where}: not an encoded array ({err})") from None


@dataclass
class RouterModel:
    """A learned router's model in memory.

    Attributes:
        predictor: Predicts each model's chance of success from a prompt embedding.
        models: The models it predicts for (config names), in the predictor's column order.
        costs: Mean USD per request of each model.
        counts: Right and wrong answers per model (training plus feedback).
        embedder: The ``fusionsdk.embedders`` plugin prompts are embedded with.
        embedder_options: Its options.
        feedback: How many feedback updates the model has had.
        extra: Every other key (training figures), kept on rewrite.
    """

    predictor: Predictor
    models: list[str]
    costs: dict[str, float]
    counts: dict[str, tuple[float, float]]
    embedder: str
    embedder_options: dict[str, Any] = field(default_factory=dict)
    feedback: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        """The predictor's method (``knn``, ``logistic``, ``mlp`` or ``mf``)."""
        return self.predictor.method

    def record(self, model: str, score: float) -> None:
        """Count one outcome of ``model`` (a score of 0.5 or more is right)."""
        right, wrong = self.counts.get(model, (0.0, 0.0))
        self.counts[model] = (right + 1, wrong) if score >= 0.5 else (right, wrong + 1)
        self.feedback += 1

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form (what :func:`write_router_model` writes)."""
        return {
            "version": FORMAT_VERSION,
            "method": self.method,
            "embedder": self.embedder,
            "embedder_options": self.embedder_options,
            "models": list(self.models),
            "costs": dict(self.costs),
            "counts": {m: {"correct": c, "wrong": w} for m, (c, w) in self.counts.items()},
            "settings": dict(self.predictor.settings),
            "state": {k: _encode(v) for k, v in self.predictor.state.items()},
            "feedback": self.feedback,
            **self.extra,
        }

    @classmethod
    def from_json(cls, data: Any) -> RouterModel:
        """Validate parsed JSON.

        Raises:
            ValueError: Not a router model file; the message names the key.
        """
        if not isinstance(data, dict):
            raise ValueError("a router model file is a JSON object")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"version: this fusionsdk reads version {FORMAT_VERSION}, got {data.get('version')!r}"
            )
        method = data.get("method")
        if method not in PREDICTORS:
            raise ValueError(f"method: must be one of {', '.join(PREDICTORS)}, got {method!r}")
        models = data.get("models")
        if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
            raise ValueError("models: missing or not a non-empty list of model names")
        if not isinstance(data.get("embedder"), str):
            raise ValueError("embedder: missing or not a plugin name")
        costs = _numbers(data.get("costs", {}), "costs")
        counts_data = data.get("counts", {})
        if not isinstance(counts_data, dict):
            raise ValueError("counts: not a mapping of model names to {correct, wrong}")
        counts = {}
        for model, record in counts_data.items():
            if not isinstance(record, dict):
                raise ValueError(f"counts.{model}: not a mapping with 'correct' and 'wrong'")
            numbers = _numbers({k: record.get(k) for k in ("correct", "wrong")}, f"counts.{model}")
            counts[str(model)] = (numbers["correct"], numbers["wrong"])
        try:
            predictor = PREDICTORS[method](len(models), data.get("settings") or {})
        except ValueError as err:
            raise ValueError(f"settings: {err}") from None
        state = data.get("state")
        if not isinstance(state, dict):
            raise ValueError("state: missing or not a mapping")
        predictor.state = {k: _decode(v, f"state.{k}") for k, v in state.items()}
        return cls(
            predictor=predictor,
            models=list(models),
            costs=costs,
            counts=counts,
            embedder=data["embedder"],
            embedder_options=dict(data.get("embedder_options") or {}),
            feedback=int(data.get("feedback", 0)),
            extra={k: v for k, v in data.items() if k not in _RESERVED},
        )


def _numbers(values: Any, where: str) -> dict[str, float]:
    if not isinstance(values, dict):
        raise ValueError(f"{where}: not a mapping of names to numbers")
    out = {}
    for key, value in values.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"{where}.{key}: expected a number of at least 0, got {value!r}")
        out[str(key)] = float(value)
    return out


def read_router_model(path: Path) -> RouterModel:
    """Read and validate a router model file.

    Raises:
        ValueError: Missing, unreadable or malformed file (the message says which and where).
    """
    return read_json_as(path, "router model file", RouterModel.from_json)


def write_router_model(path: Path, model: RouterModel) -> None:
    """Write a router model file atomically (a temporary file, then a rename)."""
    write_json_file(path, model.to_json())
