"""The escalation ladder: majority first, then each step while agreement and budget allow."""

from __future__ import annotations

from typing import Any

import pytest

from fusionsdk.arbiters.ladder import EscalationLadder
from fusionsdk.errors import BudgetExceeded, ConfigError
from fusionsdk.fusion.base import Candidate
from fusionsdk.graph import compile_config
from fusionsdk.testing.scripted import context_of, requests_of, scripted

PRICED = {"prices": {"input_usd_per_mtok": 1000, "output_usd_per_mtok": 1000}}
SPLIT = [Candidate("a", "Paris"), Candidate("b", "Lyon"), Candidate("c", "Nice")]
MOSTLY = [Candidate("a", "Lyon"), Candidate("b", "Lyon."), Candidate("c", "Paris")]
AGREED = [Candidate("a", "Paris"), Candidate("b", "Paris"), Candidate("c", "paris")]

JUDGE_THEN_DEBATE: dict[str, Any] = {
    "steps": [
        {"arbiter": "judge", "options": {"judge": "referee"}, "when_agreement_below": 0.67},
        {"arbiter": "debate", "options": {"rounds": 2}, "when_agreement_below": 0.5},
    ]
}


def debaters(answer: str = "Paris") -> list[Any]:
    return [scripted(name, answer) for name in "abc"]


def statuses(details: Any) -> list[tuple[str, str]]:
    return [(step["arbiter"], step["status"]) for step in details["steps"]]


async def test_agreement_needs_no_step_and_no_model() -> None:
    referee = scripted("referee", "3")
    ladder = EscalationLadder(JUDGE_THEN_DEBATE)
    result = await ladder.resolve("q", AGREED, context_of(referee, *debaters()))
    assert result.winner == "a" and "majority kept, no step ran" in result.reason
    assert statuses(result.details) == [("majority_vote", "ran"), ("judge", "skipped"), ("debate", "skipped")]
    assert "not under 67%" in result.details["steps"][1]["reason"]
    assert not requests_of(referee) and result.usage == {} and result.cost_usd == 0


async def test_mild_conflict_goes_to_the_judge_only() -> None:
    referee = scripted("referee", "3")
    result = await EscalationLadder(JUDGE_THEN_DEBATE).resolve("q", MOSTLY, context_of(referee, *debaters()))
    assert (result.text, result.winner) == ("Paris", "c")
    assert statuses(result.details) == [("majority_vote", "ran"), ("judge", "ran"), ("debate", "skipped")]
    assert "settled by step 1 (judge)" in result.reason and "judge referee chose answer 3" in result.reason
    assert len(requests_of(referee)) == 1 and result.usage["total_tokens"] > 0


async def test_severe_conflict_climbs_to_the_debate_which_decides() -> None:
    referee = scripted("referee", "3")
    models = debaters("Lyon")
    result = await EscalationLadder(JUDGE_THEN_DEBATE).resolve("q", SPLIT, context_of(referee, *models))
    assert result.text == "Lyon"
    assert statuses(result.details) == [("majority_vote", "ran"), ("judge", "ran"), ("debate", "ran")]
    debate = result.details["steps"][2]
    assert debate["agreement"] == pytest.approx(1 / 3) and debate["agreement_after"] == 1.0
    assert len(debate["details"]["rounds"]) == 1 and result.details["agreement"] == 1.0
    judge_tokens = result.details["steps"][1]["tokens"]
    assert result.usage["total_tokens"] == judge_tokens + debate["tokens"]


async def test_a_step_gets_its_threshold_from_when_agreement_below() -> None:
    referee = scripted("referee", "3")
    ladder = EscalationLadder(
        {"steps": [{"arbiter": "judge", "options": {"judge": "referee"}, "when_agreement_below": 0.9}]}
    )
    result = await ladder.resolve(
        "q", MOSTLY, context_of(referee)
    )  # agreement 67%: judge default would not act
    assert result.winner == "c" and len(requests_of(referee)) == 1
    assert ladder.detect(MOSTLY).conflicted and not ladder.detect(AGREED).conflicted


