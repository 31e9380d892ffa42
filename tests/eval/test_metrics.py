"""Intervals, percentiles, frontiers, AIQ and APGR on hand-checked numbers."""

from __future__ import annotations

import pytest

from fusionsdk.eval.metrics import aiq, apgr, pareto_frontier, percentile, wilson_interval


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(95, 100)
    assert low == pytest.approx(0.8882, abs=1e-3) and high == pytest.approx(0.9785, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 0.0)
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low < 1.0


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    assert percentile([], 50) == 0.0


def test_pareto_frontier_drops_dominated_points() -> None:
    points = [(1.0, 0.5), (2.0, 0.4), (2.0, 0.7), (3.0, 0.7), (4.0, 0.9)]
    assert pareto_frontier(points) == [(1.0, 0.5), (2.0, 0.7), (4.0, 0.9)]


def test_aiq_of_a_straight_line_is_its_mean() -> None:
    assert aiq([(0.0, 0.5), (1.0, 0.9)]) == pytest.approx(0.7)


def test_aiq_uses_the_convex_hull() -> None:
    # (1, 0.6) lies under the chord from (0, 0.5) to (2, 0.9) and does not count
    assert aiq([(0.0, 0.5), (1.0, 0.6), (2.0, 0.9)]) == pytest.approx(0.7)
    # (1, 0.85) lies above it and raises the area
    assert aiq([(0.0, 0.5), (1.0, 0.85), (2.0, 0.9)]) > 0.7


def test_apgr_bounds() -> None:
    weak, strong = (1.0, 0.6), (10.0, 0.9)
    assert apgr([], weak, strong) == pytest.approx(0.0, abs=0.01)
    assert apgr([(1.0, 0.9)], weak, strong) == pytest.approx(1.0)
    line = [(1 + 9 * i / 20, 0.6 + 0.3 * i / 20) for i in range(21)]
    assert apgr(line, weak, strong) == pytest.approx(0.5, abs=0.03)
    with pytest.raises(ValueError, match="strong model"):
        apgr([], strong, weak)
