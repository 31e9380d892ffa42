"""The conformance kit applied to every built-in plugin fusionsdk registers.

Each built-in either has a conformance test class here or sits in :data:`SKIPPED` with the reason;
:func:`test_every_builtin_is_covered_or_skipped_with_a_reason` fails when a new built-in is
registered in pyproject.toml without either.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest

import fusionsdk
from fusionsdk.answers import (
    ChoiceAnswer,
    CodeOutputAnswer,
    JsonFieldAnswer,
    MathAnswer,
    NumberAnswer,
    PythonLiteralAnswer,
    TextAnswer,
)
from fusionsdk.arbiters.confidence import ConfidenceArbiter
from fusionsdk.arbiters.debate import DebateArbiter
from fusionsdk.arbiters.escalate import EscalateArbiter
from fusionsdk.arbiters.human import HumanArbiter
from fusionsdk.arbiters.judge import JudgeArbiter
from fusionsdk.arbiters.ladder import EscalationLadder
from fusionsdk.config.models import ModelSpec
from fusionsdk.errors import ProviderUnavailable
from fusionsdk.fusion.base import FusionContext
from fusionsdk.fusion.confidence import ConfidenceVote
from fusionsdk.fusion.consensus import MedoidConsensus
from fusionsdk.fusion.learned_vote import LearnedVote
from fusionsdk.fusion.majority_vote import MajorityVote
from fusionsdk.fusion.rank import PairwiseRank
from fusionsdk.fusion.synthesize import MixtureOfAgents
from fusionsdk.fusion.weighted_vote import WeightedVote
from fusionsdk.integrations.langchain_provider import LangChainProvider
from fusionsdk.memory.base import MemoryStore
from fusionsdk.memory.embedders.hashing import HashingEmbedder
from fusionsdk.memory.embedders.llamacpp_embedder import LlamaCppEmbedder
from fusionsdk.memory.embedders.minilm import MiniLMEmbedder
from fusionsdk.memory.stores.chroma import EphemeralChromaStore, PersistentChromaStore
from fusionsdk.providers.base import CompletionRequest, Provider
from fusionsdk.providers.llamacpp import LlamaCppProvider
from fusionsdk.providers.replay import ReplayProvider
from fusionsdk.registry import Registry
from fusionsdk.routing.balance import BalanceRouter
from fusionsdk.routing.base import RouteRequest
from fusionsdk.routing.learned import LearnedRouter
from fusionsdk.routing.llm import LLMRouter
from fusionsdk.routing.privacy_router import PrivacyRouter
from fusionsdk.routing.rules import RulesRouter
from fusionsdk.routing.semantic import SemanticRouter
from fusionsdk.settings import Settings
from fusionsdk.testing import (
    AnswerTypeConformance,
    ArbiterConformance,
    CommandConformance,
    EmbedderConformance,
    FakeEmbedder,
    FakeProvider,
    FuserConformance,
    MemoryStoreConformance,
    PluginConformance,
    ProviderConformance,
    RouterConformance,
    fake_model,
)
from tests.llama_runtimes import needs_embedded, needs_llama_cpp_python

_SERVER = "talks to a served model over HTTP; tests/providers runs it against loopback test servers"
_NODE = "a graph node kind, built by the graph compiler with a NodeContext; covered by the graph tests"

#: Built-ins the kit does not run against here, and why. Keys are (kind, entry-point name).
SKIPPED: dict[tuple[str, str], str] = {
    ("engines", "in_process"): (
        "an evaluation executor with no plugin conformance kit yet; "
        "tests/eval/test_engines.py checks it gives the same figures as Ray"
    ),
    ("engines", "ray"): (
        "starts a local Ray cluster (tens of seconds); tests/eval/test_engines.py covers it "
        "behind the ray marker"
    ),
    ("fusers", "token_ensemble"): (
        "generates with embedded llama.cpp models and needs no candidates; "
        "tests/fusion/test_token_ensemble.py covers it"
    ),
    ("fusers", "field_vote"): (
        "fuses JSON objects and refuses plain-text candidates such as the kit's; "
        "tests/fusion/test_structured.py covers it"
    ),
    ("providers", "litellm"): "calls hosted APIs through LiteLLM; tests/providers covers it offline",
    ("providers", "openai_compatible"): _SERVER,
    ("providers", "vllm"): _SERVER,
    ("providers", "sglang"): _SERVER,
    ("providers", "llamacpp_server"): _SERVER,
    ("providers", "ollama"): _SERVER,
    ("providers", "trtllm"): _SERVER,
    ("providers", "tgi_messages"): _SERVER,
    ("providers", "tgi"): _SERVER,
    ("providers", "triton"): _SERVER,
    **{
        ("scorers", name): "ScorerConformance subclasses in tests/eval/test_scorers.py, with examples"
        for name in ("numeric", "exact", "choice", "python_literal", "math", "bleu", "rouge")
    },
    ("nodes", "agent"): _NODE,
    ("nodes", "router"): _NODE,
    ("nodes", "panel"): _NODE,
    ("nodes", "fuse"): _NODE,
    ("nodes", "arbitrate"): _NODE,
    ("nodes", "tool"): _NODE,
    ("nodes", "human"): _NODE,
    ("nodes", "subgraph"): _NODE,
    ("nodes", "cascade"): _NODE,
    ("nodes", "retrieve"): _NODE,
    ("nodes", "cite"): _NODE,
    ("nodes", "remember"): _NODE,
    ("embedders", "litellm"): (
        "calls hosted APIs through LiteLLM; tests/memory/test_embedders.py runs the kit against a loopback stub"
    ),
    ("memory", "chroma_server"): (
        "needs a running Chroma server; tests/memory/test_server_store.py runs the kit against `chroma run`"
    ),
}

# -- answer types ---------------------------------------------------------------------------------
# tests/answers holds the per-format tables; these run the kit with a few examples each.


class TestTextAnswer(AnswerTypeConformance):
    plugin_class = TextAnswer
    examples: ClassVar[list[tuple[str, str | None]]] = [("  Paris. ", "paris"), ("", None)]
    different: ClassVar[list[tuple[str, str]]] = [("Paris", "Lyon")]


class TestFinalTextAnswer(AnswerTypeConformance):
    plugin_class = TextAnswer
    plugin_options: ClassVar[dict[str, Any]] = {"final": True}
    equivalent: ClassVar[list[tuple[str, str]]] = [('{"answer": "Paris"}', "The answer is paris.")]


class TestNumberAnswer(AnswerTypeConformance):
    plugin_class = NumberAnswer
    examples: ClassVar[list[tuple[str, str | None]]] = [('{"reasoning": "9 * 2", "answer": "$18"}', "18")]
    equivalent: ClassVar[list[tuple[str, str]]] = [("so 18.0", "The answer is 18."), ("٣", "3")]
    different: ClassVar[list[tuple[str, str]]] = [("18", "17")]


class TestChoiceAnswer(AnswerTypeConformance):
    plugin_class = ChoiceAnswer
    examples: ClassVar[list[tuple[str, str | None]]] = [("The answer is (b).", "B")]
    equivalent: ClassVar[list[tuple[str, str]]] = [('{"answer": "C"}', "Answer: (C)")]
    different: ClassVar[list[tuple[str, str]]] = [("A", "B")]


class TestJsonFieldAnswer(AnswerTypeConformance):
    plugin_class = JsonFieldAnswer
    examples: ClassVar[list[tuple[str, str | None]]] = [("no json here", None)]
    equivalent: ClassVar[list[tuple[str, str]]] = [('{"answer": "Paris"}', '{"r": "\\x", "answer": "paris"}')]


class TestMathAnswer(AnswerTypeConformance):
    plugin_class = MathAnswer
    examples: ClassVar[list[tuple[str, str | None]]] = [("so $\\boxed{\\dfrac{1}{2}}$.", "\\frac{1}{2}")]
    equivalent: ClassVar[list[tuple[str, str]]] = [
        ("The answer is 1/2.", "$\\frac{1}{2}$"),
        ("0.5", "\\boxed{\\frac12}"),
        ("x^2+2x+1", "(x+1)^2"),
    ]
    different: ClassVar[list[tuple[str, str]]] = [("\\boxed{41}", "42"), ("x^2+2x+2", "(x+1)^2")]


class TestPythonLiteralAnswer(AnswerTypeConformance):
    plugin_class = PythonLiteralAnswer
    examples: ClassVar[list[tuple[str, str | None]]] = [("{2, 1}", "{1, 2}"), ("print('hi')", None)]
    equivalent: ClassVar[list[tuple[str, str]]] = [
        ('{"reasoning": "...", "answer": "\'bcksrutq\'"}', '"bcksrutq"'),
        ("```python\nassert f('x') == [1, 2.0]\n```", "[1,2]"),
    ]
    different: ClassVar[list[tuple[str, str]]] = [("(1, 2)", "[1, 2]"), ("True", "1")]


class TestCodeOutputAnswer(AnswerTypeConformance):
    plugin_class = CodeOutputAnswer
    equivalent: ClassVar[list[tuple[str, str]]] = [("Output:\n```\nhello  \nworld\n```", "hello\nworld")]
    different: ClassVar[list[tuple[str, str]]] = [("hello", "Hello")]


# -- fusers ---------------------------------------------------------------------------------------


class TestMajorityVote(FuserConformance):
    plugin_class = MajorityVote


class TestMajorityVoteOnNumbers(FuserConformance):
    plugin_class = MajorityVote
    plugin_options: ClassVar[dict[str, Any]] = {"extract": "number"}


class TestWeightedVote(FuserConformance):
    plugin_class = WeightedVote
    plugin_options: ClassVar[dict[str, Any]] = {"weights": {"alpha": 2.0, "gamma": 0.5}, "integer_bonus": 0.1}


class TestLearnedVote(FuserConformance):
    plugin_class = LearnedVote
    plugin_options: ClassVar[dict[str, Any]] = {"coefficients": {"alpha": 1.5}, "agreement": [0.0, 0.4]}


# -- arbiters -------------------------------------------------------------------------------------


class TestJudgeArbiterWithoutJudge(ArbiterConformance):
    plugin_class = JudgeArbiter


class TestJudgeArbiterWithFakeJudge(ArbiterConformance):
    plugin_class = JudgeArbiter
    plugin_options: ClassVar[dict[str, Any]] = {"judge": "referee"}

    @pytest.fixture
    def context(self) -> FusionContext:
        return FusionContext(models={"referee": fake_model("referee", ["Answer 1 is best: 1"])})


# -- fusion strategies and arbiters of the "fusion strategies and arbiters" work -------------------


class TestConfidenceVote(FuserConformance):
    plugin_class = ConfidenceVote


class TestMedoidConsensus(FuserConformance):
    plugin_class = MedoidConsensus


class TestMedoidConsensusWithEmbedder(FuserConformance):
    plugin_class = MedoidConsensus
    plugin_options: ClassVar[dict[str, Any]] = {"embedder": "fake"}


class TestPairwiseRankWithFakeJudge(FuserConformance):
    plugin_class = PairwiseRank
    plugin_options: ClassVar[dict[str, Any]] = {"judge": "referee"}

    @pytest.fixture
    def context(self) -> FusionContext:
        return FusionContext(models={"referee": fake_model("referee", ["1"])})


class TestMixtureOfAgentsWithFakeAggregator(FuserConformance):
    plugin_class = MixtureOfAgents
    plugin_options: ClassVar[dict[str, Any]] = {"aggregator": "writer"}
    single_candidate_passthrough = False  # the aggregator rewrites even a single answer

    @pytest.fixture
    def context(self) -> FusionContext:
        return FusionContext(models={"writer": fake_model("writer", ["Paris is the capital of France."])})


class TestConfidenceArbiter(ArbiterConformance):
    plugin_class = ConfidenceArbiter


class TestDebateArbiterWithFakeDebaters(ArbiterConformance):
    """Debaters are the candidates' models; panels of unknown models are refused (FusionError)."""

    plugin_class = DebateArbiter

    @pytest.fixture
    def context(self) -> FusionContext:
        return FusionContext(
            models={name: fake_model(name, ["Paris"]) for name in ("alpha", "beta", "gamma")}
        )


