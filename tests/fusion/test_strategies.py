"""The fusion strategies confidence, consensus, rank and synthesize, on fake models and in graphs."""

from __future__ import annotations

import math
from typing import Any

import pytest

from fusionsdk.errors import ConfigError, FusionError
from fusionsdk.fusion.base import Candidate
from fusionsdk.fusion.confidence import (
    ConfidenceVote,
    candidate_confidence,
    logprob_confidence,
    strip_confidence,
    verbalized_confidence,
)
from fusionsdk.fusion.consensus import MedoidConsensus
from fusionsdk.fusion.rank import PairwiseRank, parse_preference
from fusionsdk.fusion.similarity import lexical_similarities
from fusionsdk.fusion.synthesize import MixtureOfAgents
from fusionsdk.graph import compile_config
from fusionsdk.providers.base import TokenLogprob
from fusionsdk.testing.scripted import context_of, prompt_of, requests_of, responding_model, scripted
from tests.llama_runtimes import needs_embedded

PRICED = {"prices": {"input_usd_per_mtok": 1000, "output_usd_per_mtok": 1000}}


def fake(*responses: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "fake", "options": {"responses": list(responses), **extra}}


def panel_then(fuse: dict[str, Any], models: dict[str, Any], panel: list[str]) -> dict[str, Any]:
    return {
        "version": 1,
        "models": models,
        "nodes": {"panel": {"kind": "panel", "models": panel}, "fuse": {"kind": "fuse", **fuse}},
        "edges": [["START", "panel"], ["panel", "fuse"], ["fuse", "END"]],
    }


def logprobs(value: float, tokens: int = 3) -> tuple[TokenLogprob, ...]:
    return tuple(TokenLogprob(f"t{i}", value) for i in range(tokens))


# -- confidence ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Paris. Confidence: 80%", 0.8),
        ("Paris\nconfidence: 0.8", 0.8),
        ("Paris (Confidence = 9/10)", 0.9),
        ("**Confidence:** 85 %", 0.85),
        ("Confidence level is 70", 0.7),
        ('{"answer": "Paris", "confidence": 0.9}', 0.9),
        ('{"answer": "Paris", "confidence": "75%"}', 0.75),
        ("I am 90% sure it is Lyon", 0.9),
        ("Confidence: 60%. On reflection, confidence: 30%", 0.3),
        ("Paris", None),
        ("Confidence: 250", None),
        ("I have no confidence in this", None),
    ],
)
def test_verbalized_confidence(text: str, expected: float | None) -> None:
    assert verbalized_confidence(text) == (pytest.approx(expected) if expected is not None else None)


def test_strip_confidence_keeps_answers_and_json() -> None:
    assert strip_confidence("Paris. Confidence: 80%") == "Paris."
    assert strip_confidence("Paris (confidence: 0.9)") == "Paris"
    assert (
        strip_confidence('{"answer": "Paris", "confidence": 0.9}') == '{"answer": "Paris", "confidence": 0.9}'
    )
    assert strip_confidence("Confidence: 80%") == "Confidence: 80%"  # nothing else left


def test_logprob_confidence_is_the_geometric_mean_token_probability() -> None:
    assert logprob_confidence(logprobs(-0.5)) == pytest.approx(math.exp(-0.5))
    assert logprob_confidence(()) is None and logprob_confidence(None) is None
    assert candidate_confidence(Candidate("a", "x. Confidence: 10%", logprobs=logprobs(0.0))) == (
        1.0,
        "logprobs",
    )
    assert candidate_confidence(Candidate("a", "x. Confidence: 10%")) == (pytest.approx(0.1), "verbalized")
    assert candidate_confidence(Candidate("a", "x"), default=0.3) == (0.3, "default")


async def test_confident_minority_beats_unsure_majority_by_logprobs() -> None:
    candidates = [
        Candidate("a", "Paris", logprobs=logprobs(-0.01)),
        Candidate("b", "Lyon", logprobs=logprobs(-3.0)),
        Candidate("c", "Lyon", logprobs=logprobs(-2.5)),
    ]
    result = await ConfidenceVote().fuse("Capital of France?", candidates)
    assert (result.text, result.winner) == ("Paris", "a")
    assert result.scores["a"] == pytest.approx(math.exp(-0.01))
    assert "3 from logprobs" in result.reason


async def test_stated_confidence_votes_and_is_stripped_from_the_answer() -> None:
    candidates = [
        Candidate("a", "Paris. Confidence: 95%"),
        Candidate("b", "Lyon (confidence: 20%)"),
        Candidate("c", "Lyon. Confidence: 0.3"),
    ]
    result = await ConfidenceVote().fuse("q", candidates)
    assert (result.text, result.winner) == ("Paris.", "a")
    assert "2 distinct answers" in result.reason and "3 from verbalized" in result.reason


