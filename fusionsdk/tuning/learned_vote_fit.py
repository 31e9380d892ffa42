"""Fit a ``learned_vote`` rule (stacking over the vote table) and greedy vote panels.

:func:`fit_rule` turns every question into one example per distinct answer among the panel's:
features "model m gave this answer" (one per panel model) and "k models gave it" (one-hot), label
"this answer is right". A logistic regression (scikit-learn, L2 strength ``1/c``) on them gives
the rule :class:`~fusionsdk.fusion.learned_vote.LearnedVote` applies: the answer with the highest
linear score wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fusionsdk.fusion.learned_vote import VoteRule
from fusionsdk.fusion.weighted_vote import tally
from fusionsdk.tuning.outcomes import Outcomes

__all__ = ["fit_rule", "greedy_panel", "vote_accuracy"]


def _examples(data: Outcomes, panel: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    size = len(panel)
    index = {m: j for j, m in enumerate(panel)}
    features: list[np.ndarray] = []
    labels: list[bool] = []
    for i in range(len(data)):
        givers: dict[str, list[str]] = {}
        for model, key in data.answers(i, panel):
            givers.setdefault(key, []).append(model)
        for models in givers.values():
            x = np.zeros(2 * size)
            for model in models:
                x[index[model]] = 1.0
            x[size + len(models) - 1] = 1.0
            features.append(x)
            labels.append(bool(data.right[i, data.column(models[0])]))
    return np.array(features).reshape(-1, 2 * size), np.array(labels, dtype=bool)


def fit_rule(data: Outcomes, panel: Sequence[str], c: float = 1.0) -> VoteRule:
    """The ``learned_vote`` rule for ``panel`` fitted on ``data`` (see the module docstring).

    When every example has the same label (all answers right, or all wrong), nothing separates
    them: the rule falls back to one vote per model.
    """
    from sklearn.linear_model import LogisticRegression

    x, y = _examples(data, panel)
    size = len(panel)
    if len(set(y.tolist())) < 2:
        return VoteRule(dict.fromkeys(panel, 1.0), [0.0] * size, 0.0)
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(x, y)
    weights = model.coef_[0]
    coefficients = {m: float(weights[j]) for j, m in enumerate(panel)}
    return VoteRule(coefficients, [float(w) for w in weights[size:]], float(model.intercept_[0]))


def vote_accuracy(data: Outcomes, panel: Sequence[str], weights: Mapping[str, float]) -> int:
    """Questions a weighted vote of ``panel`` gets right (as ``weighted_vote``, no bonus)."""
    right = 0
    for i in range(len(data)):
        answers = data.answers(i, panel)
        if not answers:
            continue
        best, _ = tally([(k, weights.get(m, 1.0)) for m, k in answers])
        right += bool(data.right[i, data.column(next(m for m, k in answers if k == best))])
    return right


def greedy_panel(
    data: Outcomes, order: Sequence[str], weights: Mapping[str, float], max_size: int
) -> list[str]:
    """Forward selection: start from the most accurate model, add the model that helps the
    weighted vote most while it helps, at most ``max_size`` members."""
    panel = [order[0]]
    best = vote_accuracy(data, panel, weights)
    while len(panel) < max_size:
        steps = [(vote_accuracy(data, [*panel, m], weights), m) for m in order if m not in panel]
        if not steps:
            break
        score, model = max(steps, key=lambda s: (s[0], -order.index(s[1])))
        if score <= best:
            break
        panel, best = [*panel, model], score
    return panel