class TestEscalateArbiterWithFakeModel(ArbiterConformance):
    plugin_class = EscalateArbiter
    plugin_options: ClassVar[dict[str, Any]] = {"model": "oracle"}

    @pytest.fixture
    def context(self) -> FusionContext:
        return FusionContext(models={"oracle": fake_model("oracle", ["Paris"])})


class TestHumanArbiterOutsideAGraph(ArbiterConformance):
    """Outside a graph a conflict cannot pause for a person: that is a FusionError (allowed for
    large panels); the ordinary panel agrees enough at threshold 0.5 to need nobody."""

    plugin_class = HumanArbiter
    plugin_options: ClassVar[dict[str, Any]] = {"threshold": 0.5}


class TestEscalationLadderWithFakeJudge(ArbiterConformance):
    plugin_class = EscalationLadder
    plugin_options: ClassVar[dict[str, Any]] = {
        "steps": [
            {"arbiter": "judge", "options": {"judge": "referee"}, "when_agreement_below": 0.9},
            {"arbiter": "confidence", "when_agreement_below": 0.5},
        ],
        "max_cost_usd": 1.0,
    }

    @pytest.fixture
    def context(self) -> FusionContext:
        return FusionContext(models={"referee": fake_model("referee", ["Answer 1 is best: 1"])})


