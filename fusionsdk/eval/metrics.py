"""Statistics for evaluations: intervals, percentiles, cost-quality frontiers, APGR and AIQ."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

__all__ = ["CostPoint", "aiq", "apgr", "pareto_frontier", "percentile", "wilson_interval"]

#: (cost in USD, accuracy in [0, 1]) of one configuration.
CostPoint = tuple[float, float]


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% with the default ``z``).

    Better than the normal approximation near 0 and 1, where accuracies on GSM8K live.
    Fractional successes (partial scores) are accepted.
    """
    if n <= 0:
        return (0.0, 0.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def pareto_frontier(points: Sequence[CostPoint]) -> list[CostPoint]:
    """The points no other point beats on both cost (lower) and accuracy (higher), by cost."""
    frontier: list[CostPoint] = []
    for cost, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if not frontier or accuracy > frontier[-1][1]:
            frontier.append((cost, accuracy))
    return frontier


def _upper_hull(points: Sequence[CostPoint]) -> list[CostPoint]:
    """The upper-left convex hull of the frontier: the best accuracy reachable at each cost
    by mixing two configurations at random (what RouterBench's AIQ integrates)."""
    hull: list[CostPoint] = []
    for point in pareto_frontier(points):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1) >= 0:
                hull.pop()  # hull[-1] lies under the chord: a mix does better
            else:
                break
        hull.append(point)
    return hull


def _area(curve: Sequence[CostPoint], low: float, high: float) -> float:
    """Area under a piecewise-linear non-decreasing curve on [low, high]; flat beyond its ends."""
    if high <= low or not curve:
        return 0.0
    xs = [low, *(x for x, _ in curve if low < x < high), high]

    def at(x: float) -> float:
        if x <= curve[0][0]:
            return curve[0][1] if x >= curve[0][0] else 0.0
        for (x1, y1), (x2, y2) in itertools.pairwise(curve):
            if x1 <= x <= x2:
                return y1 + (y2 - y1) * (x - x1) / (x2 - x1) if x2 > x1 else y2
        return curve[-1][1]

    return sum((b - a) * (at(a) + at(b)) / 2 for a, b in itertools.pairwise(xs))


def aiq(points: Sequence[CostPoint]) -> float:
    """RouterBench's AIQ: area under the convex hull of the cost-accuracy points, divided by
    the cost range, so it reads as an average accuracy (0..1) across budgets."""
    if len(points) < 2:
        return points[0][1] if points else 0.0
    costs = [c for c, _ in points]
    low, high = min(costs), max(costs)
    if high == low:
        return max(a for _, a in points)
    return _area(_upper_hull(points), low, high) / (high - low)


def apgr(points: Sequence[CostPoint], weak: CostPoint, strong: CostPoint) -> float:
    """RouteLLM's APGR generalised to costs: the average, over budgets from the weak model's
    cost to the strong model's, of the performance gap recovered
    ``(accuracy - weak) / (strong - weak)`` by the best configuration within that budget.

    1.0 means strong-model accuracy at weak-model cost; a router whose points lie on the
    straight line between the two (random routing) scores about 0.5. Configurations that beat
    the strong model recover more than the gap, so APGR can exceed 1.

    Raises:
        ValueError: The strong model is not more accurate and more costly than the weak one.
    """
    (weak_cost, weak_acc), (strong_cost, strong_acc) = weak, strong
    if strong_acc <= weak_acc or strong_cost <= weak_cost:
        raise ValueError("APGR needs a strong model more accurate and more costly than the weak one")
    frontier = pareto_frontier([*points, weak])
    steps = 200
    total = 0.0
    for i in range(steps + 1):
        budget = weak_cost + (strong_cost - weak_cost) * i / steps
        best = max((a for c, a in frontier if c <= budget + 1e-15), default=weak_acc)
        gap = (best - weak_acc) / (strong_acc - weak_acc)
        total += gap * (0.5 if i in (0, steps) else 1.0)
    return total / steps
