"""Cross-validate policies on the train questions and choose one, honestly.

:func:`cross_validate` fits a :class:`~fusionsdk.tuning.policies.Policy` on k-1 folds of the
train questions and runs it on the held-out fold, for every fold: each train question gets an
out-of-fold right/wrong and cost. :func:`choose` applies the selection rule:

- the reference is ONE model: the best single model chosen on the whole train split (the most
  accurate, the cheaper on a tie), evaluated in every fold like any other policy (not the most
  accurate model re-chosen in each fold, whose out-of-fold accuracy is lower than any fixed
  model's when models are close, which would let noise beat it);
- without a budget, a policy replaces it only if its cross-validated paired gain over it exceeds
  the margin: :data:`MARGIN_SE` (2) standard errors of the paired per-question difference, and
  at least :data:`MIN_MARGIN` (0.5 point); among those, the most accurate (then the cheaper)
  wins; when none does, the best single model is kept and the choice says so. With few train
  questions the margin is wide, and the best single model is usually kept;
- with a budget (a share of the reference's cost), only policies within it are considered; the
  reference stays if it is within it and nothing affordable beats it by the margin, else the
  most accurate affordable policy that beats it (or, when the reference itself is over the
  budget, the most accurate affordable policy; the cheaper on a tie) wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fusionsdk.errors import ConfigError
from fusionsdk.tuning.outcomes import Outcomes
from fusionsdk.tuning.policies import Policy
from fusionsdk.tuning.stats import paired_margin

__all__ = [
    "MARGIN_SE",
    "MIN_MARGIN",
    "Choice",
    "Scored",
    "choose",
    "cross_validate",
    "folds_of",
    "selection_rule",
]

#: The least CV gain (as a share) a policy needs over the best single model.
MIN_MARGIN = 0.005
#: How many standard errors of the paired per-question difference the CV gain must exceed.
MARGIN_SE = 2.0


@dataclass
class Scored:
    """A policy's out-of-fold results on the train questions."""

    policy: Policy
    right: np.ndarray
    cost: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(self.right.mean())

    @property
    def cost_usd(self) -> float:
        return float(self.cost.sum())


@dataclass
class Choice:
    """What :func:`choose` decided, and why.

    Attributes:
        chosen: The winner.
        reference: The best single model's procedure.
        rule: The rule applied, in words.
        beaten: Whether something other than the reference won.
        scored: Every policy cross-validated.
        selection: The selection rule applied (reference, margin, folds, budget), JSON-ready;
            ``selection["text"]`` says it in words.
    """

    chosen: Scored
    reference: Scored
    rule: str
    beaten: bool
    scored: list[Scored]
    selection: dict[str, Any] = field(default_factory=dict)

    def margin(self, other: Scored) -> dict[str, float]:
        """``other``'s CV gain over the reference and the margin it had to clear."""
        gain, margin = paired_margin(other.right, self.reference.right, MIN_MARGIN, MARGIN_SE)
        return {"gain": gain, "margin": margin}


def folds_of(n: int, k: int, seed: int) -> list[np.ndarray]:
    """``k`` shuffled folds of ``range(n)`` (fewer when ``n`` is small)."""
    k = max(2, min(k, n))
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, k)]


def cross_validate(policy: Policy, train: Outcomes, folds: Sequence[np.ndarray]) -> Scored:
    """Out-of-fold right/wrong and cost of ``policy`` on every train question."""
    right = np.zeros(len(train), dtype=bool)
    cost = np.zeros(len(train))
    everything = np.arange(len(train))
    for fold in folds:
        rest = np.setdiff1d(everything, fold)
        fitted = policy.fit(train.rows(rest.tolist()))
        right[fold], cost[fold] = fitted.run(train.rows(fold.tolist()))
    return Scored(policy, right, cost)


def _rank(s: Scored) -> tuple[float, float]:
    return s.accuracy, -s.cost_usd