# -- routers --------------------------------------------------------------------------------------


class TestRulesRouter(RouterConformance):
    plugin_class = RulesRouter
    plugin_options: ClassVar[dict[str, Any]] = {
        "routes": [{"target": "large", "keywords": ["report"]}, {"target": "small", "max_length": 40}],
        "default": "small",
    }

    @pytest.fixture
    def targets(self) -> list[str]:
        return ["large", "small"]


class TestPrivacyRouter(RouterConformance):
    """An ordinary request goes to the first target (no inner strategy)."""

    plugin_class = PrivacyRouter


class TestPrivacyRouterOnSensitiveRequests(RouterConformance):
    """A flagged request goes only to the targets declared local, through an inner strategy."""

    plugin_class = PrivacyRouter
    plugin_options: ClassVar[dict[str, Any]] = {
        "local": ["small", "large"],
        "strategy": "rules",
        "options": {"routes": [{"target": "large", "keywords": ["report"]}], "default": "small"},
    }

    @pytest.fixture
    def route_request(self) -> RouteRequest:
        return RouteRequest("Summarise the attached quarterly report.", {"sensitive": True})


class TestBalanceRouter(RouterConformance):
    """Unbound (no models, no metrics endpoints): every target is idle; ties go round-robin."""

    plugin_class = BalanceRouter


