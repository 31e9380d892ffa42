"""The embedders: ``litellm`` against a loopback stub, ``minilm`` and ``llamacpp`` set-up errors."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from fusionsdk.errors import (
    AuthError,
    ConfigError,
    FusionError,
    ProviderUnavailable,
    RateLimited,
    SecretMissing,
)
from fusionsdk.memory.embedders import minilm
from fusionsdk.memory.embedders._vectors import check_texts, normalise
from fusionsdk.memory.embedders.litellm_embedder import LiteLLMEmbedder
from fusionsdk.memory.embedders.llamacpp_embedder import LlamaCppEmbedder
from fusionsdk.memory.embedders.minilm import MiniLMEmbedder, minilm_model_dir
from fusionsdk.memory.errors import EmbedderError
from fusionsdk.registry import default_registry
from fusionsdk.testing import EmbedderConformance, FakeEmbedder
from tests.llama_runtimes import HAS_XLLAMACPP, needs_llama_cpp_python
from tests.memory.embedding_server import EmbeddingServer


@pytest.fixture(scope="module")
def embedding_server() -> Iterator[EmbeddingServer]:
    with EmbeddingServer() as server:
        yield server


@pytest.fixture
def stub(embedding_server: EmbeddingServer, monkeypatch: pytest.MonkeyPatch) -> EmbeddingServer:
    embedding_server.failures.clear()
    embedding_server.requests.clear()
    embedding_server.dimension_override = None
    monkeypatch.setenv("STUB_EMBED_KEY", "sk-stub-secret-123")
    return embedding_server


def hosted(server: EmbeddingServer, **extra: Any) -> LiteLLMEmbedder:
    return LiteLLMEmbedder(
        {
            "model": "openai/stub-embed",
            "dimension": 64,
            "base_url": server.url + "/v1",
            "api_key_env": "STUB_EMBED_KEY",
            "timeout_s": 30,
            **extra,
        }
    )


class TestLiteLLMEmbedderOnAStub(EmbedderConformance):
    """The conformance kit against the loopback stub (hosted embedders refuse empty texts)."""

    plugin_class = LiteLLMEmbedder
    large_batch_size = 40
    long_text_words = 500
    options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def plugin(self, stub: EmbeddingServer) -> LiteLLMEmbedder:
        return hosted(stub)


def test_batches_order_and_the_key(stub: EmbeddingServer) -> None:
    embedder = hosted(stub, batch_size=3)
    texts = [f"text number {i}" for i in range(7)]
    assert embedder.embed(texts) == FakeEmbedder().embed(texts)  # in order, though the stub reverses
    requests = stub.requests("/v1/embeddings")
    assert [len(r.body["input"]) for r in requests] == [3, 3, 1]
    assert requests[0].headers["authorization"] == "Bearer sk-stub-secret-123"
    assert requests[0].body["model"] == "stub-embed" and "dimensions" not in requests[0].body
    assert embedder.identity == "litellm:openai/stub-embed" and embedder.dimension == 64


async def test_aembed_is_awaitable(stub: EmbeddingServer) -> None:
    assert len(await hosted(stub).aembed(["a", "b"])) == 2


def test_send_dimensions_asks_for_shorter_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    from fusionsdk.providers.litellm_boundary import litellm

    seen: dict[str, Any] = {}

    async def aembedding(**kwargs: Any) -> Any:
        seen.update(kwargs)
        return type("R", (), {"data": [{"index": 0, "embedding": [1.0] * 16}]})()

    monkeypatch.setattr(litellm(), "aembedding", aembedding)
    embedder = LiteLLMEmbedder(
        {"model": "openai/text-embedding-3-small", "dimension": 16, "send_dimensions": True}
    )
    assert embedder.embed(["hi"]) == [[1.0] * 16]
    assert seen["dimensions"] == 16 and seen["max_retries"] == 0 and "api_key" not in seen


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthError), (429, RateLimited), (503, ProviderUnavailable)]
)
def test_errors_are_mapped_at_the_litellm_boundary(stub: EmbeddingServer, status: int, error: type) -> None:
    stub.fail(status, status, status)  # the openai SDK under LiteLLM retries twice on its own
    with pytest.raises(error) as info:
        hosted(stub).embed(["hello"])
    assert "sk-stub-secret-123" not in str(info.value)
    if status == 429:
        assert info.value.retry_after == pytest.approx(0.02)


def test_wrong_dimension_and_missing_key(stub: EmbeddingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    stub.dimension_override = 10
    with pytest.raises(EmbedderError, match="10 dimensions"):
        hosted(stub).embed(["hello"])
    monkeypatch.delenv("STUB_EMBED_KEY")
    with pytest.raises(SecretMissing, match="STUB_EMBED_KEY"):
        hosted(stub).embed(["hello"])


def test_unreachable_endpoint_is_provider_unavailable() -> None:
    from tests.servers.base import free_port

    embedder = LiteLLMEmbedder(
        {
            "model": "openai/x",
            "dimension": 8,
            "base_url": f"http://127.0.0.1:{free_port()}/v1",
            "timeout_s": 10,
        }
    )
    with pytest.raises(ProviderUnavailable):
        embedder.embed(["hello"])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"model": "openai/x"},
        {"model": "openai/x", "dimension": 0},
        {"model": "x", "dimension": 8, "api_key_env": "sk-123!"},
        {"model": "x", "dimension": 8, "batch_size": 0},
    ],
)
def test_litellm_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        LiteLLMEmbedder(options)


@pytest.mark.parametrize("texts", ["one string", [1, 2], [None]])
def test_embedders_want_a_list_of_strings(texts: Any, stub: EmbeddingServer) -> None:
    for embedder in (hosted(stub), MiniLMEmbedder(), LlamaCppEmbedder({"model": "smollm2"})):
        with pytest.raises(EmbedderError):
            embedder.embed(texts)


def test_vector_helpers() -> None:
    assert check_texts(("a", "b")) == ["a", "b"]
    assert normalise([3, 4]) == [0.6, 0.8] and normalise([0, 0]) == [0.0, 0.0]
    with pytest.raises(EmbedderError, match="non-finite"):
        normalise([float("inf"), 1.0])


def test_minilm_is_registered_and_needs_its_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_registry().get("embedders", "minilm") is MiniLMEmbedder
    assert MiniLMEmbedder.dimension == 384
    monkeypatch.setattr(minilm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbedderError, match="pip install 'fusionsdk\\[memory\\]'"):
        minilm_model_dir()
    with pytest.raises(EmbedderError, match="model folder not found"):
        MiniLMEmbedder({"model_path": str(tmp_path / "none")}).embed(["hi"])
    with pytest.raises(ConfigError):
        MiniLMEmbedder({"batch_size": 0})


@pytest.mark.integration
@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None, reason="needs fusionsdk[memory]"
)
def test_minilm_works_offline_by_registry_name() -> None:
    """What the routers rely on: the embedder by name, offline (the test guard allows loopback only)."""
    embedder = default_registry().get("embedders", "minilm")()
    cat, kitten, tax = embedder.embed(["a cat sleeps", "a kitten naps", "file your tax return"])
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert dot(cat, kitten) > dot(cat, tax) + 0.2
    assert embedder.identity == "minilm:all-MiniLM-L6-v2"


def test_llamacpp_options_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="either 'model'"):
        LlamaCppEmbedder({})
    with pytest.raises(ConfigError, match="either 'model'"):
        LlamaCppEmbedder({"model": "smollm2", "path": "x.gguf"})
    with pytest.raises(ConfigError, match="GGUF model file not found"):
        LlamaCppEmbedder({"path": str(tmp_path / "none.gguf")}).embed(["hi"])
    with pytest.raises(ConfigError, match="unknown embedded model"):
        LlamaCppEmbedder({"model": "nope"}).embed(["hi"])
    assert LlamaCppEmbedder({"path": "/m/nomic.gguf"}).identity == "llamacpp:nomic.gguf"
    assert isinstance(EmbedderError("x"), FusionError)
    with pytest.raises(ConfigError, match="runtime"):
        LlamaCppEmbedder({"model": "smollm2", "runtime": "llama"})


@pytest.mark.integration
@needs_llama_cpp_python
@pytest.mark.skipif(not HAS_XLLAMACPP, reason="needs fusionsdk[local] (xllamacpp)")
def test_llamacpp_runtimes_embed_alike() -> None:
    """The same mean-pooled vectors on both runtimes (stores built on one serve the other)."""
    texts = ["The cat sat on the mat.", "Stock markets fell sharply.", "word " * 600]  # the last truncated
    x = LlamaCppEmbedder({"model": "smollm2", "runtime": "xllamacpp"})
    lcp = LlamaCppEmbedder({"model": "smollm2", "runtime": "llama-cpp-python"})
    assert x.dimension == lcp.dimension == 576 and x.identity == lcp.identity
    for a, b in zip(x.embed(texts), lcp.embed(texts), strict=True):
        assert sum(p * q for p, q in zip(a, b, strict=True)) > 0.99
