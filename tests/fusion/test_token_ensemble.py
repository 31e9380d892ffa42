"""token_ensemble: the union of top-k proposals over different vocabularies, on fake vocabularies;
then the real embedded SmolLM2 and Gemma 3 writing one answer together through a graph."""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

import numpy as np
import pytest

from fusionsdk.errors import ConfigError, PrivacyViolation
from fusionsdk.fusion._token_session import TokenSession
from fusionsdk.fusion._token_union import (
    END,
    Proposal,
    StopGate,
    choose,
    end_of_answer,
    score_candidates,
    start_key,
)
from fusionsdk.fusion.base import FusionContext
from fusionsdk.fusion.token_ensemble import TokenEnsemble, _decode
from fusionsdk.graph import compile_config
from fusionsdk.providers.hub import ModelHub
from fusionsdk.registry import PluginKind, default_registry
from fusionsdk.testing import fake_model
from tests.llama_runtimes import RUNTIMES, needs_embedded

# -- fake vocabularies ----------------------------------------------------------------------------


class FakeVocabulary:
    """A tokenizer by greedy longest match (every character of the texts used is a token)."""

    EOS = 0

    def __init__(self, tokens: list[str]) -> None:
        chars = sorted({c for t in tokens for c in t} | set("Paris.Lyon \n"))
        self.tokens = ["<eos>", *dict.fromkeys([*tokens, *chars])]
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    def tokenize(self, text: str) -> list[int]:
        ids, i = [], 0
        while i < len(text):
            best = max((t for t in self.ids if t != "<eos>" and text.startswith(t, i)), key=len)
            ids.append(self.ids[best])
            i += len(best)
        return ids

    def proposal(self, model: str, probs: dict[str | None, float], weight: float = 1.0) -> Proposal:
        """A proposal from ``{text or END: probability}``; other tokens share what is left."""
        top = tuple(sorted(probs.items(), key=lambda item: -item[1]))

        def probability(text: str) -> float:
            first = self.tokens[self.tokenize(text)[0]]
            return probs.get(first, 0.001)

        return Proposal(model, top, probs.get(END, 0.0), probability, weight)


CHAT = FakeVocabulary(["Pa", "ris", "Paris", "Ly", "on", "The"])
BASE = FakeVocabulary([" Paris", " Lyon", " Par", "\n\n", " The"])


def test_union_scores_every_proposed_text_in_every_vocabulary() -> None:
    chat = CHAT.proposal("chat", {"Paris": 0.5, "Ly": 0.3, "The": 0.1})
    base = BASE.proposal("base", {" Lyon": 0.6, " Par": 0.3})
    scored = dict(score_candidates([chat, base]))
    assert set(scored) == {"Paris", "Ly", "The", " Lyon", " Par"}  # the union of both top-k
    # "Paris" in the base vocabulary starts with "P" (0.001); " Lyon" in the chat one with " ".
    assert scored["Paris"] == pytest.approx((0.5 + 0.001) / 2)
    assert scored[" Lyon"] == pytest.approx((0.001 + 0.6) / 2)
    # "Ly" is the first chat token of "Lyon" but not of " Lyon": texts are compared as written.
    assert scored["Ly"] == pytest.approx((0.3 + 0.001) / 2)


def test_weights_decide_between_the_models() -> None:
    def best(chat_weight: float) -> str | None:
        chat = CHAT.proposal("chat", {"Paris": 0.6, "Ly": 0.2}, weight=chat_weight)
        base = BASE.proposal("base", {" Lyon": 0.7, " Paris": 0.1})
        return choose(score_candidates([chat, base]))

    assert best(1.0) == " Lyon"
    assert best(3.0) == "Paris"


def test_one_model_alone_is_its_own_greedy_choice() -> None:
    only = CHAT.proposal("chat", {"The": 0.4, "Paris": 0.35, END: 0.25})
    assert score_candidates([only])[0] == ("The", pytest.approx(0.4))
    assert choose(score_candidates([CHAT.proposal("chat", {END: 0.6, "Paris": 0.4})])) is END