class TestSemanticRouter(RouterConformance):
    """Routes by similarity to utterances with the model-free hashing embedder."""

    plugin_class = SemanticRouter
    plugin_options: ClassVar[dict[str, Any]] = {
        "routes": [
            {"target": "large", "utterances": ["summarise this long report", "analyse the figures"]},
            {"target": "medium", "utterances": ["translate this sentence"]},
        ],
        "default": "small",
        "embedder": "hashing",
        "threshold": 0.2,
    }


class TestLearnedRouter(RouterConformance):
    """A kNN router model trained on a few prompts; unknown targets fall back to the first offered."""

    plugin_class = LearnedRouter

    @pytest.fixture
    def plugin(self, tmp_path: Path) -> Any:
        import numpy as np

        from fusionsdk.routing.router_file import write_router_model
        from fusionsdk.tuning.router_training import TrainingSet, fit_router_model

        texts = ["summarise the report", "add two numbers", "translate hello", "write a long analysis"]
        labels = np.array([[0, 1, 1], [1, 1, 1], [1, 1, 1], [0, 0, 1]], dtype=float)
        costs = np.tile([0.001, 0.005, 0.02], (4, 1))
        data = TrainingSet(texts, ["small", "medium", "large"], labels, costs)
        path = tmp_path / "router.json"
        write_router_model(path, fit_router_model(data, method="knn", embedder="hashing", holdout=0).model)
        return self.build(LearnedRouter, {"model_file": str(path), "threshold": 0.8})


