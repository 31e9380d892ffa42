"""The conformance kit itself: it passes sound plugins of every kind and catches broken ones."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

import fusionsdk.testing
from fusionsdk.errors import FusionError
from fusionsdk.eval.base import Scorer
from fusionsdk.memory.base import Chunk, Embedder, Hit, MemoryStore
from fusionsdk.plugin import PluginOptions
from fusionsdk.testing import (
    FakeEmbedder,
    MemoryStoreConformance,
    ScorerConformance,
    ToolConformance,
)
from fusionsdk.tools.base import Tool

pytest_plugins = ["pytester"]

# -- sound reference plugins of the kinds fusionsdk has no built-in for yet -----------------------


class BruteForceStore(MemoryStore):
    """Keeps chunks in a dict and compares the query with every one (cosine distance)."""

    class Options(PluginOptions):
        """Options.

        Attributes:
            normalise: Lower-case texts before embedding.
        """

        normalise: bool = False

    def __init__(self, options: PluginOptions | dict[str, Any] | None = None, *, embedder: Embedder) -> None:
        super().__init__(options)
        self._embedder = embedder
        self._rows: dict[str, tuple[Chunk, list[float]]] = {}
        self._lock = threading.Lock()

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        normalise = self.options.normalise  # type: ignore[attr-defined]
        return self._embedder.embed([t.lower() if normalise else t for t in texts])

    def add(self, chunks: Sequence[Chunk]) -> int:
        vectors = self._embed([c.text for c in chunks])
        with self._lock:
            new = [(c, v) for c, v in zip(chunks, vectors, strict=True) if c.id not in self._rows]
            self._rows.update({c.id: (c, v) for c, v in new})
        return len(new)

    def query(self, text: str, k: int = 5, where: Mapping[str, Any] | None = None) -> list[Hit]:
        if k < 1:
            raise FusionError(f"k must be at least 1, got {k}")
        (target,) = self._embed([text])
        with self._lock:
            rows = list(self._rows.values())
        hits = [
            Hit(chunk, 1.0 - sum(a * b for a, b in zip(vector, target, strict=True)))
            for chunk, vector in rows
            if all(chunk.metadata.get(key) == value for key, value in (where or {}).items())
        ]
        return sorted(hits, key=lambda hit: hit.distance)[:k]

    def count(self) -> int:
        with self._lock:
            return len(self._rows)


class TestBruteForceStore(MemoryStoreConformance):
    plugin_class = BruteForceStore

    def build(self, plugin_class: type[Any], options: Mapping[str, Any]) -> Any:
        return plugin_class(dict(options), embedder=FakeEmbedder())


class TokenOverlap(Scorer):
    """Share of the reference's words found in the prediction (case and final dots ignored)."""

    @staticmethod
    def _words(text: str) -> set[str]:
        return {word.strip(".,").lower() for word in text.split()}

    def score(self, prediction: str, reference: str) -> float:
        wanted = self._words(reference)
        if not wanted:
            return 1.0 if not self._words(prediction) else 0.0
        return len(wanted & self._words(prediction)) / len(wanted)


class TestTokenOverlap(ScorerConformance):
    plugin_class = TokenOverlap
    examples: ClassVar[list[tuple[str, str, float]]] = [("paris.", "Paris", 1.0), ("Lyon", "Paris", 0.0)]


def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


class TestFunctionTool(ToolConformance):
    plugin_class = Tool.adapt_plugin(word_count)
    sample_arguments: ClassVar[dict[str, Any]] = {"text": "one two three"}
    expected_result = 3


class Hypotenuse(Tool):
    """Length of the hypotenuse of a right triangle."""

    description: ClassVar[str] = "Hypotenuse of a right triangle with legs a and b."

    async def run(self, **arguments: Any) -> Any:
        unknown = set(arguments) - {"a", "b"}
        if unknown:
            raise FusionError(f"hypotenuse: unknown arguments {sorted(unknown)}")
        return math.hypot(arguments["a"], arguments["b"])


class TestClassTool(ToolConformance):
    plugin_class = Hypotenuse
    sample_arguments: ClassVar[dict[str, Any]] = {"a": 3, "b": 4}
    expected_result = 5.0


def test_function_tools_refuse_bad_arguments_with_a_fusion_error() -> None:
    import asyncio

    tool = Tool.adapt_plugin(word_count)()
    with pytest.raises(FusionError, match=r"word_count.*missing a required argument: 'text'"):
        asyncio.run(tool.run())


# -- broken plugins are caught --------------------------------------------------------------------

