"""Learned routers as ``fusionsdk tune`` policies.

A :class:`RouterPolicy` routes each question to one of two models, a weak one (the cheapest
whose train accuracy is within ``gap`` of the best) and the best single model, with the
``learned`` router: a predictor (``logistic`` by default) of each model's success from the
question's embedding, fitted on the train questions by
:func:`~fusionsdk.tuning.router_training.fit_router_model`, and the ``threshold`` decision
(the cheapest model predicted right with at least that probability). The tuned graph's router
model file is written beside the tuned config and keeps learning from feedback
(``fusionsdk feedback``) as any ``learned`` router's does.

The default embedder is ``hashing`` (fast, no download, deterministic), so the routers tune
finds are cheap to fit and to run; they only help where the question's words tell the models
apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionsdk.tuning.answer_spec import AnswerSpec
from fusionsdk.tuning.outcomes import Outcomes
from fusionsdk.tuning.policies import Fitted, Graph, Policy, ranked

__all__ = ["RouterPolicy", "router_policies", "write_router_files"]

EMBEDDER = "hashing"
_EMBEDDINGS: dict[tuple[str, str], np.ndarray] = {}


def _embed(texts: Sequence[str], embedder: str) -> np.ndarray:
    from fusionsdk.registry import ambient_registry
    from fusionsdk.routing.embedding import embed_unit, shared_embedder

    missing = [t for t in dict.fromkeys(texts) if (embedder, t) not in _EMBEDDINGS]
    if missing:
        encoder = shared_embedder(embedder, registry=ambient_registry())
        for text, vector in zip(missing, embed_unit(encoder, missing), strict=True):
            _EMBEDDINGS[(embedder, text)] = vector
    return np.array([_EMBEDDINGS[(embedder, t)] for t in texts])


@dataclass
class Routed(Fitted):
    targets: list[str] = field(default_factory=list)
    threshold: float = 0.9
    model: Any = None

    def run(self, data: Outcomes) -> tuple[np.ndarray, np.ndarray]:
        from fusionsdk.routing.learned import choose

        predicted = self.model.predictor.predict(_embed(data.questions, self.model.embedder))
        right = np.zeros(len(data), dtype=bool)
        cost = np.zeros(len(data))
        for i in range(len(data)):
            scores = {t: float(predicted[i, self.model.models.index(t)]) for t in self.targets}
            target, _ = choose(scores, self.model.costs, "threshold", threshold=self.threshold)
            j = data.column(target)
            right[i], cost[i] = data.right[i, j], data.cost[i, j]
        return right, cost

    def graph(self, answer: AnswerSpec) -> Graph:
        options = {"model_file": "ROUTER_FILE", "decision": "threshold", "threshold": self.threshold}
        node = {"kind": "agent", "router": "learned", "models": list(self.targets), "router_options": options}
        return {"answer": node}, [["START", "answer"], ["answer", "END"]], list(self.targets)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "targets": self.targets, "threshold": self.threshold}


@dataclass
class RouterPolicy(Policy):
    """A learned router between a weak model and the best single one (see the module docstring)."""

    threshold: float
    gap: float = 0.1
    method: str = "logistic"
    family = "router"

    @property
    def label(self) -> str:
        return f"learned router ({self.method}), weak within {self.gap:.0%} -> best, at {self.threshold:g}"

    def fit(self, data: Outcomes) -> Fitted:
        from fusionsdk.tuning.router_training import TrainingSet, fit_router_model

        order = ranked(data)
        best = order[0]
        near = [m for m in order if data.accuracy(m) >= data.accuracy(best) - self.gap and m != best]
        weak = min(near, key=data.total_cost) if near else order[-1]
        targets = [weak, best] if weak != best else [best]
        columns = [data.column(m) for m in targets]
        training = TrainingSet(
            list(data.questions), targets, data.right[:, columns].astype(float), data.cost[:, columns]
        )
        fit = fit_router_model(
            training,
            method=self.method,
            embedder=EMBEDDER,
            holdout=0.0,
            embeddings=_embed(data.questions, EMBEDDER),
        )
        return Routed(self.family, self.label, targets, self.threshold, fit.model)


def router_policies(train: Outcomes) -> list[Policy]:
    """The routers searched."""
    return [RouterPolicy(t, gap) for gap in (0.05, 0.15) for t in (0.6, 0.75, 0.9)]


def write_router_files(data: dict[str, Any], fitted: Fitted, out: Path) -> None:
    """Write a routed policy's router model file beside ``out`` and point the graph at it."""
    if not isinstance(fitted, Routed):
        return
    from fusionsdk.routing.router_file import write_router_model

    path = out.parent / f"{out.stem}.router.json"
    write_router_model(path, fitted.model)
    data["nodes"]["answer"]["router_options"]["model_file"] = str(path)
