"""``learned``: predict each model's chance of answering right from the prompt, then pick by
quality and cost.

The model file (``fusionsdk router train`` writes it; format in
:mod:`fusionsdk.routing.router_file`) holds a predictor fitted on evaluation data (``knn``,
``logistic``, ``mlp`` or RouteLLM-style ``mf``, see :mod:`fusionsdk.routing.predictors`), the
embedder prompts go through, and each model's mean cost per request. Two decision rules:

- ``threshold``: the cheapest model whose predicted success reaches ``threshold`` (none: the
  most likely to succeed);
- ``utility``: the model maximising ``p - cost_weight * cost / most costly``, so that
  ``cost_weight`` trades quality for money on a scale from 0 (quality only) to about 1.

It keeps learning: feedback (:mod:`fusionsdk.routing.feedback`) adds the prompt and outcome to
the predictor and the model's counts, and rewrites the file atomically under a lock. Other
routers on the same file (other graphs, other processes) reload it when it changes.

Example::

    pick:
      kind: agent
      router: learned
      models: [flash, mini, gpt4o]
      router_options: {model_file: router.json, decision: threshold, threshold: 0.9}
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from fusionsdk.errors import ConfigError, GraphError
from fusionsdk.files import locked
from fusionsdk.plugin import PluginOptions
from fusionsdk.registry import Registry
from fusionsdk.routing.base import RouteDecision, Router, RouteRequest
from fusionsdk.routing.embedding import embed_unit, shared_embedder
from fusionsdk.routing.feedback import LearnsFromFeedback
from fusionsdk.routing.router_file import RouterModel, read_router_model, write_router_model

__all__ = ["LearnedRouter", "choose"]


def choose(
    predicted: Mapping[str, float],
    costs: Mapping[str, float],
    decision: Literal["threshold", "utility"],
    threshold: float = 0.9,
    cost_weight: float = 0.5,
) -> tuple[str, str]:
    """The target to pick from predicted success and cost, and why (shared with benchmarks).

    Example:
        >>> choose({"a": 0.95, "b": 0.97}, {"a": 1.0, "b": 10.0}, "threshold", threshold=0.9)[0]
        'a'
    """
    by_cost = sorted(predicted, key=lambda t: (costs.get(t, 0.0), -predicted[t]))
    if decision == "threshold":
        for target in by_cost:
            if predicted[target] >= threshold:
                return target, f"cheapest with predicted success {predicted[target]:.3f} >= {threshold:g}"
        best = max(by_cost, key=lambda t: predicted[t])
        return best, f"none reaches {threshold:g}: the likeliest to succeed ({predicted[best]:.3f})"
    top = max((costs.get(t, 0.0) for t in predicted), default=0.0) or 1.0

    def utility(target: str) -> float:
        return predicted[target] - cost_weight * costs.get(target, 0.0) / top

    best = max(by_cost, key=utility)
    return best, f"best predicted success {predicted[best]:.3f} less cost {cost_weight:g} x relative cost"


class LearnedRouter(Router["LearnedRouter.Options"], LearnsFromFeedback):
    """Predict each model's chance of success from the prompt with a model trained on
    evaluation data, then pick the cheapest good-enough model (or the best quality-cost
    trade-off); learns online from feedback."""

    class Options(PluginOptions):
        """Options of learned.

        Attributes:
            model_file: The router model file (``fusionsdk router train`` writes it); updated in
                place by feedback.
            decision: ``threshold`` (cheapest model predicted good enough) or ``utility``
                (predicted success minus ``cost_weight`` times relative cost).
            threshold: Predicted success a model needs under ``threshold``.
            cost_weight: Weight of the cost (relative to the most costly target) under ``utility``.
            costs: USD per request by model, overriding the file's measured means.
            default: Target when no offered target is in the model file (else the first offered).
        """

        model_file: Path
        decision: Literal["threshold", "utility"] = "threshold"
        threshold: float = Field(0.9, ge=0, le=1)
        cost_weight: float = Field(0.5, ge=0)
        costs: dict[str, float] = Field(default_factory=dict)
        default: str | None = None

        @field_validator("model_file")
        @classmethod
        def _readable(cls, path: Path) -> Path:
            read_router_model(path)
            return path

        @field_validator("costs")
        @classmethod
        def _non_negative(cls, costs: dict[str, float]) -> dict[str, float]:
            for model, cost in costs.items():
                if not cost >= 0:
                    raise ValueError(f"the cost of '{model}' must be at least 0, got {cost}")
            return costs

    def __init__(
        self, options: PluginOptions | dict[str, Any] | None = None, *, registry: Registry | None = None
    ) -> None:
        super().__init__(options, registry=registry)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._model = self._load()

    @property
    def path(self) -> Path:
        """The model file."""
        return self.options.model_file

    @classmethod
    def logged_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        logged = dict(options)
        if logged.get("model_file") is not None:
            logged["model_file"] = str(Path(logged["model_file"]).resolve())
        return logged

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _load(self) -> RouterModel:
        stamp = self._file_stamp()
        try:
            model = read_router_model(self.path)
        except ValueError as err:
            raise ConfigError(str(err), path="options.model_file") from None
        self._stamp = stamp
        return model

    @property
    def model(self) -> RouterModel:
        """The current model, reloaded when another router rewrote the file."""
        with self._lock:
            if self._file_stamp() != self._stamp:
                self._model = self._load()
            return self._model

    def predict(self, texts: Sequence[str], model: RouterModel | None = None) -> np.ndarray:
        """Predicted success (texts x the file's models)."""
        model = model or self.model
        embedder = shared_embedder(
            model.embedder, model.embedder_options, "model_file", registry=self.registry
        )
        return model.predictor.predict(embed_unit(embedder, texts))

    def costs(self, model: RouterModel | None = None) -> dict[str, float]:
        """USD per request by model: the file's means, overridden by ``costs``."""
        return {**(model or self.model).costs, **self.options.costs}

    async def route(self, request: RouteRequest, targets: Sequence[str]) -> RouteDecision:
        if not targets:
            raise GraphError("learned router: no targets to choose from")
        opts: LearnedRouter.Options = self.options
        model = self.model
        known = [t for t in dict.fromkeys(targets) if t in model.models]
        if not known:
            fallback = opts.default if opts.default is not None and opts.default in targets else targets[0]
            return RouteDecision(fallback, f"no offered target is in {self.path.name}: fallback")
        row = (await asyncio.to_thread(self.predict, [request.text], model))[0]  # embedding may take a while
        predicted = {t: float(row[model.models.index(t)]) for t in known}
        target, reason = choose(predicted, self.costs(model), opts.decision, opts.threshold, opts.cost_weight)
        return RouteDecision(
            target, f"{model.method}: {reason}", {t: round(p, 6) for t, p in predicted.items()}
        )

    def learn(self, request: RouteRequest, target: str, score: float) -> bool:
        """Add one outcome: the predictor learns the prompt (unless its text was withheld) and
        the target's counts change; the file is re-read, updated and replaced under its lock,
        so concurrent feedback from threads and processes all counts."""
        with self._lock, locked(self.path):
            try:
                model = read_router_model(self.path)
            except ValueError as err:
                raise ConfigError(str(err), path="options.model_file") from None
            if target not in model.models:
                return False
            if request.text:
                embedder = shared_embedder(
                    model.embedder, model.embedder_options, "model_file", registry=self.registry
                )
                vector = embed_unit(embedder, [request.text])[0]
                model.predictor.learn(vector, model.models.index(target), float(score))
            model.record(target, score)
            write_router_model(self.path, model)
            self._model, self._stamp = model, self._file_stamp()
        return True
