"""Chaos in CI (small): a primary failing 30% of the time, a fallback that hangs, a healthy one.

Every request comes back, nearly all answered, and a failure fails over to the healthy fallback
instead of retrying the deployment that just failed, so attempts stay near their floor of
1 + the failure rate. The full run with latency figures is ``python benchmarks/reliability.py``.
"""

from __future__ import annotations

from tests.reliability.chaos_run import chaos_run


async def test_chaos_loses_nothing_and_fails_over_instead_of_retrying() -> None:
    figures = await chaos_run(200, 20, faults=True)
    assert figures["lost"] == 0
    assert figures["success_rate"] >= 0.995
    assert figures["attempts_per_request"] <= 1.35, figures["attempts"]
    failures_of_a = figures["attempts"]["c"]  # each of a's failures is answered by c, once
    assert figures["attempts"]["a"] == 200 and failures_of_a <= 0.35 * 200
    assert figures["attempts"]["b"] <= 3  # the hanging fallback: tried once, then avoided
    assert figures["b_after_open"] == 0
