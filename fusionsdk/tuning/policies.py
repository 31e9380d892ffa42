"""What ``fusionsdk tune`` chooses among: policies that answer a question from a config's models.

A :class:`Policy` is a *procedure* with fixed settings ("a log-odds vote of the 5 models most
accurate on the data it is fitted on", "a cascade of the 2 most accurate cheap models then the
strongest, accepted at 75% agreement of 2 answers"). :meth:`Policy.fit` makes every data-driven
choice (members, weights, coefficients) on the questions it is given and returns a
:class:`Fitted` policy, which answers other questions in memory (:meth:`Fitted.run`, from
:class:`~fusionsdk.tuning.outcomes.Outcomes`) exactly as the graph it writes
(:meth:`Fitted.graph`) answers them: a single ``agent``, a ``panel`` and a ``weighted_vote`` or
``learned_vote``, or a ``cascade`` node. Because fitting is part of the procedure,
cross-validation of a policy measures its member choice too.

Learned routers are in :mod:`fusionsdk.tuning.router_policy`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusionsdk.fusion.learned_vote import VoteRule
from fusionsdk.fusion.weighted_vote import tally
from fusionsdk.routing.cascade import agreement_verdict, leading_answer
from fusionsdk.tuning.answer_spec import AnswerSpec
from fusionsdk.tuning.outcomes import Outcomes

__all__ = ["BestSingle", "CascadePolicy", "Fitted", "FixedSingle", "Graph", "Policy", "VotePolicy"]

#: Nodes and edges of a written graph, and the models it uses.
Graph = tuple[dict[str, Any], list[list[str]], list[str]]


def ranked(data: Outcomes, models: Sequence[str] | None = None) -> list[str]:
    """``models`` (default: all) most accurate first, the cheaper first on ties."""
    pool = list(models if models is not None else data.models)
    return sorted(pool, key=lambda m: (-data.accuracy(m), data.total_cost(m), data.models.index(m)))


@dataclass
class Fitted(ABC):
    """A policy fitted on some questions."""

    family: str
    label: str

    @abstractmethod
    def run(self, data: Outcomes) -> tuple[np.ndarray, np.ndarray]:
        """(right, cost) per question of ``data``."""

    @abstractmethod
    def graph(self, answer: AnswerSpec) -> Graph:
        """The graph that answers as :meth:`run` simulates, reading answers with ``answer``
        (its fuse and cascade nodes carry ``answer:``)."""

    def describe(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return {"family": self.family, "label": self.label}


class Policy(ABC):
    """A procedure that fits a :class:`Fitted` policy on questions."""

    family: str = ""

    @property
    @abstractmethod
    def label(self) -> str:
        """Short description of the settings."""

    @abstractmethod
    def fit(self, data: Outcomes) -> Fitted:
        """Choose members and learn parameters on ``data``."""


# -- single models ---------------------------------------------------------------------------


@dataclass
class Single(Fitted):
    model: str = ""

    def run(self, data: Outcomes) -> tuple[np.ndarray, np.ndarray]:
        j = data.column(self.model)
        return data.right[:, j].copy(), data.cost[:, j].copy()

    def graph(self, answer: AnswerSpec) -> Graph:
        return (
            {"answer": {"kind": "agent", "model": self.model}},
            [["START", "answer"], ["answer", "END"]],
            [self.model],
        )

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model": self.model}


class BestSingle(Policy):
    """The most accurate model on the data fitted on, re-chosen on every fit. Not the reference
    of the selection rule: that is one model, chosen on the whole train half
    (:class:`FixedSingle` of it; see :mod:`fusionsdk.tuning.search`)."""

    family = "single"
    label = "best single model"

    def fit(self, data: Outcomes) -> Fitted:
        model = data.best_single()
        return Single(self.family, model, model)


@dataclass
class FixedSingle(Policy):
    """One given model."""

    model: str
    family = "single"

    @property
    def label(self) -> str:
        return self.model

    def fit(self, data: Outcomes) -> Fitted:
        return Single(self.family, self.model, self.model)


# -- votes -----------------------------------------------------------------------------------


@dataclass
class Vote(Fitted):
    panel: list[str] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    rule: VoteRule | None = None

    def run(self, data: Outcomes) -> tuple[np.ndarray, np.ndarray]:
        columns = [data.column(m) for m in self.panel]
        right = np.zeros(len(data), dtype=bool)
        for i in range(len(data)):
            answers = data.answers(i, self.panel)
            if not answers:
                continue
            if self.rule is not None:
                best, _ = self.rule.winner(answers)
            else:
                best, _ = tally([(k, self.weights.get(m, 1.0)) for m, k in answers])
            winner = next(m for m, k in answers if k == best)
            right[i] = data.right[i, data.column(winner)]
        return right, data.cost[:, columns].sum(axis=1)

    def graph(self, answer: AnswerSpec) -> Graph:
        if self.rule is not None:
            fuse = {
                "kind": "fuse",
                "strategy": "learned_vote",
                "options": {**answer.fields(), **self.rule.as_dict()},
            }
        else:
            weights = {m: round(self.weights.get(m, 1.0), 6) for m in self.panel}
            options = {**answer.fields(), "weights": weights, "integer_bonus": 0.0, "default_weight": 1.0}
            fuse = {"kind": "fuse", "strategy": "weighted_vote", "options": options}
        nodes = {"panel": {"kind": "panel", "models": list(self.panel), "quorum": 1}, "vote": fuse}
        return nodes, [["START", "panel"], ["panel", "vote"], ["vote", "END"]], list(self.panel)

    def describe(self) -> dict[str, Any]:
        rule = self.rule.as_dict() if self.rule is not None else {"weights": self.weights}
        return {**super().describe(), "panel": self.panel, **rule}

    def round_weights(self) -> Vote:
        """The same vote with weights rounded as the graph writes them (so both agree)."""
        self.weights = {m: round(w, 6) for m, w in self.weights.items()}
        if self.rule is not None:
            data = self.rule.as_dict()
            self.rule = VoteRule(data["coefficients"], data["agreement"], data["intercept"])
        return self


@dataclass
class VotePolicy(Policy):
    """A vote of the ``size`` most accurate models (all when ``None``).

    ``weighting``: ``majority`` (every vote 1), ``log_odds`` (each model's smoothed log-odds of
    its accuracy, as ``fusion fit``), ``greedy`` (log-odds, members added one at a time while
    the train vote improves, at most ``size``) or ``learned`` (a ``learned_vote`` rule: logistic
    regression over who gave each answer and how many agree, strength ``c``).
    """

    size: int | None
    weighting: str = "log_odds"
    c: float = 1.0
    family = "fusion"

    @property
    def label(self) -> str:
        members = "all models" if self.size is None else f"top {self.size}"
        extra = f", C={self.c:g}" if self.weighting == "learned" else ""
        return f"{self.weighting} vote of {members}{extra}"

    def fit(self, data: Outcomes) -> Fitted:
        from fusionsdk.fusion.weights_file import log_odds
        from fusionsdk.tuning.learned_vote_fit import fit_rule, greedy_panel

        order = ranked(data)
        panel = order if self.size is None else order[: self.size]
        right = data.right.sum(axis=0)
        weights = {m: log_odds(right[data.column(m)], len(data) - right[data.column(m)]) for m in order}
        if self.weighting == "majority":
            return Vote(self.family, self.label, panel, dict.fromkeys(panel, 1.0)).round_weights()
        if self.weighting == "learned":
            return Vote(self.family, self.label, panel, rule=fit_rule(data, panel, self.c)).round_weights()
        if self.weighting == "greedy":
            panel = greedy_panel(data, order, weights, self.size or len(order))
        return Vote(self.family, self.label, panel, {m: weights[m] for m in panel}).round_weights()


# -- cascades --------------------------------------------------------------------------------


@dataclass
class Chain(Fitted):
    models: list[str] = field(default_factory=list)
    threshold: float = 1.0
    least: int = 2

    def run(self, data: Outcomes) -> tuple[np.ndarray, np.ndarray]:
        right = np.zeros(len(data), dtype=bool)
        cost = np.zeros(len(data))
        columns = [data.column(m) for m in self.models]
        for i in range(len(data)):
            right[i], cost[i] = self._one(data, i, columns)
        return right, cost

    def _one(self, data: Outcomes, i: int, columns: list[int]) -> tuple[bool, float]:
        """As the ``cascade`` node: agreement over the answers so far, the last model's answer
        when none is accepted, the leading answer when the last model gave none."""
        keys: list[str] = []
        givers: list[int] = []
        spent = 0.0
        for step, j in enumerate(columns):
            spent += data.cost[i, j]
            key = data.keys[i][j]
            if key is None:
                continue  # a failed call: escalate
            keys.append(key)
            givers.append(j)
            verdict = agreement_verdict(keys, self.threshold, self.least)
            if verdict.accept:
                chosen = j if key == verdict.answer else givers[keys.index(verdict.answer)]
                return bool(data.right[i, chosen]), spent
            if step == len(columns) - 1:
                return bool(data.right[i, j]), spent
        best, _ = leading_answer(keys)
        if not best:
            return False, spent
        return bool(data.right[i, givers[keys.index(best)]]), spent

    def graph(self, answer: AnswerSpec) -> Graph:
        accept = {
            "method": "agreement",
            "threshold": self.threshold,
            "min_answers": self.least,
            **answer.fields(),
        }
        node = {"kind": "cascade", "models": list(self.models), "accept": accept}
        return {"answer": node}, [["START", "answer"], ["answer", "END"]], list(self.models)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "models": self.models,
            "threshold": self.threshold,
            "min_answers": self.least,
        }


@dataclass
class CascadePolicy(Policy):
    """Cheap models first, accepted on agreement, else the strong ones.

    Fitting picks the ``size`` most accurate models costing at most ``cheap_share`` of the best
    single model (asked cheapest first), then the ``finals`` most accurate of the rest (cheapest
    first); an answer is accepted once ``least`` answers are in and ``threshold`` of them agree.
    """

    size: int
    finals: int
    threshold: float
    least: int
    cheap_share: float = 0.1
    family = "cascade"

    @property
    def label(self) -> str:
        return (
            f"cascade of {self.size} cheap (<= {self.cheap_share:.0%}) + {self.finals} strong, "
            f"agreement >= {self.threshold:g} of {self.least}+"
        )

    def fit(self, data: Outcomes) -> Fitted:
        single = data.best_single()
        limit = self.cheap_share * data.total_cost(single)
        cheap = ranked(data, [m for m in data.models if data.total_cost(m) <= limit and m != single])
        first = sorted(cheap[: self.size], key=data.total_cost)
        strong = [m for m in ranked(data) if m not in first][: self.finals]
        chain = first + sorted(strong, key=data.total_cost)
        return Chain(self.family, self.label, chain, self.threshold, self.least)