def test_end_tokens_and_stop_sequences_are_one_candidate() -> None:
    chat = CHAT.proposal("chat", {END: 0.5, ".": 0.45})  # stops with its end-of-turn token
    base = BASE.proposal("base", {"\n\n": 0.5, ".": 0.45})  # stops with a blank line
    scored = score_candidates([chat, base], ends=lambda text: text == "\n\n")
    assert scored[0] == (END, pytest.approx((0.5 + 0.5) / 2))
    assert "\n\n" not in dict(scored)
    # Were the blank line just text, the two ways to stop would split the vote and "." win.
    assert choose(score_candidates([chat, base])) == "."


def test_at_the_start_leading_whitespace_does_not_separate_candidates() -> None:
    chat = CHAT.proposal("chat", {"Paris": 0.5, "The": 0.3})
    base = BASE.proposal("base", {" Paris": 0.6, " The": 0.2})
    scored = dict(score_candidates([chat, base], at_start=True))
    assert scored["Paris"] == pytest.approx((0.5 + 0.6) / 2)
    assert scored["The"] == pytest.approx((0.3 + 0.2) / 2)
    assert start_key(" Paris") == "Paris" and start_key("\n") == "\n"


def test_ties_keep_the_order_of_proposal() -> None:
    chat = CHAT.proposal("chat", {"Ly": 0.5, "Paris": 0.5})
    assert [c for c, _ in score_candidates([chat])] == ["Ly", "Paris"]


def test_choose_with_temperature_draws_among_the_candidates_only() -> None:
    scored = [("Paris", 0.6), ("Lyon", 0.3), (END, 0.1)]
    assert choose(scored) == "Paris"
    assert choose([]) is END
    draws = [choose(scored, 1.0, random.Random(seed)) for seed in range(200)]
    assert set(draws) <= {"Paris", "Lyon", END} and draws.count("Paris") > draws.count("Lyon") > 0
    assert draws == [choose(scored, 1.0, random.Random(seed)) for seed in range(200)]
    assert choose(scored, 0.01, random.Random(1)) == "Paris"  # a low temperature is nearly greedy


def test_stop_gate_holds_back_what_may_start_a_stop_sequence() -> None:
    gate = StopGate(["\n\n", "\nQuestion:"])
    answers = ["Par", "Paris", "Paris\n", "Paris\nQue", "Paris\nQuest", "Paris\nQuestion:"]
    pieces = [gate.release(a) for a in answers[:-1]] + [gate.release(answers[-1], finished=True)]
    assert pieces == ["Par", "is", "", "", "", ""]
    assert gate.final("Paris\nQuestion: x") == "Paris"
    assert gate.ends("Paris\n", "\n") and not gate.ends("Paris", ".\n\n")
    assert end_of_answer("a\n\nb\nQuestion:", gate.stops) == 1 and end_of_answer("ab", gate.stops) is None


def test_stop_gate_streams_the_stripped_answer() -> None:
    gate = StopGate([])
    pieces = [gate.release(a) for a in [" ", " Blue", " Blue ", " Blue sky"]]
    pieces.append(gate.release(" Blue sky \n", finished=True))
    assert "".join(pieces) == "Blue sky" == gate.final(" Blue sky \n")
    assert pieces[0] == "" and pieces[2] == ""  # whitespace waits for what follows it


# -- the ensemble loop, with llama.cpp replaced by fake engines -----------------------------------