def selection_rule(reference: str, folds: int | None, budget_share: float | None) -> dict[str, Any]:
    """The selection rule, JSON-ready, with ``text``: the rule in one sentence."""
    budget = (
        "no budget"
        if budget_share is None
        else f"budget: at most {budget_share:g}x the best single model's cost"
    )
    cv = f"{folds}-fold cross-validation on the train half" if folds else "cross-validation on the train half"
    text = (
        f"reference: {reference}, the best single model chosen on the whole train half and "
        f"evaluated in every fold; a combination replaces it only if its paired gain on {cv} "
        f"exceeds {MARGIN_SE:g} standard errors of the per-question difference and "
        f"{MIN_MARGIN * 100:g} point; {budget}"
    )
    return {
        "reference": reference,
        "reference_chosen": "most accurate single model on the whole train half (cheaper on a tie)",
        "margin_se": MARGIN_SE,
        "min_margin": MIN_MARGIN,
        "folds": folds,
        "budget_share": budget_share,
        "text": text,
    }


def choose(
    scored: list[Scored],
    reference: Scored,
    budget_share: float | None = None,
    *,
    folds: int | None = None,
) -> Choice:
    """Apply the selection rule (see the module docstring) against ``reference``, the best
    single model chosen on the whole train half; ``folds`` is recorded in the rule.

    Raises:
        ConfigError: No policy costs at most ``budget_share`` of the best single model.
    """
    selection = selection_rule(reference.policy.label, folds, budget_share)

    def wins(s: Scored) -> bool:
        gain, margin = paired_margin(s.right, reference.right, MIN_MARGIN, MARGIN_SE)
        return s is not reference and gain > margin

    margin_words = (
        f"by more than the margin ({MARGIN_SE:g} standard errors of the paired difference, at least "
        f"{MIN_MARGIN * 100:g} point)"
    )
    if budget_share is None:
        better = [s for s in scored if wins(s)]
        if not better:
            rule = f"nothing beat the best single model on cross-validation {margin_words}: kept it"
            return Choice(reference, reference, rule, False, scored, selection)
        best = max(better, key=_rank)
        rule = f"the most accurate on cross-validation of those beating the best single model {margin_words}"
        return Choice(best, reference, rule, True, scored, selection)
    limit = budget_share * reference.cost_usd * (1 + 1e-9)
    affordable = [s for s in scored if s.cost_usd <= limit]
    if not affordable:
        raise ConfigError(
            f"no policy costs at most {budget_share:g} times the best single model", path="budget_share"
        )
    within = f"within {budget_share:g}x the best single model's cost"
    if any(s is reference for s in affordable):
        better = [s for s in affordable if wins(s)]
        if not better:
            rule = f"nothing {within} beat the best single model on cross-validation {margin_words}: kept it"
            return Choice(reference, reference, rule, False, affordable, selection)
        best = max(better, key=_rank)
        rule = (
            f"the most accurate on cross-validation {within} of those beating the best single "
            f"model {margin_words}"
        )
        return Choice(best, reference, rule, True, affordable, selection)
    best = max(affordable, key=_rank)
    rule = (
        f"the best single model is over the budget: the most accurate on cross-validation {within} "
        "(the cheaper on a tie)"
    )
    return Choice(best, reference, rule, best is not reference, affordable, selection)


def summary(s: Scored, reference: Scored) -> dict[str, Any]:
    """A policy's CV figures, JSON-ready."""
    gain, margin = paired_margin(s.right, reference.right, MIN_MARGIN, MARGIN_SE)
    ratio = s.cost_usd / reference.cost_usd if reference.cost_usd else None
    return {
        "family": s.policy.family,
        "policy": s.policy.label,
        "cv_accuracy": s.accuracy,
        "cv_cost_usd": s.cost_usd,
        "cv_cost_ratio": ratio,
        "cv_gain": gain,
        "cv_margin": margin,
    }