async def test_the_ladder_budget_stops_further_steps() -> None:
    referee = scripted("referee", "3", **PRICED)
    options = {**JUDGE_THEN_DEBATE, "max_cost_usd": 0.000001}
    result = await EscalationLadder(options).resolve("q", SPLIT, context_of(referee, *debaters()))
    assert statuses(result.details)[1:] == [("judge", "ran"), ("debate", "skipped")]
    assert "budget: ladder max_cost_usd" in result.details["steps"][2]["reason"]
    assert result.winner == "c" and result.cost_usd > 0
    tokens = {**JUDGE_THEN_DEBATE, "max_tokens": 1}
    capped = await EscalationLadder(tokens).resolve(
        "q", SPLIT, context_of(scripted("referee", "3"), *debaters())
    )
    assert "ladder max_tokens 1 spent" in capped.details["steps"][2]["reason"]


async def test_the_graph_budget_stops_steps_too() -> None:
    def over(cost: float, tokens: int) -> None:
        raise BudgetExceeded("max_cost_usd", 1.0, 0.5)

    referee = scripted("referee", "3")
    result = await EscalationLadder(JUDGE_THEN_DEBATE).resolve(
        "q", SPLIT, context_of(referee, check_budget=over)
    )
    assert statuses(result.details)[1:] == [("judge", "skipped"), ("debate", "skipped")]
    assert "budget.max_cost_usd" in result.details["steps"][1]["reason"] and not requests_of(referee)