async def test_without_any_confidence_it_is_a_weighted_majority() -> None:
    candidates = [Candidate("a", "18"), Candidate("b", "The answer is 17"), Candidate("c", "17.")]
    result = await ConfidenceVote({"extract": "number"}).fuse("q", candidates)
    assert result.winner == "b" and "3 from default" in result.reason


async def test_confidence_refuses_no_candidates_and_bad_options() -> None:
    with pytest.raises(FusionError):
        await ConfidenceVote().fuse("q", [])
    with pytest.raises(ConfigError) as err:
        ConfidenceVote({"default_confidence": 2})
    assert err.value.path == "options.default_confidence"


async def test_confidence_in_a_graph_uses_the_backends_logprobs() -> None:
    models = {
        "a": fake("18", logprob=-0.05),
        "b": fake("17", logprob=-2.0),
        "c": fake("17", logprob=-2.5),
    }
    cfg = panel_then({"strategy": "confidence", "options": {"extract": "number"}}, models, ["a", "b", "c"])
    result = await compile_config(cfg).arun("How many?")
    assert result.answer == "18"
    decision = next(d for d in result.decisions if d["type"] == "fuse")
    assert decision["winner"] == "a" and "confidence-weighted" in decision["reason"]


# -- consensus ----------------------------------------------------------------------------------

PARAPHRASES = [
    Candidate("a", "The capital of France is Paris."),
    Candidate("b", "Paris is the capital of France."),
    Candidate("c", "Lyon is a large city in the south of France."),
    Candidate("d", "It is Paris, the capital city of France."),
]


def test_lexical_similarity_is_symmetric_and_bounded() -> None:
    matrix = lexical_similarities(["Paris", "paris", "Lyon", ""])
    assert matrix.shape == (4, 4)
    assert matrix[0, 1] == pytest.approx(1.0) and matrix[0, 2] < 0.5
    assert (matrix == matrix.T).all() and ((matrix >= 0) & (matrix <= 1 + 1e-9)).all()
    jaccard = lexical_similarities(["a b c", "b c d"], "word_jaccard")
    assert jaccard[0, 1] == pytest.approx(0.5)


@pytest.mark.parametrize("options", [{}, {"lexical": "word_jaccard"}, {"embedder": "fake"}])
async def test_consensus_picks_the_answer_closest_to_the_others(options: dict[str, Any]) -> None:
    result = await MedoidConsensus(options).fuse("Capital of France?", PARAPHRASES)
    assert result.winner in {"a", "b", "d"}
    assert result.scores["c"] < result.scores[result.winner]
    assert "medoid of 4 distinct answers" in result.reason


async def test_consensus_counts_repeated_answers_and_weights() -> None:
    candidates = [
        Candidate("a", "cats purr when content"),
        Candidate("b", "dogs bark at strangers"),
        Candidate("c", "dogs bark at strangers"),
    ]
    assert (await MedoidConsensus().fuse("q", candidates)).winner == "b"
    heavy = [Candidate("a", "cats purr when content", weight=5.0), *candidates[1:]]
    assert (await MedoidConsensus().fuse("q", heavy)).winner == "a"


async def test_consensus_refuses_unknown_embedder_and_no_candidates() -> None:
    with pytest.raises(ConfigError) as err:
        MedoidConsensus({"embedder": "no-such-embedder"})
    assert err.value.path == "options.embedder"
    with pytest.raises(FusionError):
        await MedoidConsensus().fuse("q", [])


async def test_consensus_in_a_graph() -> None:
    models = {
        "a": fake("The capital of France is Paris."),
        "b": fake("Paris is the capital of France."),
        "c": fake("Lyon, I think."),
    }
    result = await compile_config(panel_then({"strategy": "consensus"}, models, ["a", "b", "c"])).arun("q")
    assert "Paris" in result.answer


# -- rank ---------------------------------------------------------------------------------------


def prefers(word: str) -> Any:
    """A judge that prefers the answer containing ``word`` (and answers "tie" otherwise)."""

    def reply(prompt: str) -> str:
        first = prompt.split("Answer 1:")[1].split("Answer 2:")[0]
        second = prompt.split("Answer 2:")[1].split("Which answer")[0]
        if (word in first) == (word in second):
            return "tie"
        return "1" if word in first else "2"

    return reply


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("1", "a"),
        ("2", "b"),
        ("Answer 2 is better.", "b"),
        ("Tie", "tie"),
        ("both equal", "tie"),
        ("hmm", None),
    ],
)
def test_parse_preference(reply: str, expected: str | None) -> None:
    assert parse_preference(reply) == expected


