"""Train the ``learned`` router: from evaluation data (``fusionsdk router train``) or feedback.

:func:`train_config` evaluates the models of a config's routed agent (or panel) on a dataset
through :func:`~fusionsdk.tuning.base.evaluate_panel`, which gives each model's score and cost on
every question; :class:`TrainingSet` holds that as a label matrix (NaN where a model did not
answer, so logged feedback, one model per prompt, fits in too); :func:`fit_router_model` embeds
the prompts and fits the predictor.

Example:
    >>> fit = run_sync(train_config(load_config("router.yaml"), rows, scorer))  # doctest: +SKIP
    >>> write_router_model(Path("router.json"), fit.model)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionsdk.config.lookup import find_node
from fusionsdk.errors import ConfigError
from fusionsdk.registry import Registry, ambient_registry
from fusionsdk.routing.embedding import default_embedder, embed_unit, shared_embedder
from fusionsdk.routing.predictors import PREDICTORS, success_rates
from fusionsdk.routing.router_file import RouterModel
from fusionsdk.tuning.base import evaluate_panel

if TYPE_CHECKING:
    from fusionsdk.config.file import FusionConfig
    from fusionsdk.eval.base import Scorer
    from fusionsdk.eval.harness import EvalReport, RowResult
    from fusionsdk.providers.replay import ReplayRow
    from fusionsdk.routing.feedback import FeedbackLog

__all__ = ["RouterFit", "TrainingSet", "fit_router_model", "routed_models", "train_config"]


@dataclass(frozen=True)
class TrainingSet:
    """Prompts and each model's outcome on them.

    Attributes:
        texts: The prompts.
        models: The models (columns).
        labels: Score per prompt and model (0 to 1), NaN where unknown.
        costs: USD per prompt and model, NaN where unknown.
    """

    texts: list[str]
    models: list[str]
    labels: np.ndarray
    costs: np.ndarray

    @classmethod
    def from_report(
        cls,
        report: EvalReport | Sequence[Any],
        questions: Mapping[str, str],
        models: Sequence[str] | None = None,
    ) -> TrainingSet:
        """From an evaluation report (or its rows): ``model_scores`` and ``model_costs`` per row,
        the prompt found by row id in ``questions``. Failed rows are left out.

        Raises:
            ConfigError: No row has a known prompt and a model's score.
        """
        rows: Sequence[Any] = report.rows if hasattr(report, "rows") else report  # type: ignore[union-attr]
        results = [r for r in rows if r.model_scores and r.id in questions]
        names = list(models or dict.fromkeys(m for r in results for m in r.model_scores))
        if not results or not names:
            raise ConfigError("nothing to train on: no evaluated row has a known prompt and a model's score")
        labels = np.array([[r.model_scores.get(m, np.nan) for m in names] for r in results], dtype=float)
        costs = np.array(
            [
                [r.model_costs.get(m, np.nan) if m in r.model_scores else np.nan for m in names]
                for r in results
            ],
            dtype=float,
        )
        return cls([questions[r.id] for r in results], names, labels, costs)

    @classmethod
    def from_feedback(cls, log: FeedbackLog, models: Sequence[str]) -> TrainingSet:
        """From logged decisions that got feedback (prompts withheld as sensitive are skipped)."""
        texts, rows = [], []
        for decision, score in log.scored():
            target = str(decision.get("target"))
            if decision.get("text") and target in models:
                row = np.full(len(models), np.nan)
                row[list(models).index(target)] = score
                texts.append(str(decision["text"]))
                rows.append(row)
        labels = np.array(rows, dtype=float).reshape(len(rows), len(models))
        return cls(texts, list(models), labels, np.full_like(labels, np.nan))

    def __add__(self, other: TrainingSet) -> TrainingSet:
        if other.models != self.models:
            raise ConfigError("cannot merge training sets of different models")
        return TrainingSet(
            self.texts + other.texts,
            self.models,
            np.vstack([self.labels, other.labels]),
            np.vstack([self.costs, other.costs]),
        )

    def mean_costs(self) -> dict[str, float]:
        """Each model's mean USD per request (0 where never measured)."""
        out = {}
        for i, model in enumerate(self.models):
            known = self.costs[:, i][~np.isnan(self.costs[:, i])]
            out[model] = float(known.mean()) if len(known) else 0.0
        return out

    def counts(self) -> dict[str, tuple[float, float]]:
        """Each model's right and wrong answers (a score of 0.5 or more is right)."""
        out = {}
        for i, model in enumerate(self.models):
            known = self.labels[:, i][~np.isnan(self.labels[:, i])]
            right = float((known >= 0.5).sum())
            out[model] = (right, float(len(known)) - right)
        return out


@dataclass(frozen=True)
class RouterFit:
    """A trained router model and how it was made.

    Attributes:
        model: The router model (write it with :func:`~fusionsdk.routing.router_file.write_router_model`).
        data: What it was trained on.
        brier: Held-out Brier score of the predictor (the share ``holdout`` of the prompts held
            out, model refitted on the rest); lower is better.
        brier_prior: The same for predicting each model's training success rate: the predictor
            learned something from the prompts when it does better than this.
    """

    model: RouterModel
    data: TrainingSet
    brier: float | None
    brier_prior: float | None


