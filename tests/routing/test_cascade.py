"""The ``cascade`` node and its acceptance rules (:mod:`fusionsdk.routing.cascade`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fusionsdk.answers import normalize_answer
from fusionsdk.errors import ConfigError, GraphError
from fusionsdk.eval.base import Scorer
from fusionsdk.eval.harness import evaluate
from fusionsdk.graph.builder import GraphBuilder
from fusionsdk.graph.run import Graph
from fusionsdk.providers.replay import load_replay
from fusionsdk.routing.cascade import (
    Acceptance,
    agreement_verdict,
    leading_answer,
    logprob_confidence,
    verifier_confidence,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "gsm8k_subset.jsonl"
ROWS = load_replay(str(DATA)).rows
PRICES = {"input_usd_per_mtok": 1.0, "output_usd_per_mtok": 1.0}


class LastNumber(Scorer):
    """Right when the final numbers agree."""

    def score(self, prediction: str, reference: str) -> float:
        return float(normalize_answer(prediction, "number") == normalize_answer(reference, "number"))


def cascade(
    models: dict[str, list[str] | dict[str, Any]], accept: dict[str, Any] | None = None, **fields: Any
) -> Graph:
    builder = GraphBuilder()
    for name, script in models.items():
        options = script if isinstance(script, dict) else {"responses": script}
        builder.model(name, provider="fake", options=options, prices=PRICES)
    order = [m for m in models if m != "judge"]
    builder.node("answer", "cascade", models=order, accept={"extract": "number", **(accept or {})}, **fields)
    return builder.edge("START", "answer").edge("answer", "END").compile()


def calls(graph: Graph, model: str) -> int:
    return len(graph.hub[model].provider.requests)


def test_acceptance_rules() -> None:
    assert leading_answer(["18", "17", "18"]) == ("18", 2 / 3)
    assert leading_answer(["", ""]) == ("", 0.0)
    assert leading_answer(["5", "6"]) == ("5", 0.5)  # a tie goes to the first seen
    assert not agreement_verdict(["18"], 1.0, 2).accept
    assert agreement_verdict(["18", "18"], 1.0, 2).accept
    assert not agreement_verdict(["18", "17"], 0.75, 2).accept
    assert not agreement_verdict(["", ""], 0.5, 2).accept
    assert logprob_confidence(None) == 0.0 and logprob_confidence([0.0, 0.0]) == 1.0
    assert verifier_confidence("Yes, it is right.") == 1.0 and verifier_confidence("no") == 0.0
    assert verifier_confidence("**YES**") == 1.0 and verifier_confidence("maybe") == 0.0
    assert verifier_confidence("yes", first_logprob=-0.5) == pytest.approx(0.6065, abs=1e-4)


async def test_agreeing_cheap_models_are_accepted_and_the_strong_one_is_not_asked() -> None:
    graph = cascade({"cheap": ["It is 18."], "mid": ['{"answer": "18"}'], "strong": ["18"]})
    result = await graph.arun("What is 9 + 9?")
    assert result.answer == '{"answer": "18"}' and calls(graph, "strong") == 0
    steps = [d for d in result.decisions if d["type"] == "cascade"]
    assert [s["accepted"] for s in steps] == [False, True] and steps[1]["confidence"] == 1.0
    route = result.decisions[-1]
    assert route["type"] == "route" and route["target"] == "mid"
    assert [c["model"] for c in result.candidates] == ["cheap", "mid"] and result.cost_usd > 0
    assert result.usage["total_tokens"] > 0


async def test_disagreement_escalates_and_the_last_model_stands() -> None:
    graph = cascade({"cheap": ["17"], "mid": ["19"], "strong": ["18"]})
    result = await graph.arun("What is 9 + 9?")
    assert result.answer == "18" and calls(graph, "strong") == 1
    last = [d for d in result.decisions if d["type"] == "cascade"][-1]
    assert last["accepted"] and "last model" in last["reason"]
    assert result.decisions[-1]["target"] == "strong"


async def test_a_threshold_below_one_accepts_a_majority() -> None:
    graph = cascade({"a": ["17"], "b": ["18"], "c": ["18"], "strong": ["99"]}, {"threshold": 0.6})
    result = await graph.arun("What is 9 + 9?")
    assert result.answer == "18" and calls(graph, "strong") == 0


async def test_self_consistency_samples_one_model() -> None:
    graph = cascade(
        {"cheap": ["18", "18", "18"], "strong": ["99"]}, {"samples": 3, "min_answers": 3}, temperature=0.7
    )
    result = await graph.arun("What is 9 + 9?")
    assert result.answer == "18" and calls(graph, "cheap") == 3 and calls(graph, "strong") == 0


async def test_logprob_acceptance() -> None:
    sure = {"responses": ["18"], "logprob": -0.01}
    unsure = {"responses": ["17"], "logprob": -3.0}
    graph = cascade({"cheap": unsure, "strong": sure}, {"method": "logprob", "threshold": 0.9})
    result = await graph.arun("What is 9 + 9?")
    assert result.answer == "18" and calls(graph, "strong") == 1
    graph = cascade({"cheap": sure, "strong": sure}, {"method": "logprob", "threshold": 0.9})
    assert (await graph.arun("What is 9 + 9?")).decisions[-1]["target"] == "cheap"
    graph = cascade({"cheap": ["18"], "strong": ["17"]}, {"method": "logprob", "threshold": 0.5})
    assert (await graph.arun("x?")).answer == "17"  # no log-probabilities: never trusted


async def test_verifier_acceptance_and_its_cost() -> None:
    graph = cascade(
        {"cheap": ["17"], "mid": ["18"], "strong": ["99"], "judge": ["no", "Yes."]},
        {"method": "verifier", "verifier": "judge", "threshold": 0.5},
    )
    result = await graph.arun("What is 9 + 9?")
    assert result.answer == "18" and calls(graph, "judge") == 2 and calls(graph, "strong") == 0
    prompt = graph.hub["judge"].provider.requests[0].messages[0]["content"]
    assert "What is 9 + 9?" in prompt and "17" in prompt
    assert [c["model"] for c in result.candidates] == ["cheap", "mid"]  # the verdicts are no answers
    answers_cost = sum(c["cost_usd"] for c in result.candidates)
    assert result.cost_usd > answers_cost  # the verifier was paid for


async def test_a_failing_model_is_skipped() -> None:
    from fusionsdk.errors import ProviderUnavailable

    graph = cascade({"cheap": ["18"], "mid": ["18"], "strong": ["18"]})
    graph.hub["mid"].provider.script = [ProviderUnavailable("down")]  # type: ignore[attr-defined]
    result = await graph.arun("What is 9 + 9?")
    assert result.answer == "18" and calls(graph, "strong") == 1
    assert any("failed" in d["reason"] for d in result.decisions)
    for name in ("cheap", "mid", "strong"):
        graph.hub[name].provider.script = [ProviderUnavailable("down")]  # type: ignore[attr-defined]
    with pytest.raises(GraphError, match="no model answered"):
        await graph.arun("What is 9 + 9?")


async def test_the_budget_stops_escalation() -> None:
    builder = GraphBuilder()
    for name, text in (("cheap", "17"), ("mid", "19"), ("strong", "18")):
        builder.model(
            name,
            provider="fake",
            options={"responses": [text]},
            prices={"input_usd_per_mtok": 1e6, "output_usd_per_mtok": 1e6},
        )
    builder.node("answer", "cascade", models=["cheap", "mid", "strong"], accept={"extract": "number"})
    graph = builder.edge("START", "answer").edge("answer", "END").budget(max_cost_usd=10).compile()
    result = await graph.arun("What is 9 + 9?")
    assert result.answer == "17" and calls(graph, "strong") == 0
    assert "budget" in result.decisions[-2]["reason"]


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"models": ["cheap", "ghost"]}, r"nodes.answer.models\[1\]: unknown model 'ghost'"),
        ({"models": []}, "nodes.answer.models"),
        ({"accept": {"method": "verifier"}}, "nodes.answer.accept: .*needs 'verifier'"),
        (
            {"accept": {"method": "verifier", "verifier": "ghost"}},
            "nodes.answer.accept.verifier: unknown model",
        ),
        ({"accept": {"samples": 3}}, "samples above 1 needs a temperature"),
        ({"accept": {"threshold": 1.5}}, "nodes.answer.accept.threshold"),
        ({"accept": {"verifier_prompt": "no placeholder"}}, "accept.verifier_prompt"),
        ({"prompt": "{nope}"}, "nodes.answer.prompt"),
    ],
)
def test_bad_cascades_are_config_errors_with_paths(fields: dict[str, Any], match: str) -> None:
    builder = GraphBuilder().model("cheap", provider="fake")
    builder.node("answer", "cascade", **{"models": ["cheap"], **fields})
    with pytest.raises(ConfigError, match=match):
        builder.edge("START", "answer").edge("answer", "END").compile()
    assert Acceptance().method == "agreement"


async def test_a_replayed_cascade_through_the_harness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    builder = GraphBuilder()
    for name, model in (
        ("flash", "gemini-1.5-flash"),
        ("mini", "gpt-4o-mini-2024-07-18"),
        ("gpt4o", "gpt-4o-2024-08-06"),
    ):
        builder.model(name, provider="replay", model=model, options={"dataset": str(DATA)})
    builder.node("answer", "cascade", models=["flash", "mini", "gpt4o"], accept={"extract": "number"})
    graph = builder.edge("START", "answer").edge("answer", "END").compile()
    report = await evaluate(graph, ROWS, LastNumber())
    assert report.errors == 0 and report.per_model["flash"]["answered"] == 40
    assert report.per_model["gpt4o"]["answered"] < 40  # only the disagreements escalate
    assert sum(report.route_share.values()) == pytest.approx(1.0)
    expected = 0
    for row in ROWS:
        keys = [
            normalize_answer(row.outputs[m], "number") for m in ("gemini-1.5-flash", "gpt-4o-mini-2024-07-18")
        ]
        final = row.outputs["gpt-4o-2024-08-06"] if keys[0] != keys[1] else row.outputs["gemini-1.5-flash"]
        expected += LastNumber().score(final, row.answer)
    assert report.accuracy == pytest.approx(expected / 40)
