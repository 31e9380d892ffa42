"""Predict each model's chance of answering a prompt right from the prompt's embedding.

The ``learned`` router's predictors, numpy only, each fitted on a label matrix ``Y`` (prompts x
models; 1 right, 0 wrong, NaN unknown, so a model need not have answered every prompt) and
updated online from one labelled example at a time:

- ``knn``: the similarity-weighted success rate of the ``k`` nearest remembered prompts, shrunk
  towards the model's overall rate; feedback adds the prompt to the memory.
- ``logistic``: one L2-regularised logistic regression per model.
- ``mlp``: a shared hidden layer (ReLU) with one sigmoid output per model.
- ``mf``: matrix factorisation as in RouteLLM: a learned embedding per model and a learned
  projection of the prompt; the score is the sigmoid of their dot product plus a model bias.

The gradient-trained ones use Adam on the masked cross-entropy; feedback is one SGD step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

__all__ = ["PREDICTORS", "KNNPredictor", "LogisticPredictor", "MFPredictor", "MLPPredictor", "Predictor"]

Params = dict[str, Any]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def success_rates(labels: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """Each model's smoothed rate of right answers (Beta(s, s) prior), over known labels."""
    known = ~np.isnan(labels)
    right = np.where(known, labels, 0.0).sum(axis=0)
    return (right + smoothing) / (known.sum(axis=0) + 2 * smoothing)