def fit_router_model(
    data: TrainingSet,
    *,
    method: str = "knn",
    embedder: str | None = None,
    embedder_options: dict[str, Any] | None = None,
    settings: dict[str, float] | None = None,
    seed: int = 0,
    holdout: float = 0.2,
    embeddings: np.ndarray | None = None,
    registry: Registry | None = None,
) -> RouterFit:
    """Embed the prompts and fit the predictor; measure it on a held-out share first.

    Args:
        embeddings: The prompts' unit embeddings by ``embedder``, when already computed.
        registry: Where the embedder comes from (default: the process-wide registry).

    Raises:
        ConfigError: Unknown method or setting, or too few prompts.
    """
    if method not in PREDICTORS:
        raise ConfigError(f"must be one of {', '.join(PREDICTORS)}, got {method!r}", path="method")
    if len(data.texts) < 2:
        raise ConfigError(f"need at least 2 prompts to train on, got {len(data.texts)}")
    registry = registry or ambient_registry()
    name = embedder or default_embedder(registry)
    if embeddings is None:
        x = embed_unit(shared_embedder(name, embedder_options, "options", registry=registry), data.texts)
    elif embeddings.shape[0] != len(data.texts):
        raise ConfigError(
            f"{embeddings.shape[0]} embeddings for {len(data.texts)} prompts", path="embeddings"
        )
    else:
        x = embeddings

    def predictor() -> Any:
        try:
            return PREDICTORS[method](len(data.models), settings)
        except ValueError as err:
            raise ConfigError(str(err), path="settings") from None

    brier = brier_prior = None
    held = np.random.default_rng(seed).random(len(x)) < holdout
    if 0 < held.sum() < len(x):
        probe = predictor()
        probe.fit(x[~held], data.labels[~held], seed)
        known = ~np.isnan(data.labels[held])
        truth = np.where(known, data.labels[held], 0.0)
        prior = np.tile(success_rates(data.labels[~held]), (int(held.sum()), 1))
        brier = float(((probe.predict(x[held]) - truth) ** 2)[known].mean())
        brier_prior = float(((prior - truth) ** 2)[known].mean())
    final = predictor()
    final.fit(x, data.labels, seed)
    model = RouterModel(
        final, list(data.models), data.mean_costs(), data.counts(), name, dict(embedder_options or {})
    )
    return RouterFit(model, data, brier, brier_prior)


def routed_models(config: FusionConfig, node: str | None = None) -> tuple[str, dict[str, Any]]:
    """The node to train for (an agent with a ``router``, else a panel) and its fields.

    Raises:
        ConfigError: No such node, several and none named, or ``node`` is neither.
    """
    found = find_node(
        config,
        node,
        kind=("agent", "panel"),
        where=lambda n: n.kind == "panel" or bool(n.fields.get("router")),
        prefer=lambda n: n.kind == "agent",
        unnamed="name the node to train for (routed agents and panels: {found})",
        unknown="'{name}' is not a routed agent or a panel (those are: {found})",
    )
    found.models()
    return found.name, found.fields


async def train_config(
    config: FusionConfig,
    rows: Sequence[ReplayRow],
    scorer: Scorer,
    *,
    node: str | None = None,
    method: str = "knn",
    embedder: str | None = None,
    settings: dict[str, float] | None = None,
    seed: int = 0,
    concurrency: int = 16,
    feedback: FeedbackLog | None = None,
    base_dir: Path | None = None,
    on_row: Callable[[RowResult], None] | None = None,
) -> RouterFit:
    """Evaluate every model of the node on ``rows`` (a panel asking each with the node's
    prompt) and fit a router model on the outcome, plus logged ``feedback`` if given.

    ``on_row`` is called with each evaluated row as it finishes (a progress bar).

    Raises:
        ConfigError: Bad arguments (``path`` names the argument).
        FusionError: Every row's run failed.
    """
    name, fields = routed_models(config, node)
    if method not in PREDICTORS:  # before the evaluation, which takes a while
        raise ConfigError(f"must be one of {', '.join(PREDICTORS)}, got {method!r}", path="method")
    models = [str(m) for m in fields["models"]]
    panel = {
        "kind": "panel",
        "models": models,
        "quorum": 1,
        **{
            k: fields[k]
            for k in ("prompt", "system", "max_tokens", "temperature")
            if fields.get(k) is not None
        },
    }
    report = await evaluate_panel(
        config,
        rows,
        scorer,
        panel="train_panel",
        vote="train_vote",
        node=panel,
        base_dir=base_dir,
        concurrency=concurrency,
        on_row=on_row,
    )
    training = TrainingSet.from_report(report, {r.id: r.question for r in rows}, models)
    if feedback is not None:
        training = training + TrainingSet.from_feedback(feedback, models)
    fit = fit_router_model(training, method=method, embedder=embedder, settings=settings, seed=seed)
    fit.model.extra.update(node=name, questions=len(rows), errors=report.errors)
    return fit
