"""Maximal marginal relevance (Carbonell and Goldstein, 1998): relevant *and* diverse results.

Each step picks the candidate maximising ``(1 - diversity) * sim(query, c) - diversity *
max(sim(c, s) for s already picked)``, with cosine similarity. ``diversity=0`` is plain nearest
neighbours; higher values trade relevance for variety (near-duplicate chunks stop crowding out
the rest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["cosine", "mmr_select"]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0.0 when either is zero)."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def mmr_select(
    query: Sequence[float], candidates: Sequence[Sequence[float]], k: int, diversity: float = 0.3
) -> list[int]:
    """Indices of up to ``k`` candidates in MMR order.

    Args:
        query: The query vector.
        candidates: Candidate vectors (usually the nearest ``fetch_k`` to the query).
        k: How many to pick.
        diversity: Weight of novelty against relevance, from 0 to 1.

    Raises:
        ValueError: ``diversity`` outside [0, 1] or ``k`` below 0.
    """
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be between 0 and 1, got {diversity}")
    if k < 0:
        raise ValueError(f"k must be at least 0, got {k}")
    relevance = [cosine(query, c) for c in candidates]
    picked: list[int] = []
    closest = [-math.inf] * len(candidates)  # max similarity of each candidate to the picked
    remaining = list(range(len(candidates)))
    while remaining and len(picked) < k:
        best = max(
            remaining,
            key=lambda i: (1 - diversity) * relevance[i] - diversity * (closest[i] if picked else 0.0),
        )
        picked.append(best)
        remaining.remove(best)
        for i in remaining:
            closest[i] = max(closest[i], cosine(candidates[i], candidates[best]))
    return picked