async def test_rank_judges_both_orders_and_the_preferred_minority_wins() -> None:
    judge = responding_model("judge", prefers("Paris"), **PRICED)
    candidates = [
        Candidate("a", "Lyon"),
        Candidate("b", "Lyon."),
        Candidate("c", "Paris"),
        Candidate("d", "Nice"),
    ]
    result = await PairwiseRank({"judge": "judge"}).fuse("Capital?", candidates, context_of(judge))
    assert (result.text, result.winner) == ("Paris", "c")
    requests = requests_of(judge)
    assert len(requests) == 6  # 3 distinct answers: 3 pairs, both orders
    shown = {
        (p.split("Answer 1:")[1].split()[0], p.split("Answer 2:")[1].split()[0])
        for p in map(prompt_of, requests)
    }
    assert shown == {(x, y) for x in ("Lyon", "Paris", "Nice") for y in ("Lyon", "Paris", "Nice") if x != y}
    assert result.scores["c"] > result.scores["a"] == result.scores["b"]
    assert result.usage["total_tokens"] > 0 and result.cost_usd > 0
    assert "compared 3 pairs of 3 distinct answers in both orders" in result.reason


async def test_a_position_biased_judge_cancels_out() -> None:
    judge = scripted("judge", "1")  # always prefers whatever is shown first
    candidates = [Candidate("a", "Lyon"), Candidate("b", "Paris"), Candidate("c", "Paris")]
    result = await PairwiseRank({"judge": "judge"}).fuse("q", candidates, context_of(judge))
    assert result.winner == "b"  # all ties: the most voted answer
    assert result.scores["a"] == pytest.approx(result.scores["b"])


async def test_unparsable_judge_replies_count_as_ties() -> None:
    judge = scripted("judge", "I cannot decide between these.")
    candidates = [Candidate("a", "Lyon"), Candidate("b", "Paris"), Candidate("c", "Paris")]
    result = await PairwiseRank({"judge": "judge"}).fuse("q", candidates, context_of(judge))
    assert result.winner == "b" and "2 unparsable replies counted as ties" in result.reason


async def test_rank_bounds_the_pairs_to_the_most_voted_answers() -> None:
    judge = responding_model("judge", prefers("six"))
    texts = ["one", "one", "one", "two", "two", "three", "four", "five", "six"]
    candidates = [Candidate(f"m{i}", t) for i, t in enumerate(texts)]
    result = await PairwiseRank({"judge": "judge", "max_pairs": 3}).fuse("q", candidates, context_of(judge))
    assert len(requests_of(judge)) == 6  # the 3 most voted answers: 3 pairs, both orders
    assert "3 least-voted answers not ranked" in result.reason
    assert result.winner == "m0" and "m8" not in result.scores


async def test_rank_single_answer_needs_no_judge_call_but_a_known_judge() -> None:
    judge = scripted("judge", "1")
    result = await PairwiseRank({"judge": "judge"}).fuse("q", [Candidate("solo", "Paris")], context_of(judge))
    assert (result.text, result.winner) == ("Paris", "solo") and not requests_of(judge)
    with pytest.raises(FusionError, match="judge model 'judge' is not among the graph's models"):
        await PairwiseRank({"judge": "judge"}).fuse("q", [Candidate("solo", "Paris")], context_of())
    with pytest.raises(FusionError):
        await PairwiseRank({"judge": "judge"}).fuse("q", [], context_of(judge))
    with pytest.raises(ConfigError) as err:
        PairwiseRank({})
    assert err.value.path == "options.judge"


async def test_rank_in_a_graph_adds_judge_usage() -> None:
    models = {"a": fake("Paris"), "b": fake("Lyon"), "judge": fake("2")}
    cfg = panel_then({"strategy": "rank", "options": {"judge": "judge"}}, models, ["a", "b"])
    result = await compile_config(cfg).arun("Capital?")
    fuse = next(step for step in result.trace if step["node"] == "fuse")
    assert fuse["usage"]["total_tokens"] > 0  # the judge's two calls
    assert result.answer in {"Paris", "Lyon"}


# -- synthesize ---------------------------------------------------------------------------------


async def test_synthesize_reads_the_top_k_answers_and_streams_tokens() -> None:
    writer = scripted("writer", "Paris is the capital of France.", **PRICED)
    emitted: list[str] = []
    candidates = [
        Candidate("a", "Paris"),
        Candidate("b", "paris"),
        Candidate("c", "Lyon"),
        Candidate("d", "Nice"),
        Candidate("e", "   "),
    ]
    result = await MixtureOfAgents({"aggregator": "writer", "top_k": 2}).fuse(
        "Capital of France?", candidates, context_of(writer, emitted=emitted)
    )
    assert result.text == "Paris is the capital of France." and result.winner is None
    assert "".join(emitted) == result.text and len(emitted) > 1
    (request,) = requests_of(writer)
    system, user = request.messages
    assert user == {"role": "user", "content": "Capital of France?"}
    assert "synthesize these responses" in system["content"]
    assert "1. Paris\n2. Lyon" in system["content"] and "Nice" not in system["content"]
    assert result.scores == {"a": 1.0, "c": 1.0}
    assert result.usage["total_tokens"] > 0 and result.cost_usd > 0