class TestLLMRouter(RouterConformance):
    """Bound to a fake classifier that always answers 'large'."""

    plugin_class = LLMRouter
    plugin_options: ClassVar[dict[str, Any]] = {"model": "classifier", "default": "small"}

    @pytest.fixture
    def plugin(self) -> Any:
        router = self.build(LLMRouter, self.plugin_options)
        router.bind({"classifier": fake_model("classifier", ["large"])})
        return router


# -- embedders and providers ----------------------------------------------------------------------


class TestFakeEmbedder(EmbedderConformance):
    plugin_class = FakeEmbedder


class TestHashingEmbedder(EmbedderConformance):
    plugin_class = HashingEmbedder


class TestFakeProvider(ProviderConformance):
    """The fake echoes the last message when it has no script: deterministic."""

    plugin_class = FakeProvider
    deterministic = True

    @pytest.fixture
    def failing_plugin(self, spec: ModelSpec) -> Provider:
        provider = FakeProvider(spec)
        provider.script = [ProviderUnavailable("scripted outage")]
        return provider


class TestScriptedFakeProvider(ProviderConformance):
    plugin_class = FakeProvider
    plugin_options: ClassVar[dict[str, Any]] = {
        "responses": ["red", "blue"],
        "logprob": -0.25,
        "delay_s": 0.001,
    }


class TestLangChainProvider(ProviderConformance):
    """A LangChain chat model (LangChain's own fake, one answer) through ``provider: langchain``."""

    plugin_class = LangChainProvider
    spec_fields: ClassVar[dict[str, Any]] = {
        "model": "langchain_core.language_models.fake_chat_models:FakeListChatModel"
    }
    plugin_options: ClassVar[dict[str, Any]] = {"kwargs": {"responses": ["red"]}}
    deterministic = True


_REPLAY_DATA = Path(__file__).resolve().parents[1] / "data" / "gsm8k_subset.jsonl"


class TestReplayProvider(ProviderConformance):
    """Replays gpt-4o's recorded answer to the first question of the committed GSM8K subset."""

    plugin_class = ReplayProvider
    spec_fields: ClassVar[dict[str, Any]] = {"model": "gpt-4o-2024-08-06"}
    plugin_options: ClassVar[dict[str, Any]] = {"dataset": str(_REPLAY_DATA)}
    deterministic = True

    def make_request(self, prompt: str) -> CompletionRequest:
        question = json.loads(_REPLAY_DATA.read_text().splitlines()[0])["question"]
        return super().make_request(f"{prompt}\n\n{question}")


@pytest.mark.integration
@needs_embedded
class TestLlamaCppProvider(ProviderConformance):
    """The embedded provider on the bundled SmolLM2 (greedy, so deterministic), default runtime."""

    plugin_class = LlamaCppProvider
    spec_fields: ClassVar[dict[str, Any]] = {"model": "smollm2-135m-instruct"}
    deterministic = True
    max_tokens = 6
    concurrent_calls = 3


@pytest.mark.integration
@needs_llama_cpp_python
class TestLlamaCppProviderOnLlamaCppPython(TestLlamaCppProvider):
    """The same on the compiled runtime."""

    plugin_options: ClassVar[dict[str, Any]] = {"runtime": "llama-cpp-python"}


# -- memory stores and embedders -----------------------------------------------------------------


class TestEphemeralChromaStore(MemoryStoreConformance):
    plugin_class = EphemeralChromaStore

    def build(self, plugin_class: type[Any], options: Any) -> MemoryStore:
        return plugin_class(dict(options), embedder=FakeEmbedder())


class TestPersistentChromaStore(MemoryStoreConformance):
    plugin_class = PersistentChromaStore

    @pytest.fixture
    def plugin(self, tmp_path: Path) -> Any:
        store = self.build(PersistentChromaStore, {"path": str(tmp_path / "store")})
        yield store
        store.close()

    def build(self, plugin_class: type[Any], options: Any) -> MemoryStore:
        return plugin_class(dict(options), embedder=FakeEmbedder())


@pytest.mark.integration
@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None, reason="needs fusionsdk[memory]"
)
class TestMiniLMEmbedder(EmbedderConformance):
    """The bundled all-MiniLM-L6-v2, offline."""

    plugin_class = MiniLMEmbedder
    large_batch_size = 48


