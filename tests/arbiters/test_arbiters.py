"""Conflict detection and the confidence, debate, escalate and human arbiters."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fusionsdk.arbiters.base import Conflict
from fusionsdk.arbiters.confidence import ConfidenceArbiter
from fusionsdk.arbiters.conflict import agreement_rate, answer_entropy, embedding_dispersion, measure_conflict
from fusionsdk.arbiters.debate import DebateArbiter
from fusionsdk.arbiters.escalate import EscalateArbiter
from fusionsdk.arbiters.human import HumanArbiter
from fusionsdk.arbiters.judge import JudgeArbiter
from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.fusion.base import Candidate
from fusionsdk.graph import compile_config
from fusionsdk.testing import FakeEmbedder
from fusionsdk.testing.scripted import context_of, prompt_of, requests_of, responding_model, scripted
from tests.llama_runtimes import needs_embedded

PRICED = {"prices": {"input_usd_per_mtok": 1000, "output_usd_per_mtok": 1000}}
SPLIT = [Candidate("a", "Paris"), Candidate("b", "Lyon"), Candidate("c", "Nice")]
MOSTLY = [Candidate("a", "Paris"), Candidate("b", "paris."), Candidate("c", "Lyon")]


def fake(*responses: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "fake", "options": {"responses": list(responses), **extra}}


def arbitrate(
    arbiter: str, options: dict[str, Any], models: dict[str, Any], panel: list[str]
) -> dict[str, Any]:
    return {
        "version": 1,
        "models": models,
        "nodes": {
            "panel": {"kind": "panel", "models": panel},
            "settle": {"kind": "arbitrate", "arbiter": arbiter, "options": options},
        },
        "edges": [["START", "panel"], ["panel", "settle"], ["settle", "END"]],
    }


# -- conflict detection -------------------------------------------------------------------------


def test_agreement_and_entropy() -> None:
    assert agreement_rate(["x", "x", "y", "z"]) == 0.5
    assert agreement_rate([]) == 1.0
    assert answer_entropy(["x"] * 4) == 0.0
    assert answer_entropy(["x", "y", "z"]) == pytest.approx(1.0)
    assert answer_entropy(["x", "x", "y", "y"]) == pytest.approx(math.log(2) / math.log(4))


def test_embedding_dispersion() -> None:
    embedder = FakeEmbedder()
    assert embedding_dispersion(["same words", "same words"], embedder) == pytest.approx(0.0)
    apart = embedding_dispersion(["alpha beta gamma", "delta epsilon zeta"], embedder)
    assert 0.5 < apart <= 2.0
    assert embedding_dispersion(["only one"], embedder) == 0.0


def test_measure_conflict_reports_every_measure() -> None:
    conflict = measure_conflict(MOSTLY, threshold=0.5)
    assert conflict.agreement == pytest.approx(2 / 3) and not conflict.conflicted
    assert conflict.entropy is not None and 0 < conflict.entropy < 1 and conflict.dispersion is None
    dispersed = measure_conflict(
        [Candidate("a", "cats purr softly"), Candidate("b", "dogs bark loudly")],
        threshold=0.0,
        embedder=FakeEmbedder(),
        max_dispersion=0.3,
    )
    assert dispersed.dispersion is not None and dispersed.dispersion > 0.3 and dispersed.conflicted


def test_conflict_new_fields_have_defaults() -> None:
    assert Conflict(0.5, True) == Conflict(0.5, True, entropy=None, dispersion=None)
    assert JudgeArbiter().detect(SPLIT).entropy is None  # arbiters that do not measure it


def test_arbiters_measure_with_an_embedder_and_refuse_an_unknown_one() -> None:
    conflict = ConfidenceArbiter({"embedder": "fake"}).detect(SPLIT)
    assert conflict.dispersion is not None and conflict.entropy == pytest.approx(1.0)
    with pytest.raises(ConfigError) as err:
        ConfidenceArbiter({"embedder": "nope"})
    assert err.value.path == "options.embedder"
    with pytest.raises(FusionError, match="confidence needs at least one candidate"):
        ConfidenceArbiter().detect([])


# -- confidence ---------------------------------------------------------------------------------


async def test_confidence_arbiter_keeps_an_agreed_majority() -> None:
    result = await ConfidenceArbiter({"threshold": 0.6}).resolve("q", MOSTLY)
    assert result.winner == "a" and "no conflict, majority answer kept" in result.reason


async def test_confidence_arbiter_weighs_stated_confidence_on_conflict() -> None:
    candidates = [
        Candidate("a", "Lyon. Confidence: 30%"),
        Candidate("b", "Lyon. Confidence: 20%"),
        Candidate("c", "Paris. Confidence: 90%"),
    ]
    result = await ConfidenceArbiter().resolve("q", candidates)
    assert (result.text, result.winner) == ("Paris.", "c")
    assert "under 67%" in result.reason and result.scores["c"] == pytest.approx(0.9)


# -- debate -------------------------------------------------------------------------------------


def converts_to(answer: str) -> Any:
    return lambda prompt: answer


async def test_debate_shows_each_model_the_others_and_stops_when_all_agree() -> None:
    models = [responding_model(c.model, converts_to("Paris"), **PRICED) for c in SPLIT]
    result = await DebateArbiter({"rounds": 3}).resolve("Capital of France?", SPLIT, context_of(*models))
    assert (result.text, result.winner) == ("Paris", "a")
    assert len(result.details["rounds"]) == 1 and result.details["agreement"] == 1.0
    assert "1 round(s) of debate (all agreed)" in result.reason
    (request,) = requests_of(models[1])
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]
    assert request.messages[1]["content"] == "Lyon"  # its own answer
    shown = request.messages[2]["content"]
    assert "One agent solution: ```Paris```" in shown and "One agent solution: ```Nice```" in shown
    assert "```Lyon```" not in shown and "updated answer" in shown
    assert result.usage["total_tokens"] > 0 and result.cost_usd > 0


async def test_debate_runs_all_rounds_when_they_keep_disagreeing() -> None:
    models = [scripted("a", "Paris"), scripted("b", "Lyon"), scripted("c", "Lyon", "Paris")]
    result = await DebateArbiter({"rounds": 2}).resolve("q", SPLIT, context_of(*models))
    rounds = result.details["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert [a["text"] for a in rounds[0]["answers"]] == ["Paris", "Lyon", "Lyon"]
    assert [a["text"] for a in rounds[1]["answers"]] == ["Paris", "Lyon", "Paris"]
    assert result.text == "Paris" and result.details["agreement"] == pytest.approx(2 / 3)
    assert all(len(requests_of(m)) == 2 for m in models)
    # the second round shows the first round's answers
    assert "```Lyon```" in prompt_of(requests_of(models[0])[1])


async def test_debate_skips_agreement_and_refuses_unknown_debaters() -> None:
    silent = scripted("a", "never asked")
    result = await DebateArbiter({"threshold": 0.6}).resolve("q", MOSTLY, context_of(silent))
    assert "majority answer kept" in result.reason and not requests_of(silent)
    with pytest.raises(FusionError, match="model 'b' is not among the graph's models"):
        await DebateArbiter().resolve("q", SPLIT, context_of(scripted("a", "x"), scripted("c", "x")))
    with pytest.raises(ConfigError) as err:
        DebateArbiter({"rounds": 0})
    assert err.value.path == "options.rounds"


async def test_debate_in_a_graph_records_rounds_in_the_trace() -> None:
    models = {"a": fake("Paris", "Paris"), "b": fake("Lyon", "Paris"), "c": fake("Nice", "Paris")}
    result = await compile_config(arbitrate("debate", {"rounds": 2}, models, ["a", "b", "c"])).arun(
        "Capital?"
    )
    assert result.answer == "Paris"
    decision = next(d for d in result.decisions if d["type"] == "arbitrate")
    assert decision["conflicted"] and decision["agreement_after"] == 1.0
    assert len(decision["rounds"]) == 1 and decision["entropy"] == pytest.approx(1.0)
    settle = next(step for step in result.trace if step["node"] == "settle")
    assert settle["usage"]["total_tokens"] > 0 and settle["decisions"][0]["rounds"]


# -- escalate -----------------------------------------------------------------------------------


async def test_escalate_asks_the_stronger_model_with_the_answers_and_streams() -> None:
    oracle = scripted("oracle", "Paris", **PRICED)
    emitted: list[str] = []
    result = await EscalateArbiter({"model": "oracle"}).resolve(
        "Capital?", SPLIT, context_of(oracle, emitted=emitted)
    )
    assert (result.text, result.winner) == ("Paris", "a") and "agreeing with a" in result.reason
    assert emitted == ["Paris"]
    (request,) = requests_of(oracle)
    assert "Answer 2:\nLyon" in prompt_of(request) and "they disagree" in prompt_of(request)
    assert result.cost_usd > 0 and result.usage["total_tokens"] > 0


async def test_escalate_new_answer_has_no_winner_and_agreement_needs_no_call() -> None:
    oracle = scripted("oracle", "Marseille")
    result = await EscalateArbiter({"model": "oracle"}).resolve("q", SPLIT, context_of(oracle))
    assert result.text == "Marseille" and result.winner is None and "a new answer" in result.reason
    kept = await EscalateArbiter({"model": "oracle", "threshold": 0.5}).resolve(
        "q", MOSTLY, context_of(oracle)
    )
    assert kept.winner == "a" and len(requests_of(oracle)) == 1
    with pytest.raises(FusionError, match="model 'oracle' is not among"):
        await EscalateArbiter({"model": "oracle"}).resolve("q", SPLIT, context_of())


def test_escalate_unknown_model_is_a_config_error_when_the_graph_compiles() -> None:
    cfg = arbitrate("escalate", {"model": "gpt9"}, {"a": fake("x"), "b": fake("y")}, ["a", "b"])
    with pytest.raises(ConfigError) as err:
        compile_config(cfg)
    assert err.value.path == "nodes.settle.options.model" and "unknown model 'gpt9'" in str(err.value)


async def test_escalate_streams_in_a_graph_and_the_node_emits_the_answer_once() -> None:
    models = {"a": fake("Paris"), "b": fake("Lyon"), "big": fake("Paris is the capital")}
    cfg = arbitrate("escalate", {"model": "big"}, models, ["a", "b"])
    events = [e async for e in compile_config(cfg).astream("q")]
    assert (
        "".join(e.text for e in events if e.type == "token" and e.node == "settle") == "Paris is the capital"
    )
    assert [(e.node, e.text) for e in events if e.type == "answer"] == [("settle", "Paris is the capital")]


# -- human --------------------------------------------------------------------------------------


def human_graph(**options: Any) -> dict[str, Any]:
    return arbitrate(
        "human", options, {"a": fake("Paris"), "b": fake("Lyon"), "c": fake("Lyon")}, ["a", "b", "c"]
    )


async def test_human_arbiter_pauses_on_conflict_and_a_reply_replaces_the_answer() -> None:
    graph = compile_config(human_graph(threshold=0.9))
    paused = await graph.arun("Capital of France?")
    assert paused.interrupted is not None and paused.interrupted["arbiter"] == "human"
    assert paused.interrupted["answer"] == "Lyon" and len(paused.interrupted["candidates"]) == 3
    done = await graph.aresume(paused.thread_id, "Paris")
    assert done.answer == "Paris" and done.interrupted is None
    decision = next(d for d in done.decisions if d["type"] == "arbitrate")
    assert decision["winner"] == "a" and "a person gave the answer" in decision["reason"]


async def test_human_arbiter_empty_reply_keeps_the_majority() -> None:
    graph = compile_config(human_graph(threshold=0.9))
    paused = await graph.arun("q")
    done = await graph.aresume(paused.thread_id, "")
    assert done.answer == "Lyon"
    assert "kept the majority" in next(d for d in done.decisions if d["type"] == "arbitrate")["reason"]


async def test_human_arbiter_asks_nobody_when_they_agree_unless_always() -> None:
    agreed = await compile_config(human_graph(threshold=0.6)).arun("q")
    assert agreed.interrupted is None and agreed.answer == "Lyon"
    always = await compile_config(human_graph(threshold=0.6, always=True)).arun("q")
    assert always.interrupted is not None


async def test_human_arbiter_outside_a_graph_is_a_fusion_error() -> None:
    with pytest.raises(FusionError, match="pauses a graph run"):
        await HumanArbiter().resolve("q", SPLIT)


# -- the embedded models ------------------------------------------------------------------------

EMBEDDED = {
    "smol": {"provider": "llamacpp", "model": "smollm2-135m-instruct"},
    "gemma": {"provider": "llamacpp", "model": "gemma3-270m"},
}


def embedded_graph(arbiter: str, options: dict[str, Any]) -> dict[str, Any]:
    cfg = arbitrate(arbiter, options, EMBEDDED, ["smol", "gemma"])
    cfg["nodes"]["panel"] |= {"max_tokens": 24, "temperature": 0}
    return cfg


@pytest.mark.parametrize(
    ("arbiter", "options"),
    [
        ("judge", {"judge": "gemma", "threshold": 1.0}),
        ("debate", {"rounds": 1, "threshold": 1.0, "max_tokens": 24, "temperature": 0}),
    ],
)
@pytest.mark.integration
@needs_embedded
async def test_arbiters_end_to_end_on_the_embedded_models(arbiter: str, options: dict[str, Any]) -> None:
    result = await compile_config(embedded_graph(arbiter, options)).arun("Name one primary colour.")
    assert result.answer.strip()
    decision = next(d for d in result.decisions if d["type"] == "arbitrate")
    assert decision["arbiter"] == arbiter and decision["reason"]
    settle = next(step for step in result.trace if step["node"] == "settle")
    if decision["conflicted"]:
        assert settle["usage"]["total_tokens"] > 0