class Predictor(ABC):
    """Predicts, for prompt embeddings, each of ``n_models`` models' chance of success."""

    method: ClassVar[str]
    #: Settings and their defaults (what ``--option`` and the model file may set).
    defaults: ClassVar[dict[str, float]] = {}

    def __init__(self, n_models: int, settings: dict[str, float] | None = None) -> None:
        unknown = set(settings or {}) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"unknown {self.method} setting '{sorted(unknown)[0]}' (known: {', '.join(self.defaults)})"
            )
        self.n_models = n_models
        self.settings = {**self.defaults, **(settings or {})}
        self.state: Params = {}

    @abstractmethod
    def fit(self, x: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        """Learn from embeddings ``x`` (n x d) and ``labels`` (n x models, NaN unknown)."""

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Chance of success (n x models) for embeddings ``x``."""

    @abstractmethod
    def learn(self, x: np.ndarray, model: int, label: float) -> None:
        """Update online from one prompt's embedding and one model's outcome (0 to 1)."""


class KNNPredictor(Predictor):
    """k nearest neighbours by cosine similarity, shrunk towards each model's overall rate."""

    method = "knn"
    defaults: ClassVar[dict[str, float]] = {"k": 30, "prior_strength": 10.0, "max_memory": 50000}

    def fit(self, x: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        self.state = {
            "x": x.astype(np.float32),
            "y": labels.astype(np.float32),
            "prior": success_rates(labels),
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        memory, labels, prior = self.state["x"], self.state["y"], self.state["prior"]
        strength = float(self.settings["prior_strength"])
        if len(memory) == 0:
            return np.tile(prior, (len(x), 1))
        k = int(min(self.settings["k"], len(memory)))
        similarity = x.astype(np.float32) @ memory.T
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        out = np.empty((len(x), self.n_models))
        for i, rows in enumerate(nearest):
            weight = np.clip(similarity[i, rows], 0.0, None)[:, None]
            known = ~np.isnan(labels[rows])
            right = (weight * np.where(known, labels[rows], 0.0)).sum(axis=0)
            out[i] = (right + strength * prior) / ((weight * known).sum(axis=0) + strength)
        return out

    def learn(self, x: np.ndarray, model: int, label: float) -> None:
        row = np.full((1, self.n_models), np.nan, dtype=np.float32)
        row[0, model] = label
        keep = int(self.settings["max_memory"]) - 1
        self.state["x"] = np.vstack([self.state["x"][-keep:], x.astype(np.float32)[None, :]])
        self.state["y"] = np.vstack([self.state["y"][-keep:], row])
        self.state["prior"] = success_rates(self.state["y"])


class _GradientPredictor(Predictor):
    """Shared training loop: Adam on the masked binary cross-entropy plus L2."""

    defaults: ClassVar[dict[str, float]] = {
        "epochs": 300,
        "lr": 0.05,
        "l2": 0.01,
        "online_lr": 0.05,
        "validation": 0.15,
    }

    @abstractmethod
    def _init(self, dim: int, prior: np.ndarray, rng: np.random.Generator) -> None: ...

    @abstractmethod
    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """Logits (n x models) and what the backward pass needs."""

    @abstractmethod
    def _backward(self, x: np.ndarray, grad: np.ndarray, cache: Any) -> Params:
        """Gradients of every state array, given d(loss)/d(logits)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(self._forward(x.astype(np.float64))[0])

    def _grads(self, x: np.ndarray, labels: np.ndarray, l2: float) -> Params:
        logits, cache = self._forward(x)
        known = ~np.isnan(labels)
        grad = np.where(known, _sigmoid(logits) - np.where(known, labels, 0.0), 0.0) / len(x)
        grads = self._backward(x, grad, cache)
        return {k: g + l2 * self.state[k] if k.startswith("w") else g for k, g in grads.items()}

    def fit(self, x: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        """Adam for up to ``epochs`` full-batch steps. With a ``validation`` share, that share
        of the prompts is held out and the state with the lowest held-out loss is kept (early
        stopping, checked every 10 steps), which stops the larger models from overfitting."""
        x = x.astype(np.float64)
        rng = np.random.default_rng(seed)
        self._init(x.shape[1], success_rates(labels), rng)
        held = (
            rng.random(len(x)) < float(self.settings["validation"])
            if len(x) >= 20
            else np.zeros(len(x), bool)
        )
        train_x, train_y = x[~held], labels[~held]
        best, best_loss = dict(self.state), self._loss(x[held], labels[held])
        lr, l2 = float(self.settings["lr"]), float(self.settings["l2"])
        moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in self.state.items()}
        for step in range(1, int(self.settings["epochs"]) + 1):
            for key, grad in self._grads(train_x, train_y, l2).items():
                m, v = moments[key]
                m *= 0.9
                m += 0.1 * grad
                v *= 0.999
                v += 0.001 * grad * grad
                self.state[key] = self.state[key] - lr * (m / (1 - 0.9**step)) / (
                    np.sqrt(v / (1 - 0.999**step)) + 1e-8
                )
            if held.any() and step % 10 == 0:
                loss = self._loss(x[held], labels[held])
                if loss < best_loss:
                    best, best_loss = dict(self.state), loss
        if held.any():
            self.state = best

    def _loss(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Mean cross-entropy over the known labels (inf when there are none)."""
        known = ~np.isnan(labels)
        if not known.any():
            return float("inf")
        p = np.clip(self.predict(x), 1e-6, 1 - 1e-6)
        y = np.where(known, labels, 0.0)
        return float(-(np.where(known, y * np.log(p) + (1 - y) * np.log(1 - p), 0.0)).sum() / known.sum())

    def learn(self, x: np.ndarray, model: int, label: float) -> None:
        labels = np.full((1, self.n_models), np.nan)
        labels[0, model] = label
        lr = float(self.settings["online_lr"])
        for key, grad in self._grads(x.astype(np.float64)[None, :], labels, 0.0).items():
            self.state[key] = self.state[key] - lr * grad


class LogisticPredictor(_GradientPredictor):
    """An L2-regularised logistic regression per model on the prompt embedding."""

    method = "logistic"

    def _init(self, dim: int, prior: np.ndarray, rng: np.random.Generator) -> None:
        self.state = {"w": np.zeros((dim, self.n_models)), "b": _logit(prior)}

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return x @ self.state["w"] + self.state["b"], None

    def _backward(self, x: np.ndarray, grad: np.ndarray, cache: Any) -> Params:
        return {"w": x.T @ grad, "b": grad.sum(axis=0)}


class MLPPredictor(_GradientPredictor):
    """A shared hidden layer (ReLU) and a sigmoid output per model."""

    method = "mlp"
    defaults: ClassVar[dict[str, float]] = {
        "epochs": 300,
        "lr": 0.003,
        "l2": 0.01,
        "online_lr": 0.01,
        "validation": 0.15,
        "hidden": 64,
    }

    def _init(self, dim: int, prior: np.ndarray, rng: np.random.Generator) -> None:
        hidden = int(self.settings["hidden"])
        self.state = {
            "w1": rng.normal(0, np.sqrt(2 / dim), (dim, hidden)),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0, 0.01, (hidden, self.n_models)),
            "b2": _logit(prior),
        }

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        hidden = np.maximum(0.0, x @ self.state["w1"] + self.state["b1"])
        return hidden @ self.state["w2"] + self.state["b2"], hidden

    def _backward(self, x: np.ndarray, grad: np.ndarray, cache: Any) -> Params:
        hidden = cache
        back = (grad @ self.state["w2"].T) * (hidden > 0)
        return {"w1": x.T @ back, "b1": back.sum(axis=0), "w2": hidden.T @ grad, "b2": grad.sum(axis=0)}


class MFPredictor(_GradientPredictor):
    """RouteLLM-style matrix factorisation: ``sigmoid(v_model . (P x) + b_model)``."""

    method = "mf"
    defaults: ClassVar[dict[str, float]] = {
        "epochs": 300,
        "lr": 0.005,
        "l2": 0.01,
        "online_lr": 0.02,
        "validation": 0.15,
        "dim": 32,
    }

    def _init(self, dim: int, prior: np.ndarray, rng: np.random.Generator) -> None:
        rank = int(self.settings["dim"])
        self.state = {
            "wp": rng.normal(0, 1 / np.sqrt(dim), (dim, rank)),
            "wv": rng.normal(0, 0.01, (self.n_models, rank)),
            "b": _logit(prior),
        }

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        projected = x @ self.state["wp"]
        return projected @ self.state["wv"].T + self.state["b"], projected

    def _backward(self, x: np.ndarray, grad: np.ndarray, cache: Any) -> Params:
        projected = cache
        return {"wp": x.T @ (grad @ self.state["wv"]), "wv": grad.T @ projected, "b": grad.sum(axis=0)}


#: Predictor classes by method name.
PREDICTORS: dict[str, type[Predictor]] = {
    cls.method: cls for cls in (KNNPredictor, LogisticPredictor, MLPPredictor, MFPredictor)
}