async def test_synthesize_layers_let_the_proposers_refine_first() -> None:
    p1 = scripted("p1", "Refined: Paris")
    p2 = scripted("p2", "Refined: Paris, on the Seine")
    writer = scripted("writer", "Paris.")
    options = {"aggregator": "writer", "layers": 3, "proposers": ["p1", "p2"]}
    result = await MixtureOfAgents(options).fuse(
        "Capital?", [Candidate("a", "Paris"), Candidate("b", "Lyon")], context_of(p1, p2, writer)
    )
    assert result.text == "Paris." and result.details["layers"] == 3
    assert len(requests_of(p1)) == len(requests_of(p2)) == 2  # two extra layers
    first, second = requests_of(p1)
    assert "1. Paris\n2. Lyon" in first.messages[0]["content"]
    assert "1. Refined: Paris\n2. Refined: Paris, on the Seine" in second.messages[0]["content"]
    assert "Refined: Paris, on the Seine" in requests_of(writer)[0].messages[0]["content"]
    assert result.usage["total_tokens"] > 0  # 4 proposer calls and the aggregator's
    assert "over 3 layers" in result.reason


async def test_synthesize_bad_inputs() -> None:
    with pytest.raises(ConfigError) as err:
        MixtureOfAgents({"aggregator": "w", "layers": 2})
    assert err.value.path == "options" and "needs proposers" in str(err.value)
    with pytest.raises(FusionError, match="model 'w' is not among"):
        await MixtureOfAgents({"aggregator": "w"}).fuse("q", [Candidate("a", "x")], context_of())
    with pytest.raises(FusionError, match="model 'p' is not among"):
        await MixtureOfAgents({"aggregator": "w", "layers": 2, "proposers": ["p"]}).fuse(
            "q", [Candidate("a", "x")], context_of(scripted("w", "y"))
        )
    with pytest.raises(FusionError):
        await MixtureOfAgents({"aggregator": "w"}).fuse("q", [], context_of(scripted("w", "y")))


async def test_synthesize_streams_through_the_graph_once() -> None:
    models = {"a": fake("Paris"), "b": fake("Lyon"), "writer": fake("Paris is the capital.")}
    cfg = panel_then({"strategy": "synthesize", "options": {"aggregator": "writer"}}, models, ["a", "b"])
    events = [e async for e in compile_config(cfg).astream("Capital?")]
    tokens = [e.text for e in events if e.type == "token" and e.node == "fuse"]
    answers = [e.text for e in events if e.type == "answer"]
    assert "".join(tokens) == "Paris is the capital." and len(tokens) > 1
    assert answers == ["Paris is the capital."]
    assert events[-1].result is not None and events[-1].result.answer == "Paris is the capital."


async def test_vote_strategies_emit_no_tokens_the_fuse_node_emits_the_answer() -> None:
    models = {"a": fake("Paris"), "b": fake("Paris"), "c": fake("Lyon")}
    for strategy in ("confidence", "consensus"):
        cfg = panel_then({"strategy": strategy}, models, ["a", "b", "c"])
        events = [e async for e in compile_config(cfg).astream("q")]
        assert [e.text for e in events if e.type == "answer"] == ["Paris"]
        assert not [e for e in events if e.type == "token"]


# -- the embedded models ------------------------------------------------------------------------

EMBEDDED = {
    "smol": {"provider": "llamacpp", "model": "smollm2-135m-instruct"},
    "gemma": {"provider": "llamacpp", "model": "gemma3-270m"},
}


@pytest.mark.integration
@needs_embedded
async def test_synthesize_end_to_end_on_the_embedded_models() -> None:
    cfg = {
        "version": 1,
        "models": EMBEDDED,
        "nodes": {
            "panel": {"kind": "panel", "models": ["smol", "gemma"], "max_tokens": 24, "temperature": 0},
            "fuse": {
                "kind": "fuse",
                "strategy": "synthesize",
                "options": {"aggregator": "gemma", "max_tokens": 24, "temperature": 0},
            },
        },
        "edges": [["START", "panel"], ["panel", "fuse"], ["fuse", "END"]],
    }
    events = [e async for e in compile_config(cfg).astream("What is the capital of France?")]
    result = events[-1].result
    assert result is not None and result.answer.strip()
    assert "".join(e.text for e in events if e.type == "token" and e.node == "fuse") == result.answer
    fuse = next(step for step in result.trace if step["node"] == "fuse")
    assert 0 < fuse["usage"]["completion_tokens"] <= 24