BROKEN_PLUGINS = '''
import asyncio, itertools
from typing import Any, ClassVar
from pydantic import BaseModel
from fusionsdk.errors import FusionError, ProviderUnavailable
from fusionsdk.fusion.base import Candidate, Fuser, FusionResult
from fusionsdk.memory.base import Embedder
from fusionsdk.plugin import PluginBase, PluginOptions
from fusionsdk.providers.base import Provider, ProviderResponse, StreamChunk
from fusionsdk.eval.base import Scorer
from fusionsdk.testing import (
    EmbedderConformance, FuserConformance, ProviderConformance, ScorerConformance,
)


class Sloppy(Fuser):
    """Raises a raw error on no candidates, crowns a stranger, and flips between answers."""

    class Options(BaseModel):
        """Options that let typos through."""

    flips = itertools.count()

    async def fuse(self, task, candidates, context=None):
        await asyncio.sleep(0)
        first = candidates[0]  # IndexError on no candidates
        return FusionResult(first.text, winner="nobody", scores={"x": next(self.flips)})


class TestSloppy(FuserConformance):
    plugin_class = Sloppy


class FromTheFuture(Fuser):
    """Written for a plugin API that does not exist yet."""

    api_version: ClassVar[int] = 2

    async def fuse(self, task, candidates, context=None):
        if not candidates:
            raise FusionError("none")
        return FusionResult(candidates[0].text, candidates[0].model)


class TestFromTheFuture(FuserConformance):
    plugin_class = FromTheFuture


class Undocumented(Fuser):
    async def fuse(self, task, candidates, context=None):
        if not candidates:
            raise FusionError("none")
        return FusionResult(candidates[0].text, candidates[0].model)


class TestUndocumented(FuserConformance):
    plugin_class = Undocumented


class ShortVectors(Embedder):
    """Claims 8 dimensions, returns 4, and drops the last text of a batch."""

    dimension: ClassVar[int] = 8

    def embed(self, texts):
        return [[0.5] * 4 for _ in texts[:-1]]


class TestShortVectors(EmbedderConformance):
    plugin_class = ShortVectors


class Leaky(Provider):
    """Lets a raw error escape and marks every chunk finished."""

    async def complete(self, request):
        if self.spec.model == "down":
            raise ConnectionError("refused")
        return ProviderResponse("hello world", "stop")

    async def stream(self, request):
        for word in ("hello", " world"):
            yield StreamChunk(word, finish_reason="stop")


class TestLeaky(ProviderConformance):
    plugin_class = Leaky

    import pytest

    @pytest.fixture
    def failing_plugin(self, spec):
        return Leaky(spec.model_copy(update={"model": "down"}))


class Generous(Scorer):
    """Scores everything 2."""

    def score(self, prediction, reference):
        return 2


class TestGenerous(ScorerConformance):
    plugin_class = Generous


class TestNoClass(FuserConformance):
    pass
'''

EXPECTED_FAILURES = {
    "TestSloppy::test_no_candidates_is_a_fusion_error",
    "TestSloppy::test_fuse_returns_a_fusion_result",
    "TestSloppy::test_deterministic_when_promised",
    "TestSloppy::test_options_are_a_pydantic_model_that_forbids_unknown_keys",
    "TestSloppy::test_unknown_option_is_a_config_error_naming_it",
    "TestFromTheFuture::test_targets_the_supported_plugin_api_version",
    "TestFromTheFuture::test_is_accepted_by_the_registry",
    "TestUndocumented::test_has_its_own_docstring",
    "TestShortVectors::test_one_vector_per_text",
    "TestShortVectors::test_large_batch_and_long_text",
    "TestLeaky::test_failures_are_provider_errors",
    "TestLeaky::test_stream_yields_chunks_with_finish_reason_last",
    "TestGenerous::test_scores_lie_between_zero_and_one",
    "TestGenerous::test_a_prediction_equal_to_its_reference_scores_one",
    "TestNoClass::test_fuse_returns_a_fusion_result",
}


@pytest.fixture
def broken_run(pytester: pytest.Pytester) -> pytest.HookRecorder:
    """The kit run on broken plugins, in strict asyncio mode (the kit marks its async tests)."""
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_broken_plugins=textwrap.dedent(BROKEN_PLUGINS))
    return pytester.inline_run("-p", "no:cacheprovider")


def _names(reports: Sequence[Any]) -> set[str]:
    return {report.nodeid.split("::", 1)[1] for report in reports}


def test_the_kit_catches_broken_plugins_and_passes_what_is_sound(broken_run: pytest.HookRecorder) -> None:
    passed, _, failed = broken_run.listoutcomes()
    missing = EXPECTED_FAILURES - _names(failed)
    assert not missing, f"the kit let these through: {sorted(missing)}"
    assert {
        "TestSloppy::test_targets_the_supported_plugin_api_version",
        "TestShortVectors::test_no_texts_give_no_vectors",
        "TestLeaky::test_complete_returns_a_provider_response",
    } <= _names(passed)
    no_class = next(r for r in failed if r.nodeid.endswith("TestNoClass::test_fuse_returns_a_fusion_result"))
    assert "set plugin_class = <your plugin class>" in str(no_class.longrepr)


# -- the public surface ---------------------------------------------------------------------------


def test_exports_are_pinned() -> None:
    assert set(fusionsdk.testing.__all__) == {
        "AnswerTypeConformance",
        "ArbiterConformance",
        "CommandConformance",
        "EmbedderConformance",
        "FakeEmbedder",
        "FakeProvider",
        "FuserConformance",
        "MemoryStoreConformance",
        "PluginConformance",
        "ProviderConformance",
        "RouterConformance",
        "ScorerConformance",
        "ToolConformance",
        "context_of",
        "fake_model",
        "prompt_of",
        "requests_of",
        "responding_model",
        "scripted",
    }
    for name in fusionsdk.testing.__all__:
        assert getattr(fusionsdk.testing, name) is not None


def test_importing_the_fakes_does_not_import_pytest() -> None:
    code = "import sys, fusionsdk.testing; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="NoSuchConformance"):
        _ = fusionsdk.testing.NoSuchConformance  # type: ignore[attr-defined]