@pytest.mark.integration
@needs_embedded
class TestLlamaCppEmbedder(EmbedderConformance):
    """Embeddings of the bundled SmolLM2 GGUF (mean pooled), default runtime."""

    plugin_class = LlamaCppEmbedder
    plugin_options: ClassVar[dict[str, Any]] = {"model": "smollm2-135m-instruct"}
    large_batch_size = 12
    long_text_words = 200


@pytest.mark.integration
@needs_llama_cpp_python
class TestLlamaCppEmbedderOnLlamaCppPython(TestLlamaCppEmbedder):
    """The same on the compiled runtime."""

    plugin_options: ClassVar[dict[str, Any]] = {
        "model": "smollm2-135m-instruct",
        "runtime": "llama-cpp-python",
    }


# -- the built-ins, installed or declared ---------------------------------------------------------


def _pyproject_entry_points() -> set[tuple[str, str, str]]:
    """(kind, name, target) of each entry point in fusionsdk's pyproject.toml, when it is at hand."""
    pyproject = Path(fusionsdk.__file__).resolve().parents[1] / "pyproject.toml"
    if sys.version_info < (3, 11) or not pyproject.is_file():
        return set()
    import tomllib

    groups = tomllib.loads(pyproject.read_text())["project"].get("entry-points", {})
    return {
        (group.removeprefix("fusionsdk."), name, target)
        for group, entries in groups.items()
        if group.startswith("fusionsdk.")
        for name, target in entries.items()
    }


def _builtins() -> dict[tuple[str, str], str]:
    """Every built-in, installed or declared, as (kind, name) -> ``module:attribute``."""
    registry = Registry(Settings(plugins="", disable_plugin_autoload=False))
    found = {(r.kind.value, r.name): r.target for r in registry.records() if r.builtin}
    for kind, name, target in _pyproject_entry_points():
        found.setdefault((kind, name), target)
    return found


# -- commands: every built-in command, mounted and asked for --help ---------------------------------


def _load(kind: str, name: str, target: str) -> Any:
    return EntryPoint(name, target, f"fusionsdk.{kind}").load()


def _add_command_suites() -> None:
    for (kind, name), target in sorted(_builtins().items()):
        if kind == "commands":
            attributes = {"plugin_class": _load(kind, name, target), "command_name": name}
            suite = type(f"TestCommand_{name}", (CommandConformance,), attributes)
            globals()[suite.__name__] = suite


_add_command_suites()

# -- nothing forgotten ----------------------------------------------------------------------------


def _covered() -> set[tuple[str, Any]]:
    """(kind, plugin class) of each conformance test class in this module."""
    suites = [
        value
        for name, value in globals().items()
        if name.startswith("Test") and isinstance(value, type) and issubclass(value, PluginConformance)
    ]
    return {(suite.kind.value, suite.plugin_class) for suite in suites}


def test_every_builtin_is_covered_or_skipped_with_a_reason() -> None:
    covered = _covered()
    forgotten = []
    for (kind, name), target in sorted(_builtins().items()):
        if (kind, _load(kind, name, target)) not in covered and (kind, name) not in SKIPPED:
            forgotten.append(f"{kind}:{name} ({target})")
    assert not forgotten, (
        "built-in plugins with neither a conformance test class in this module nor a SKIPPED "
        f"entry with a reason: {', '.join(forgotten)}"
    )


def test_skip_list_is_justified_and_current() -> None:
    builtins = _builtins()
    covered = _covered()
    for (kind, name), reason in SKIPPED.items():
        assert (kind, name) in builtins, f"SKIPPED names {kind}:{name}, which is not a built-in any more"
        assert len(reason.split()) >= 4, f"say why {kind}:{name} is skipped"
        assert (kind, _load(kind, name, builtins[(kind, name)])) not in covered, (
            f"{kind}:{name} is covered: take it off SKIPPED"
        )


def test_the_builtin_suites_cover_several_kinds() -> None:
    kinds = {kind for kind, _ in _covered()}
    assert {"fusers", "arbiters", "routers", "embedders", "providers", "commands", "answers"} <= kinds
