"""``weighted_vote``: weights inline and from a file, the integer bonus, and online updates."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.fusion.base import Candidate
from fusionsdk.fusion.weighted_vote import WeightedVote, tally
from fusionsdk.fusion.weights_file import (
    WeightsData,
    counts_for_weight,
    log_odds,
    read_weights,
    write_weights,
)


def fuser(**options: Any) -> WeightedVote:
    return WeightedVote(options)


async def fuse(vote: WeightedVote, *pairs: tuple[str, str]) -> Any:
    return await vote.fuse("task", [Candidate(model, text) for model, text in pairs])


def weights_file(tmp_path: Path, **data: Any) -> Path:
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"version": 1, **data}))
    return path


# -- voting ---------------------------------------------------------------------------------------


async def test_a_heavy_model_outvotes_two_light_ones() -> None:
    vote = fuser(weights={"strong": 3.0, "weak1": 1.0, "weak2": 1.0})
    result = await fuse(vote, ("weak1", "Lyon"), ("strong", "Paris"), ("weak2", "lyon."))
    assert (result.text, result.winner) == ("Paris", "strong")
    assert result.scores == {"weak1": 2.0, "strong": 3.0, "weak2": 2.0}
    assert "60%" in result.reason


async def test_unknown_models_get_the_default_weight_and_candidate_weights_multiply() -> None:
    vote = fuser(weights={"a": 1.0}, default_weight=0.25)
    assert vote.weight("a") == 1.0 and vote.weight("stranger") == 0.25
    result = await fuse(vote, ("a", "x"), ("b", "y"), ("c", "y"), ("d", "y"))
    assert result.text == "x"  # 1.0 against 3 x 0.25
    heavier = await vote.fuse("t", [Candidate("a", "x"), Candidate("b", "y", weight=8.0)])
    assert heavier.text == "y"


async def test_numbers_are_voted_on_after_extraction() -> None:
    vote = fuser(extract="number")
    result = await fuse(vote, ("a", '{"answer": "$18"}'), ("b", "So she makes 18."), ("c", "17"))
    assert result.winner == "a" and result.scores["b"] == 2.0


async def test_integer_bonus_prefers_whole_numbers() -> None:
    pairs = [("a", "760.42"), ("b", "760.42"), ("c", "803")]
    assert (await fuse(fuser(extract="number"), *pairs)).text == "760.42"
    assert (await fuse(fuser(extract="number", integer_bonus=0.5), *pairs)).text == "803"


def test_tally_ties_go_to_the_heaviest_voter_then_the_first_answer() -> None:
    assert tally([("x", 1.0), ("x", 1.0), ("y", 2.0)])[0] == "y"
    assert tally([("x", 1.0), ("y", 1.0)])[0] == "x"
    assert tally([("x", 0.0), ("y", 0.0)]) == ("x", {"x": 0.0, "y": 0.0})


async def test_zero_weights_still_give_an_answer() -> None:
    result = await fuse(fuser(default_weight=0.0), ("a", "x"), ("b", "y"))
    assert result.text == "x" and "0%" in result.reason


async def test_no_candidates_is_a_fusion_error() -> None:
    with pytest.raises(FusionError, match="at least one candidate"):
        await fuser().fuse("task", [])


def test_bad_inline_options_are_config_errors_with_paths() -> None:
    with pytest.raises(ConfigError, match=r"options\.weights: the weight of 'a' must be at least 0"):
        fuser(weights={"a": -1.0})
    with pytest.raises(ConfigError, match=r"options\.default_weight"):
        fuser(default_weight=-1)
    with pytest.raises(ConfigError, match=r"options\.extract"):
        fuser(extract="roman")


# -- the weights file -----------------------------------------------------------------------------


async def test_weights_and_defaults_come_from_the_file(tmp_path: Path) -> None:
    path = weights_file(
        tmp_path, weights={"a": 0.5, "b": 2.0}, extract="number", integer_bonus=1.0, default_weight=0.1
    )
    vote = fuser(weights_file=str(path))
    assert (vote.extract, vote.integer_bonus, vote.default_weight) == ("number", 1.0, 0.1)
    assert vote.weights == {"a": 0.5, "b": 2.0}
    assert (await fuse(vote, ("b", "3.5"), ("a", "3"))).text == "3"
    inline = fuser(weights_file=str(path), weights={"a": 5.0}, integer_bonus=0.0, extract="text")
    assert inline.weights == {"a": 5.0, "b": 2.0} and inline.integer_bonus == 0.0
    assert (await fuse(inline, ("b", "3.5"), ("a", "3"))).text == "3"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "weights file not found"),
        ("{not json", "is not JSON"),
        ("[1, 2]", "a JSON object"),
        ('{"version": 2, "weights": {}}', "version: this fusionsdk reads version 1"),
        ('{"weights": {"a": "high"}}', "weights.a: expected a number"),
        ('{"weights": {"a": -1}}', "weights.a: must be at least 0"),
        ('{"weights": {}, "counts": {"a": {"correct": 1}}}', "counts.a.wrong: expected a number"),
        ('{"weights": {}, "smoothing": 0}', "smoothing: must be above 0"),
        ('{"weights": {}, "extract": "roman"}', "extract: must be one of"),
    ],
)
def test_bad_weights_files_are_config_errors_naming_the_option(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "w.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=r"options\.weights_file") as caught:
        fuser(weights_file=str(path))
    assert message in str(caught.value)


def test_the_file_round_trips_and_keeps_unknown_keys(tmp_path: Path) -> None:
    data = WeightsData({"a": 1.5}, {"a": (3.0, 1.0)}, 0.5, {"integer_bonus": 0.25}, {"panel": ["a"]})
    path = tmp_path / "w.json"
    write_weights(path, data)
    assert read_weights(path) == data
    assert [p.name for p in tmp_path.iterdir()] == ["w.json"]  # no temporary file left behind
    assert path.stat().st_mode & 0o777 == 0o644


def test_log_odds_and_pseudo_counts_agree() -> None:
    assert log_odds(9, 1, smoothing=1.0) == pytest.approx(1.6094, abs=1e-4)
    assert log_odds(1, 9) == 0.0  # worse than chance: no vote
    right, wrong = counts_for_weight(2.0, strength=20)
    assert right + wrong == pytest.approx(20) and log_odds(right, wrong) == pytest.approx(2.0)


# -- online updates -------------------------------------------------------------------------------


def test_feedback_moves_weights_without_a_file() -> None:
    vote = fuser(weights={"a": 2.0})
    up = vote.update("a", True)
    assert up > 2.0 and vote.weight("a") == up
    assert vote.update("a", False) < up
    newcomer = vote.update("new", False)  # starts from default_weight 1.0, worth 20 answers
    assert newcomer < 1.0


def test_feedback_updates_the_counts_in_the_file(tmp_path: Path) -> None:
    path = weights_file(
        tmp_path, weights={"a": 2.0, "b": 1.0}, counts={"a": {"correct": 8, "wrong": 1}}, panel=["a", "b"]
    )
    vote = fuser(weights_file=str(path))
    assert vote.update("a", True) == pytest.approx(log_odds(9, 1))
    assert vote.update_many({"a": False, "b": True}) == {
        "a": pytest.approx(log_odds(9, 2)),
        "b": vote.weight("b"),
    }
    saved = json.loads(path.read_text())
    assert saved["counts"]["a"] == {"correct": 9.0, "wrong": 2.0}
    assert saved["weights"]["a"] == pytest.approx(log_odds(9, 2)) and saved["panel"] == ["a", "b"]
    assert fuser(weights_file=str(path)).weights == vote.weights


def test_feedback_overrides_an_inline_weight_for_that_model(tmp_path: Path) -> None:
    path = weights_file(tmp_path, weights={"a": 2.0})
    vote = fuser(weights_file=str(path), weights={"a": 4.0, "b": 3.0})
    vote.update("a", True)
    assert vote.weight("a") == pytest.approx(read_weights(path).weights["a"]) and vote.weight("b") == 3.0


def test_concurrent_updates_from_threads_and_instances_all_count(tmp_path: Path) -> None:
    path = weights_file(tmp_path, weights={}, counts={"a": {"correct": 0, "wrong": 0}})
    fusers = [fuser(weights_file=str(path)) for _ in range(2)]

    def work(index: int) -> None:
        for i in range(25):
            fusers[index % 2].update("a", (index + i) % 2 == 0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    right, wrong = read_weights(path).counts["a"]
    assert right + wrong == 200 and right == 100


def test_concurrent_updates_from_processes_all_count(tmp_path: Path) -> None:
    path = weights_file(tmp_path, weights={}, counts={"a": {"correct": 0, "wrong": 0}})
    script = (
        "import sys\nfrom fusionsdk.fusion.weighted_vote import WeightedVote\n"
        "vote = WeightedVote({'weights_file': sys.argv[1]})\n"
        "for _ in range(30):\n    vote.update('a', True)\n"
    )
    workers = [subprocess.Popen([sys.executable, "-c", script, str(path)]) for _ in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    assert read_weights(path).counts["a"] == (60.0, 0.0)


def test_reload_sees_another_writer(tmp_path: Path) -> None:
    path = weights_file(tmp_path, weights={"a": 1.0})
    vote = fuser(weights_file=str(path))
    fuser(weights_file=str(path)).update("a", False)
    assert vote.weight("a") == 1.0
    vote.reload()
    assert vote.weight("a") < 1.0
