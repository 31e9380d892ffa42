"""Ratings of models from pairwise judgments: Elo and Bradley-Terry.

A judgment is ``(model_a, model_b, winner)`` with ``winner`` one of ``"a"``, ``"b"`` or ``"tie"``.
Judgments come from a judge model, from people, or from per-question correctness
(:func:`judgments_from_scores`: on a question where ``a`` was right and ``b`` wrong, ``a`` wins).
Both ratings are on the Elo scale: 400 points of difference mean 10 to 1 odds of winning.

Example:
    >>> judgments = [("gpt", "llama", "a"), ("gpt", "llama", "tie"), ("llama", "gpt", "b")]
    >>> ratings = bradley_terry_ratings(judgments)
    >>> ratings["gpt"] > ratings["llama"]
    True
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Literal

import numpy as np

from fusionsdk.errors import FusionError

__all__ = [
    "Judgment",
    "Winner",
    "bradley_terry_ratings",
    "elo_ratings",
    "judgments_from_scores",
]

Winner = Literal["a", "b", "tie"]
#: ``(model_a, model_b, winner)``.
Judgment = tuple[str, str, Winner]

_POINTS = {"a": 1.0, "b": 0.0, "tie": 0.5}  # what model_a scores


def elo_ratings(
    judgments: Iterable[Sequence[str]],
    *,
    k: float = 32.0,
    initial: float = 1000.0,
    scale: float = 400.0,
    shuffles: int = 0,
    seed: int = 0,
) -> dict[str, float]:
    """Elo ratings after playing the judgments as a sequence of games.

    Elo depends on the order of the games. With ``shuffles=0`` they are played in the order
    given (right for games that really happened in that order); with ``shuffles=n`` the result
    is the mean over ``n`` orders shuffled with ``seed``, which makes it (nearly) independent of
    the order and still deterministic.

    Args:
        judgments: ``(model_a, model_b, winner)`` triples, winner ``"a"``, ``"b"`` or ``"tie"``.
        k: How far one game moves a rating.
        initial: Every model's rating before its first game.
        scale: Rating difference that means 10 to 1 odds.
        shuffles: Number of shuffled passes to average (0: the given order, once).
        seed: Seed of the shuffles.

    Returns:
        Model -> rating, in order of first appearance; empty for no judgments.

    Raises:
        FusionError: A malformed judgment or a non-positive ``k`` or ``scale``, or negative ``shuffles``.
    """
    if k <= 0 or scale <= 0 or shuffles < 0:
        raise FusionError(
            f"elo_ratings needs k > 0, scale > 0 and shuffles >= 0 (got {k}, {scale}, {shuffles})"
        )
    games, models = _games(judgments)
    if shuffles == 0:
        return _play(games, models, k, initial, scale)
    rng = random.Random(seed)
    totals = dict.fromkeys(models, 0.0)
    for _ in range(shuffles):
        order = list(games)
        rng.shuffle(order)
        for model, rating in _play(order, models, k, initial, scale).items():
            totals[model] += rating
    return {model: total / shuffles for model, total in totals.items()}


def bradley_terry_ratings(
    judgments: Iterable[Sequence[str]],
    *,
    prior: float = 1.0,
    initial: float = 1000.0,
    scale: float = 400.0,
    tol: float = 1e-9,
    max_iter: int = 100_000,
) -> dict[str, float]:
    """Bradley-Terry ratings, fitted by maximum likelihood with Hunter's MM algorithm.

    A tie counts as half a win for each side. The model ``P(i beats j) = p_i / (p_i + p_j)`` has
    no finite fit when a model never wins or never loses; ``prior`` avoids that by giving each
    model that many virtual tied games against a virtual opponent of strength 1 (rating
    ``initial``). With many judgments its pull is negligible; with ``prior=0`` the strengths are
    normalised to a geometric mean of 1 instead. Unlike Elo, the result ignores the order of
    the judgments.

    Args:
        judgments: ``(model_a, model_b, winner)`` triples, winner ``"a"``, ``"b"`` or ``"tie"``.
        prior: Virtual tied games per model against the anchor (0: none).
        initial: The rating of strength 1.
        scale: Rating difference that means 10 to 1 odds (the rating is
            ``initial + scale * log10(p)``).
        tol: Stop when no log-strength moves by more than this in an iteration.
        max_iter: Give up iterating after this many rounds (the last estimate is returned).

    Returns:
        Model -> rating, in order of first appearance; empty for no judgments.

    Raises:
        FusionError: A malformed judgment, a negative ``prior``, or with ``prior=0`` judgments
            that admit no finite fit: a model (or a group of models) that never wins or never
            loses against the others.
    """
    if prior < 0 or scale <= 0 or tol <= 0 or max_iter < 1:
        raise FusionError(
            f"bradley_terry_ratings needs prior >= 0, scale > 0, tol > 0, max_iter >= 1 "
            f"(got {prior}, {scale}, {tol}, {max_iter})"
        )
    games, models = _games(judgments)
    if not models:
        return {}
    index = {model: i for i, model in enumerate(models)}
    wins = np.zeros((len(models), len(models)))
    for a, b, points in games:
        wins[index[a], index[b]] += points
        wins[index[b], index[a]] += 1.0 - points
    played = wins + wins.T
    won = wins.sum(axis=1) + prior / 2
    if prior == 0:
        for i, model in enumerate(models):
            if won[i] == 0 or won[i] == played[i].sum():
                never = "wins" if won[i] == 0 else "loses"
                raise FusionError(
                    f"'{model}' never {never}, so its Bradley-Terry rating is infinite: use prior > 0"
                )
        if not _strongly_connected(wins > 0):
            raise FusionError(
                "some group of models never loses to the others, so Bradley-Terry ratings are "
                "infinite or undetermined: use prior > 0"
            )
    strength = _fit_strengths(played, won, prior, tol, max_iter)
    ratings = initial + scale * np.log10(strength)
    return {model: float(ratings[i]) for i, model in enumerate(models)}


def judgments_from_scores(
    per_question: Iterable[Mapping[str, float]],
    *,
    threshold: float | None = 0.5,
    ties: bool = True,
) -> list[Judgment]:
    """Pairwise judgments from each question's per-model scores.

    On each question, every pair of models that both have a score plays one game: with a
    ``threshold``, a model is right when its score reaches it, and a right model beats a wrong
    one; without, the higher score wins. Equal outcomes are ties. Models absent from a question
    play no game on it. Pairs are listed with names in sorted order, so the output is
    deterministic.

    Args:
        per_question: For each question, model -> score in [0, 1] (e.g. the ``model_scores`` of
            the rows of an :class:`~fusionsdk.eval.harness.EvalReport`).
        threshold: Score from which an answer counts as right; None compares raw scores.
        ties: Keep tied games (both right or both wrong); False keeps only decisive ones.

    Returns:
        The judgments, question by question.

    Example:
        >>> judgments_from_scores([{"gpt": 1.0, "llama": 0.0, "qwen": 1.0}])
        [('gpt', 'llama', 'a'), ('gpt', 'qwen', 'tie'), ('llama', 'qwen', 'b')]
    """
    judgments: list[Judgment] = []
    for scores in per_question:
        outcome = {m: (s >= threshold if threshold is not None else s) for m, s in scores.items()}
        for a, b in combinations(sorted(outcome), 2):
            if outcome[a] > outcome[b]:
                judgments.append((a, b, "a"))
            elif outcome[a] < outcome[b]:
                judgments.append((a, b, "b"))
            elif ties:
                judgments.append((a, b, "tie"))
    return judgments


def _games(judgments: Iterable[Sequence[str]]) -> tuple[list[tuple[str, str, float]], list[str]]:
    """Check the judgments; return them as (a, b, points of a) and the models by first appearance."""
    games: list[tuple[str, str, float]] = []
    models: dict[str, None] = {}
    for position, judgment in enumerate(judgments):
        if isinstance(judgment, str) or len(judgment) != 3:
            raise FusionError(f"judgment {position} should be (model_a, model_b, winner), got {judgment!r}")
        a, b, winner = judgment
        if not isinstance(a, str) or not isinstance(b, str) or a == b:
            raise FusionError(f"judgment {position} should name two different models, got {a!r} and {b!r}")
        if winner not in _POINTS:
            raise FusionError(f"judgment {position}: winner must be 'a', 'b' or 'tie', got {winner!r}")
        games.append((a, b, _POINTS[winner]))
        models.setdefault(a)
        models.setdefault(b)
    return games, list(models)


def _play(
    games: Iterable[tuple[str, str, float]], models: list[str], k: float, initial: float, scale: float
) -> dict[str, float]:
    ratings = dict.fromkeys(models, initial)
    for a, b, points in games:
        expected = 1.0 / (1.0 + 10.0 ** ((ratings[b] - ratings[a]) / scale))
        ratings[a] += k * (points - expected)
        ratings[b] -= k * (points - expected)
    return ratings


def _strongly_connected(beat: np.ndarray) -> bool:
    """Whether every model can reach every other along "won (at least half a game) against" edges."""
    for edges in (beat, beat.T):
        reached, frontier = {0}, [0]
        while frontier:
            step = {int(j) for i in frontier for j in np.flatnonzero(edges[i])} - reached
            reached |= step
            frontier = list(step)
        if len(reached) < len(beat):
            return False
    return True


def _fit_strengths(
    played: np.ndarray, won: np.ndarray, prior: float, tol: float, max_iter: int
) -> np.ndarray:
    """Hunter's MM iteration ``p_i <- W_i / sum_j n_ij / (p_i + p_j)``, plus the anchor's games."""
    strength = np.ones(len(won))
    for _ in range(max_iter):
        pair_sums = strength[:, None] + strength[None, :]
        updated = won / ((played / pair_sums).sum(axis=1) + prior / (strength + 1.0))
        if prior == 0:
            updated /= math.exp(float(np.log(updated).mean()))
        moved = float(np.abs(np.log(updated) - np.log(strength)).max())
        strength = updated
        if moved < tol:
            break
    return strength
