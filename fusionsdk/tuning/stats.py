"""Paired comparisons of two policies on the same questions.

:func:`mcnemar` tests whether two policies' accuracies differ, from the questions exactly one
of them got right (the discordant pairs): an exact two-sided binomial test when there are fewer
than 25 of them, else the chi-square test with continuity correction.

Example:
    >>> import numpy as np
    >>> round(mcnemar(np.array([1, 1, 1, 0], bool), np.array([0, 0, 1, 0], bool))["p_value"], 3)
    0.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusionsdk.eval.metrics import wilson_interval

__all__ = ["accuracy_figures", "mcnemar", "paired_margin"]

EXACT_BELOW = 25


def mcnemar(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """McNemar's test of ``a`` against ``b`` (per-question right/wrong, same questions).

    Returns:
        ``{"a_only": n, "b_only": n, "p_value": p, "test": "exact binomial" | "chi-square"}``.
    """
    from scipy import stats

    a_only = int(np.sum(a & ~b))
    b_only = int(np.sum(~a & b))
    discordant = a_only + b_only
    if discordant == 0:
        return {"a_only": 0, "b_only": 0, "p_value": 1.0, "test": "exact binomial"}
    if discordant < EXACT_BELOW:
        p = float(stats.binomtest(a_only, discordant, 0.5).pvalue)
        test = "exact binomial"
    else:
        chi2 = (abs(a_only - b_only) - 1) ** 2 / discordant
        p = float(stats.chi2.sf(chi2, 1))
        test = "chi-square"
    return {"a_only": a_only, "b_only": b_only, "p_value": min(1.0, p), "test": test}


def paired_margin(a: np.ndarray, b: np.ndarray, floor: float = 0.005, z: float = 2.0) -> tuple[float, float]:
    """(mean of ``a - b``, the margin it must clear): ``z`` standard errors of the paired
    per-question difference, at least ``floor``."""
    diff = a.astype(float) - b.astype(float)
    if len(diff) < 2:
        return float(diff.mean()) if len(diff) else 0.0, floor
    se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
    return float(diff.mean()), max(floor, z * se)


def accuracy_figures(right: np.ndarray, cost: np.ndarray) -> dict[str, Any]:
    """Accuracy with its Wilson 95% interval, and total cost."""
    n = len(right)
    low, high = wilson_interval(float(right.sum()), n) if n else (0.0, 0.0)
    return {
        "n": n,
        "accuracy": float(right.mean()) if n else 0.0,
        "ci95": [low, high],
        "cost_usd": float(cost.sum()),
    }
