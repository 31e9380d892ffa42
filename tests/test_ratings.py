"""Elo and Bradley-Terry ratings from pairwise judgments, and judgments from per-question scores."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from fusionsdk.errors import FusionError
from fusionsdk.eval.scorers import NumericScorer
from fusionsdk.ratings import (
    Judgment,
    bradley_terry_ratings,
    elo_ratings,
    judgments_from_scores,
)

ROOT = Path(__file__).resolve().parents[1]
TRUE_RATINGS = {"strong": 1300.0, "good": 1150.0, "fair": 1000.0, "weak": 850.0, "poor": 700.0}


def synthetic_judgments(n: int = 4000, seed: int = 0, tie_share: float = 0.1) -> list[Judgment]:
    """Games drawn from the Bradley-Terry model with TRUE_RATINGS, some turned into ties."""
    rng = random.Random(seed)
    names = list(TRUE_RATINGS)
    judgments: list[Judgment] = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        p_a = 1.0 / (1.0 + 10 ** ((TRUE_RATINGS[b] - TRUE_RATINGS[a]) / 400))
        if rng.random() < tie_share:
            judgments.append((a, b, "tie"))
        else:
            judgments.append((a, b, "a" if rng.random() < p_a else "b"))
    return judgments


def ranking(ratings: dict[str, float]) -> list[str]:
    return sorted(ratings, key=ratings.__getitem__, reverse=True)


# -- both ratings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rate",
    [
        bradley_terry_ratings,
        lambda j: bradley_terry_ratings(j, prior=0),
        elo_ratings,
        lambda j: elo_ratings(j, k=16, shuffles=5, seed=3),
    ],
    ids=["bt", "bt-no-prior", "elo", "elo-shuffled"],
)
def test_a_clear_order_is_recovered(rate: object) -> None:
    ratings = rate(synthetic_judgments())  # type: ignore[operator]
    assert ranking(ratings) == list(TRUE_RATINGS)


def test_bradley_terry_recovers_the_rating_gaps() -> None:
    ratings = bradley_terry_ratings(synthetic_judgments(n=20_000, tie_share=0.0), prior=0)
    mean = sum(ratings.values()) / len(ratings)
    for model, true in TRUE_RATINGS.items():
        assert ratings[model] - mean == pytest.approx(true - 1000.0, abs=25)


@pytest.mark.parametrize("rate", [bradley_terry_ratings, elo_ratings])
def test_empty_input_gives_no_ratings(rate: object) -> None:
    assert rate([]) == {}  # type: ignore[operator]


@pytest.mark.parametrize("rate", [bradley_terry_ratings, elo_ratings])
@pytest.mark.parametrize(
    ("judgment", "message"),
    [
        (("x", "y", "A"), "winner must be 'a', 'b' or 'tie'"),
        (("x", "y", "draw"), "winner must be"),
        (("x", "y", None), "winner must be"),
        (("x", "x", "a"), "two different models"),
        ((1, "y", "a"), "two different models"),
        (("x", "y"), r"\(model_a, model_b, winner\)"),
        ("xya", r"\(model_a, model_b, winner\)"),
    ],
)
def test_malformed_judgments_raise(rate: object, judgment: object, message: str) -> None:
    with pytest.raises(FusionError, match=message):
        rate([("x", "y", "a"), judgment])  # type: ignore[operator]


@pytest.mark.parametrize("rate", [bradley_terry_ratings, elo_ratings])
def test_only_ties_leave_everyone_equal(rate: object) -> None:
    ratings = rate([("x", "y", "tie"), ("y", "z", "tie"), ("z", "x", "tie")] * 5)  # type: ignore[operator]
    assert list(ratings) == ["x", "y", "z"]
    assert all(r == pytest.approx(1000.0) for r in ratings.values())


@pytest.mark.parametrize("rate", [bradley_terry_ratings, elo_ratings])
def test_a_tie_counts_as_half_a_win(rate: object) -> None:
    # x: one win and one tie; y: one loss and one tie; so x > y, and swapping sides changes nothing.
    ratings = rate([("x", "y", "a"), ("x", "y", "tie")])  # type: ignore[operator]
    swapped = rate([("y", "x", "b"), ("y", "x", "tie")])  # type: ignore[operator]
    assert ratings["x"] > ratings["y"]
    assert ratings["x"] == pytest.approx(swapped["x"])


# -- Elo ------------------------------------------------------------------------------------------


def test_elo_one_game() -> None:
    assert elo_ratings([("x", "y", "a")]) == {"x": 1016.0, "y": 984.0}
    assert elo_ratings([("x", "y", "b")], k=10, initial=1500) == {"x": 1495.0, "y": 1505.0}


def test_elo_depends_on_order_unless_shuffled() -> None:
    win: Judgment = ("x", "y", "a")
    loss: Judgment = ("x", "y", "b")
    games = [win] * 5 + [loss] * 5
    assert elo_ratings(games)["x"] != elo_ratings(games[::-1])["x"]
    shuffled = elo_ratings(games, shuffles=50, seed=1)
    assert shuffled == elo_ratings(games, shuffles=50, seed=1)  # deterministic
    assert shuffled["x"] == pytest.approx(1000.0, abs=5)
    assert sum(shuffled.values()) == pytest.approx(2000.0)  # Elo is zero-sum


def test_elo_rejects_bad_parameters() -> None:
    with pytest.raises(FusionError, match="k > 0"):
        elo_ratings([("x", "y", "a")], k=0)
    with pytest.raises(FusionError, match="shuffles >= 0"):
        elo_ratings([("x", "y", "a")], shuffles=-1)


# -- Bradley-Terry --------------------------------------------------------------------------------


def test_bradley_terry_ignores_order_and_is_deterministic() -> None:
    judgments = synthetic_judgments(n=500)
    ratings = bradley_terry_ratings(judgments)
    assert bradley_terry_ratings(judgments[::-1]) == pytest.approx(ratings)
    assert bradley_terry_ratings(judgments) == ratings


def test_bradley_terry_closed_form() -> None:
    # Two models, x wins 3 of 4: without a prior the fit is odds 3:1 (400 * log10(3) apart).
    ratings = bradley_terry_ratings([("x", "y", "a")] * 3 + [("x", "y", "b")], prior=0)
    assert ratings["x"] - ratings["y"] == pytest.approx(400 * 0.47712125, abs=1e-4)
    assert ratings["x"] + ratings["y"] == pytest.approx(2000.0)


def test_bradley_terry_prior_keeps_an_unbeaten_model_finite() -> None:
    games: list[Judgment] = [("x", "y", "a"), ("y", "z", "a"), ("x", "z", "a")]
    ratings = bradley_terry_ratings(games)
    assert ranking(ratings) == ["x", "y", "z"]
    with pytest.raises(FusionError, match="'x' never loses"):
        bradley_terry_ratings(games, prior=0)
    with pytest.raises(FusionError, match="'z' never wins"):
        bradley_terry_ratings([("z", "y", "b"), ("y", "z", "a")], prior=0)
    # Each of x and y wins and loses, but together they never lose to z and w.
    split: list[Judgment] = [("x", "y", "a"), ("y", "x", "a"), ("z", "w", "a"), ("w", "z", "a")]
    split.extend([("x", "z", "a"), ("y", "w", "a")])
    with pytest.raises(FusionError, match="never loses to the others"):
        bradley_terry_ratings(split, prior=0)
    assert ranking(bradley_terry_ratings(split))[-2:] in (["z", "w"], ["w", "z"])
    # Ties bind both ways: half a win each.
    assert bradley_terry_ratings([("z", "y", "b"), ("y", "z", "tie")], prior=0)["y"] > 1000


def test_bradley_terry_rejects_bad_parameters() -> None:
    with pytest.raises(FusionError, match="prior >= 0"):
        bradley_terry_ratings([("x", "y", "a")], prior=-1)


# -- judgments from scores ------------------------------------------------------------------------


def test_judgments_from_scores() -> None:
    per_question = [
        {"gpt": 1.0, "llama": 0.0, "qwen": 1.0},
        {"llama": 1.0, "gpt": 0.0},  # qwen did not answer
    ]
    assert judgments_from_scores(per_question) == [
        ("gpt", "llama", "a"),
        ("gpt", "qwen", "tie"),
        ("llama", "qwen", "b"),
        ("gpt", "llama", "b"),
    ]
    assert judgments_from_scores(per_question, ties=False) == [
        ("gpt", "llama", "a"),
        ("llama", "qwen", "b"),
        ("gpt", "llama", "b"),
    ]
    assert judgments_from_scores([]) == []


def test_judgments_from_partial_scores() -> None:
    scores = [{"x": 0.7, "y": 0.6}]
    assert judgments_from_scores(scores) == [("x", "y", "tie")]  # both right at 0.5
    assert judgments_from_scores(scores, threshold=None) == [("x", "y", "a")]


def test_rating_replayed_models() -> None:
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "gsm8k_subset.jsonl").open()]
    scorer = NumericScorer()
    per_question = [
        {m: scorer.score(text, row["answer"]) for m, text in row["outputs"].items()} for row in rows
    ]
    judgments = judgments_from_scores(per_question)
    ratings = bradley_terry_ratings(judgments)
    accuracy = {m: sum(q[m] for q in per_question) / len(per_question) for m in ratings}
    # Correctness-derived Bradley-Terry ratings rank the models by accuracy (up to ties).
    order = ranking(ratings)
    assert [accuracy[m] for m in order] == sorted(accuracy.values(), reverse=True)
    assert order[-1] == "gemma-2-2b-it"