class FakeEngine:
    """Stands in for a model's :class:`~fusionsdk.providers.base.TokenScorer`: a vocabulary and a
    model that wants to write ``target``.

    The next token's probability is highest for the longest token that continues the target,
    lower for shorter ones; once the target is written (or the text left it) the model ends.
    """

    def __init__(self, vocabulary: FakeVocabulary, target: str, prompt: int = 3) -> None:
        self.vocabulary = vocabulary
        self.target = target
        self.prompt = prompt
        self.end_tokens = np.array([FakeVocabulary.EOS])
        self.context_size = 64
        self.evaluated: list[list[int]] = []

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(self.vocabulary.tokens[t] for t in tokens).encode()

    def piece(self, token: int) -> str | None:
        return self.vocabulary.tokens[token]

    def tokenize(self, text: str) -> list[int]:
        return self.vocabulary.tokenize(text)

    def probabilities(self, context: list[int]) -> Any:
        self.evaluated.append(list(context))
        written = self.detokenize(context[self.prompt :]).decode()
        weights = np.full(len(self.vocabulary.tokens), 0.01)
        left = self.target[len(written) :] if self.target.startswith(written) else ""
        if not left:
            weights[FakeVocabulary.EOS] = 10.0
        for token, text in enumerate(self.vocabulary.tokens):
            if token and left.startswith(text):
                weights[token] = 2.0 * len(text)
        return weights / weights.sum()


def ensemble(
    *members: tuple[str, FakeEngine, float], stops: tuple[str, ...] = ()
) -> tuple[str, list[str], list[TokenSession]]:
    """Run the ensemble loop on fake engines: the answer, the streamed pieces, the sessions."""
    sessions = [
        TokenSession(name, engine, [1] * engine.prompt, weight)  # type: ignore[arg-type]
        for name, engine, weight in members
    ]
    options = TokenEnsemble.Options(models=[name for name, _, _ in members], max_tokens=20, top_k=4)
    pieces: list[str] = []
    outcome = _decode(sessions, StopGate(stops), options, pieces.append, threading.Event())
    return outcome.text, pieces, sessions


def test_models_with_different_tokenizers_write_one_answer() -> None:
    chat = FakeEngine(CHAT, "Paris.")  # a chat model: no leading space, ends with "."
    base = FakeEngine(BASE, " Paris\n\n")  # a completion model: " Paris", then a blank line
    text, pieces, (chat_session, base_session) = ensemble(
        ("chat", chat, 1.0), ("base", base, 2.0), stops=("\n\n",)
    )
    assert text == "Paris" and "".join(pieces) == "Paris"
    # Each model holds the answer in its own tokens and its own leading whitespace.
    assert [CHAT.tokens[t] for t in chat_session.answer] == ["Paris"]
    assert [BASE.tokens[t] for t in base_session.answer] == [" Paris"]
    assert base_session.text == " Paris" and chat_session.text == "Paris"


def test_a_text_foreign_to_a_model_is_retokenised_in_its_vocabulary() -> None:
    chat = FakeEngine(CHAT, "Paris.")  # "Paris" is one chat token
    split = FakeEngine(FakeVocabulary([" Par", "is"]), " Paris.")  # two tokens here
    text, _, (_, split_session) = ensemble(("chat", chat, 1.0), ("split", split, 1.0))
    assert text == "Paris."
    # "Paris" is not a token of the second model: it takes " Paris" (its leading space, as its
    # " Par" was likelier than "P") in its own tokens.
    assert [split.vocabulary.tokens[t] for t in split_session.answer] == [" Par", "is", "."]
    assert split_session.text == " Paris."
    # Each step fed the prompt and the answer so far in the model's own tokens.
    answers = [split.detokenize(context[3:]).decode() for context in split.evaluated]
    assert answers == ["", " Paris", " Paris."]


def test_an_ensemble_of_one_model_with_itself_is_that_model() -> None:
    alone, _, _ = ensemble(("chat", FakeEngine(CHAT, "The Lyon."), 1.0))
    twice, _, _ = ensemble(
        ("a", FakeEngine(CHAT, "The Lyon."), 1.0), ("b", FakeEngine(CHAT, "The Lyon."), 1.0)
    )
    assert alone == twice == "The Lyon."