async def test_a_failing_step_is_recorded_and_the_ladder_goes_on() -> None:
    options = {
        "steps": [
            {"arbiter": "debate", "when_agreement_below": 0.9},
            {"arbiter": "confidence", "when_agreement_below": 0.9},
        ]
    }
    result = await EscalationLadder(options).resolve("q", SPLIT, context_of())  # no debaters
    assert statuses(result.details)[1:] == [("debate", "failed"), ("confidence", "ran")]
    assert "debater model 'a' is not among" in result.details["steps"][1]["reason"]
    assert "settled by step 2 (confidence)" in result.reason


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"steps": []}, "options.steps"),
        (
            {"steps": [{"arbiter": "judge", "when_agreement_below": 1.5}]},
            "options.steps[0].when_agreement_below",
        ),
        ({"steps": [{"arbiter": "no-such-arbiter"}]}, "options.steps[0].arbiter"),
        (
            {"steps": [{"arbiter": "judge"}, {"arbiter": "debate", "options": {"rounds": "many"}}]},
            "options.steps[1].options.rounds",
        ),
        ({"steps": [{"arbiter": "judge", "options": {"judges": "x"}}]}, "options.steps[0].options.judges"),
        ({"steps": [{"arbiter": "escalate"}]}, "options.steps[0].options.model"),
        (
            {
                "steps": [
                    {
                        "arbiter": "ladder",
                        "options": {"steps": [{"arbiter": "debate", "options": {"rounds": 0}}]},
                    }
                ]
            },
            "options.steps[0].options.steps[0].options.rounds",
        ),
        (
            {"steps": [{"arbiter": "confidence", "options": {"embedder": "nope"}}]},
            "options.steps[0].options.embedder",
        ),
        ({"steps": [{"arbiter": "judge"}], "max_cost_usd": -1}, "options.max_cost_usd"),
    ],
)
def test_bad_options_are_config_errors_naming_their_path(options: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as err:
        EscalationLadder(options)
    assert err.value.path == path


def test_referenced_models_are_named_by_step() -> None:
    ladder = EscalationLadder(
        {
            "steps": [
                {"arbiter": "judge", "options": {"judge": "j"}},
                {"arbiter": "escalate", "options": {"model": "big"}},
            ]
        }
    )
    assert ladder.referenced_models() == {"steps[0].options.judge": "j", "steps[1].options.model": "big"}


# -- in a graph ---------------------------------------------------------------------------------


def fake(*responses: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "fake", "options": {"responses": list(responses), **extra}}


def ladder_graph(options: dict[str, Any], **models: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "models": {"a": fake("Paris", "Lyon"), "b": fake("Lyon"), "c": fake("Nice", "Lyon"), **models},
        "nodes": {
            "panel": {"kind": "panel", "models": ["a", "b", "c"]},
            "settle": {"kind": "arbitrate", "arbiter": "ladder", "options": options},
        },
        "edges": [["START", "panel"], ["panel", "settle"], ["settle", "END"]],
    }


LADDER_YAML_EXAMPLE = {
    "steps": [
        {"arbiter": "judge", "options": {"judge": "gemma"}, "when_agreement_below": 0.67},
        {"arbiter": "debate", "options": {"rounds": 2}, "when_agreement_below": 0.5},
    ],
    "max_cost_usd": 0.05,
}


async def test_ladder_steps_land_in_the_decision_and_the_trace() -> None:
    graph = compile_config(ladder_graph(LADDER_YAML_EXAMPLE, gemma=fake("1")))
    result = await graph.arun("Capital of France?")
    assert result.answer == "Lyon"  # the debate converged on Lyon after the judge chose Paris
    decision = next(d for d in result.decisions if d["type"] == "arbitrate")
    assert [s["arbiter"] for s in decision["steps"]] == ["majority_vote", "judge", "debate"]
    assert [s["status"] for s in decision["steps"]] == ["ran", "ran", "ran"]
    assert decision["agreement"] == pytest.approx(1 / 3) and decision["agreement_after"] == 1.0
    settle = next(step for step in result.trace if step["node"] == "settle")
    assert settle["decisions"][0]["steps"][2]["details"]["rounds"]
    assert settle["usage"]["total_tokens"] == sum(s.get("tokens", 0) for s in decision["steps"])


async def test_graph_budget_reaches_the_ladder() -> None:
    cfg = ladder_graph(LADDER_YAML_EXAMPLE, gemma=fake("1"))
    cfg["nodes"]["panel"]["max_tokens"] = 5
    cfg["budget"] = {"max_tokens": 40}  # room for the panel and the judge, not for a debate
    result = await compile_config(cfg).arun("Capital of France?")
    steps = next(d for d in result.decisions if d["type"] == "arbitrate")["steps"]
    assert [s["status"] for s in steps] == ["ran", "ran", "skipped"]
    assert "budget: budget.max_tokens: run would reach" in steps[2]["reason"]


def test_bad_step_options_name_the_node_path_when_compiling() -> None:
    options = {"steps": [{"arbiter": "judge"}, {"arbiter": "debate", "options": {"rounds": 0}}]}
    with pytest.raises(ConfigError) as err:
        compile_config(ladder_graph(options))
    assert err.value.path == "nodes.settle.options.steps[1].options.rounds"
    with pytest.raises(ConfigError) as err:
        compile_config(ladder_graph({"steps": [{"arbiter": "judge", "options": {"judge": "gemma"}}]}))
    assert err.value.path == "nodes.settle.options.steps[0].options.judge"
    assert "unknown model 'gemma'" in str(err.value)


async def test_a_human_step_pauses_the_ladder_and_resumes() -> None:
    options = {"steps": [{"arbiter": "confidence"}, {"arbiter": "human", "when_agreement_below": 0.5}]}
    graph = compile_config(ladder_graph(options))
    paused = await graph.arun("Capital of France?")
    assert paused.interrupted is not None and paused.interrupted["arbiter"] == "human"
    done = await graph.aresume(paused.thread_id, "Paris")
    assert done.answer == "Paris"
    steps = next(d for d in done.decisions if d["type"] == "arbitrate")["steps"]
    assert [s["status"] for s in steps] == ["ran", "ran", "ran"] and "a person gave" in steps[2]["reason"]