# -- options and errors ---------------------------------------------------------------------------


def test_registered_as_a_fuser_that_needs_no_candidates() -> None:
    assert default_registry().get(PluginKind.FUSERS, "token_ensemble") is TokenEnsemble
    assert TokenEnsemble.needs_candidates is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "models"),
        ({"models": ["a", "a"]}, "listed twice"),
        ({"models": ["a"], "weights": {"b": 1}}, "not in models"),
        ({"models": ["a"], "weights": {"a": -1}}, "0 or more"),
        ({"models": ["a", "b"], "weights": {"a": 0, "b": 0}}, "weight above 0"),
        ({"models": ["a"], "top_k": 0}, "top_k"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TokenEnsemble(options)


async def test_a_model_that_is_not_embedded_llama_cpp_is_named() -> None:
    fuser = TokenEnsemble({"models": ["judge"]})
    context = FusionContext(models={"judge": fake_model("judge", ["Paris"])})
    with pytest.raises(ConfigError, match=r"model 'judge' uses provider 'fake'") as caught:
        await fuser.fuse("What is the capital of France?", [], context)
    assert caught.value.path == "options.models[0]"
    with pytest.raises(ConfigError, match=r"unknown model 'gpt' \(known: judge\)"):
        await TokenEnsemble({"models": ["gpt"]}).fuse("q", [], context)


async def test_the_adapter_applies_the_privacy_gate_before_loading_a_model() -> None:
    spec = {"provider": "llamacpp", "model": "smollm2-135m-instruct", "locality": "hosted"}
    hub = ModelHub.from_dict({"version": 1, "models": {"remote": spec}})
    assert hub["remote"].scores_tokens and not fake_model("judge", ["x"]).scores_tokens
    context = FusionContext(models={"remote": hub["remote"]}, metadata={"sensitive": True})
    with pytest.raises(PrivacyViolation):
        await TokenEnsemble({"models": ["remote"]}).fuse("What is the capital of France?", [], context)


async def test_the_fuse_node_runs_it_with_no_candidates_before_it() -> None:
    graph = compile_config(
        {
            "version": 1,
            "models": {"judge": {"provider": "fake"}},
            "nodes": {
                "fuse": {"kind": "fuse", "strategy": "token_ensemble", "options": {"models": ["judge"]}}
            },
            "edges": [["START", "fuse"], ["fuse", "END"]],
        }
    )
    with pytest.raises(ConfigError, match="needs embedded llama.cpp models"):  # not "no candidates"
        await graph.arun("What is the capital of France?")


# -- the embedded models --------------------------------------------------------------------------

EMBEDDED = {
    "smollm2": {"provider": "llamacpp", "model": "smollm2-135m-instruct"},
    "smollm2_twin": {"provider": "llamacpp", "model": "smollm2-135m-instruct"},
    "gemma3": {"provider": "llamacpp", "model": "gemma3-270m"},
    "gemma3_twin": {"provider": "llamacpp", "model": "gemma3-270m"},
}
QUESTION = "What is the capital of France?"
needs_llama = needs_embedded


def ensemble_graph(models: list[str], runtime: str = "auto", **options: Any) -> Any:
    specs = {name: {**spec, "options": {"runtime": runtime}} for name, spec in EMBEDDED.items()}
    return compile_config(
        {
            "version": 1,
            "models": specs,
            "nodes": {
                "fuse": {
                    "kind": "fuse",
                    "strategy": "token_ensemble",
                    "options": {"models": models, "max_tokens": 24, **options},
                }
            },
            "edges": [["START", "fuse"], ["fuse", "END"]],
        }
    )


@pytest.mark.integration
@pytest.mark.parametrize("runtime", RUNTIMES)
async def test_smollm2_and_gemma3_answer_together(runtime: str) -> None:
    result = await ensemble_graph(["smollm2", "gemma3"], runtime).arun(QUESTION)
    assert "Paris" in result.answer
    decision = next(d for d in result.decisions if d["type"] == "fuse")
    assert decision["strategy"] == "token_ensemble" and set(decision["scores"]) == {"smollm2", "gemma3"}
    assert result.usage["prompt_tokens"] > 0


@pytest.mark.integration
@needs_llama
async def test_tokens_stream_as_token_events() -> None:
    graph = ensemble_graph(["smollm2", "gemma3"], weights={"smollm2": 2.0})
    tokens, answer = [], None
    async for event in graph.astream("Name a primary colour, then explain it in one sentence."):
        if event.type == "token":
            assert event.node == "fuse"
            tokens.append(event.text)
        elif event.type == "result":
            answer = event.result.answer
    assert len(tokens) > 1 and answer and "".join(tokens) == answer


@pytest.mark.integration
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(("model", "twin"), [("smollm2", "smollm2_twin"), ("gemma3", "gemma3_twin")])
async def test_a_model_ensembled_with_itself_answers_as_it_does_alone(
    model: str, twin: str, runtime: str
) -> None:
    graph = ensemble_graph([model, twin], runtime)
    alone = await graph.hub[model].acomplete(
        QUESTION, max_tokens=24, temperature=0, extra={"repeat_penalty": 1.0}
    )
    assert (await graph.arun(QUESTION)).answer == alone.text.strip()
    assert (await ensemble_graph([model], runtime).arun(QUESTION)).answer == alone.text.strip()


@pytest.mark.integration
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_next_token_probabilities_cover_the_likely_tokens(runtime: str) -> None:
    """xllamacpp reads the top ``next_token_candidates`` tokens (the rest are 0), llama-cpp-python
    the whole distribution; both put the same token first with nearly the same probability."""
    import numpy as np

    graph = ensemble_graph(["smollm2"], runtime)
    messages = [{"role": "user", "content": QUESTION}]
    scorer = graph.hub["smollm2"].provider.token_scorer(messages)
    with scorer:
        probs = scorer.probabilities(scorer.prompt)
        again = scorer.probabilities(list(scorer.prompt))
        assert again is probs  # the same context is evaluated once
        best = int(np.argmax(probs))
        assert scorer.piece(best) == "The" and 0.3 < probs[best] < 0.7
        assert 0.9 < probs.sum() <= 1.0 + 1e-6
        nonzero = int((probs > 0).sum())
        assert nonzero == 1000 if runtime == "xllamacpp" else nonzero > 40_000
        assert scorer.tokenize(" Paris") and scorer.detokenize(scorer.tokenize(" Paris")) == b" Paris"
        assert set(scorer.end_tokens.tolist()) >= {2}  # <|im_end|>
        assert all(scorer.piece(int(t)) != "<|im_start|>" for t in np.argsort(-probs)[:1000])


@pytest.mark.parametrize("candidates", [0, -1])
def test_bad_next_token_candidates_are_refused(candidates: int) -> None:
    with pytest.raises(ConfigError, match="next_token_candidates"):
        ModelHub.from_dict(
            {
                "version": 1,
                "models": {"s": {**EMBEDDED["smollm2"], "options": {"next_token_candidates": candidates}}},
            }
        )["s"]


@pytest.mark.integration
@needs_llama
async def test_a_cancelled_run_frees_the_models_and_concurrent_runs_agree() -> None:
    graph = ensemble_graph(["smollm2", "gemma3"], max_tokens=200)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(graph.arun("Write a long story about a dragon."), timeout=0.5)
    # The models are free again: the ensemble and a plain call on one of them run side by side.
    fused, plain = await asyncio.gather(
        ensemble_graph(["smollm2", "gemma3"]).arun(QUESTION),
        graph.hub["smollm2"].acomplete(QUESTION, max_tokens=16),
    )
    assert "Paris" in fused.answer and "Paris" in plain.text
