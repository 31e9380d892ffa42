"""Privacy that holds across a thread, reaches embedders and scans every field.

A thread that has seen sensitive data (flagged, found by a detector, or a sensitive memory) keeps
its ``privacy`` flag in the checkpointed state: its next, ordinary runs never send its answers,
candidates or retrieved chunks to a hosted model or embedder, with in-memory and SQLite
checkpoints alike, until the user clears the flag. Hosted models here are fakes that record
every request; the hosted embedder is LiteLLM's, talking to a loopback stub that records every
text it receives.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fusionsdk.errors import ConfigError, FusionError, PrivacyViolation
from fusionsdk.graph import compile_config
from fusionsdk.providers.hub import ModelHub
from fusionsdk.providers.privacy_scope import privacy_scope
from tests.memory.embedding_server import EmbeddingServer
from tests.providers.hosted_fake import HostedFake, hosted_fake  # noqa: F401 (autouse fixture)


@pytest.fixture(scope="module")
def embedding_server() -> Iterator[EmbeddingServer]:
    with EmbeddingServer() as server:
        yield server


@pytest.fixture
def stub(embedding_server: EmbeddingServer, monkeypatch: pytest.MonkeyPatch) -> EmbeddingServer:
    embedding_server.requests.clear()
    monkeypatch.setenv("STUB_EMBED_KEY", "sk-stub-secret-123")
    return embedding_server


def local(*responses: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "fake", "locality": "local", "options": {"responses": list(responses)}, **extra}


def hosted(*responses: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "hosted_fake",
        "locality": "hosted",
        "options": {"responses": list(responses)},
        **extra,
    }


SENSITIVE = {
    "flag": ("How many eggs are left?", {"sensitive": True}),
    "detected": ("Reply to jane.doe@example.com: how many eggs are left?", None),
}
ORDINARY = "And how many ducks are there?"


def config(nodes: dict[str, Any], edges: list[list[str]], **extra: Any) -> dict[str, Any]:
    models = {"cloud": hosted("cloud answer", fallbacks=["box"]), "box": local("box answer")}
    return copy.deepcopy({"version": 1, "models": models, "nodes": nodes, "edges": edges, **extra})


def chain(*names: str) -> list[list[str]]:
    order = ["START", *names, "END"]
    return [[a, b] for a, b in itertools.pairwise(order)]


#: Graphs whose second turn would carry the first turn's data to a hosted model: through
#: ``{answer}``, ``{candidates}``, a hosted aggregator or a hosted judge.
FOLLOW_UPS: dict[str, tuple[dict[str, Any], list[list[str]]]] = {
    "answer": (
        {"ask": {"kind": "agent", "model": "cloud", "prompt": "Before: {answer}\nNow: {task}"}},
        chain("ask"),
    ),
    "candidates": (
        {"ask": {"kind": "agent", "model": "cloud", "prompt": "Earlier: {candidates}\n{task}"}},
        chain("ask"),
    ),
    "aggregator": (
        {
            "panel": {"kind": "panel", "models": ["box"]},
            "fuse": {"kind": "fuse", "strategy": "synthesize", "options": {"aggregator": "cloud"}},
        },
        chain("panel", "fuse"),
    ),
    "judge": (
        {
            "panel": {"kind": "panel", "models": ["box"]},
            "decide": {
                "kind": "arbitrate",
                "arbiter": "judge",
                "options": {"judge": "cloud", "threshold": 1.0},
            },
        },
        chain("panel", "decide"),
    ),
}


async def _turn(graph: Any, task: str, thread: str, checkpoint: Any, metadata: Any = None) -> Any:
    try:
        return await graph.arun(task, thread_id=thread, checkpoint=checkpoint, metadata=metadata)
    except FusionError as err:
        assert isinstance(err, PrivacyViolation) or "PrivacyViolation" in str(err), err
        return None


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize("case", SENSITIVE)
@pytest.mark.parametrize("path", FOLLOW_UPS)
async def test_a_sensitive_turn_keeps_the_whole_thread_off_hosted_models(
    path: str, case: str, store: str, tmp_path: Path
) -> None:
    nodes, edges = FOLLOW_UPS[path]
    checkpoint = tmp_path / "runs.sqlite" if store == "sqlite" else None
    graph = compile_config(config(nodes, edges))
    task, metadata = SENSITIVE[case]
    await _turn(graph, task, "t1", checkpoint, metadata)
    # the next turns are ordinary; with SQLite a freshly compiled graph (another process) runs them
    later = compile_config(config(nodes, edges)) if store == "sqlite" else graph
    for _ in range(3):
        result = await _turn(later, ORDINARY, "t1", checkpoint)
        assert result is None or result.sensitive
    assert HostedFake.seen == []


@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_only_an_explicit_clear_lets_the_thread_reach_hosted_models_again(
    store: str, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "runs.sqlite" if store == "sqlite" else None
    graph = compile_config(config(*FOLLOW_UPS["answer"]))
    first = await graph.arun("Mail jane.doe@example.com the total", thread_id="t", checkpoint=checkpoint)
    assert first.answer == "box answer" and first.sensitive
    second = await graph.arun(ORDINARY, thread_id="t", checkpoint=checkpoint, metadata={"sensitive": False})
    assert second.answer == "box answer" and second.sensitive  # False in one run's metadata clears nothing
    assert any(d["type"] == "privacy" and "thread" in d["reason"] for d in second.decisions)
    assert HostedFake.seen == []
    assert await graph.aclear_sensitive("t", checkpoint=checkpoint) is True
    assert await graph.aclear_sensitive("t", checkpoint=checkpoint) is False  # nothing left to clear
    third = await graph.arun(ORDINARY, thread_id="t", checkpoint=checkpoint)
    assert third.answer == "cloud answer" and not third.sensitive
    assert len(HostedFake.seen) == 1
    other = await graph.arun(ORDINARY, thread_id="u", checkpoint=checkpoint)  # other threads: unaffected
    assert other.answer == "cloud answer" and not other.sensitive


async def test_a_sensitive_memory_marks_the_thread_for_later_runs(tmp_path: Path) -> None:
    from fusionsdk.memory.base import Chunk

    memory = {"docs": {"store": "chroma", "path": str(tmp_path / "store"), "embedder": "hashing"}}
    nodes = {
        "docs": {"kind": "retrieve", "memory": "docs", "k": 1},
        "ask": {"kind": "agent", "model": "cloud", "prompt": "{context}\n{task}"},
    }
    graph = compile_config(config(nodes, chain("docs", "ask"), memory=memory))
    graph.context.memory("docs").add([Chunk("c1", "duck ledger", {"sensitivity": "sensitive"})])
    assert (await graph.arun("duck ledger?", thread_id="t")).sensitive
    assert (await graph.arun("weather?", thread_id="t")).answer == "box answer"
    assert HostedFake.seen == []


@pytest.mark.parametrize("value", ["true", "yes", 1, 0, None, [True], {"x": 1}])
async def test_the_sensitive_flag_must_be_a_bool(value: Any) -> None:
    graph = compile_config(config(*FOLLOW_UPS["answer"]))
    with pytest.raises(ConfigError, match=r"metadata\.sensitive: must be true or false"):
        await graph.arun("hello", metadata={"sensitive": value})
    with pytest.raises(ConfigError, match=r"metadata\.sensitive"):
        await graph.hub["box"].acomplete("hello", metadata={"sensitive": value})
    assert HostedFake.seen == []


# -- every field that reaches a provider ------------------------------------------------------------

PII = "jane.doe@example.com"
TOOL_CALL = {
    "id": "c1",
    "type": "function",
    "function": {"name": "lookup", "arguments": f'{{"to": "{PII}"}}'},
}
FIELDS: dict[str, tuple[Any, dict[str, Any]]] = {
    "extra messages": ("hello", {"extra": {"messages": [{"role": "user", "content": f"mail {PII}"}]}}),
    "extra nested": ("hello", {"extra": {"metadata": {"deep": [[{"note": "card 4111 1111 1111 1111"}]]}}}),
    "stop": ("hello", {"stop": [PII]}),
    "name": ([{"role": "user", "content": "hello", "name": PII}], {}),
    "tool arguments": (
        [
            {"role": "user", "content": "who?"},
            {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
            {"role": "tool", "content": "found", "tool_call_id": "c1"},
        ],
        {},
    ),
    "multimodal part": ([{"role": "user", "content": [{"type": "text", "text": f"mail {PII}"}]}], {}),
}


@pytest.mark.parametrize("field", FIELDS)
async def test_every_field_bound_for_a_hosted_model_is_scanned(field: str) -> None:
    messages, params = FIELDS[field]
    hub = ModelHub.from_dict({"version": 1, "models": {"cloud": hosted("ok")}})
    with pytest.raises(PrivacyViolation):
        await hub["cloud"].acomplete(messages, **params)
    with pytest.raises(PrivacyViolation):
        async for _ in hub["cloud"].astream(messages, **params):
            pass
    assert HostedFake.seen == []
    clean = ModelHub.from_dict({"version": 1, "models": {"cloud": hosted("ok")}})
    assert (await clean["cloud"].acomplete("hello", stop=["\n\n"])).text == "ok"


# -- embedders ------------------------------------------------------------------------------------


def _embedder(server: EmbeddingServer) -> dict[str, Any]:
    return {
        "embedder": "litellm",
        "embedder_options": {
            "model": "openai/stub-embed",
            "dimension": 64,
            "base_url": server.url + "/v1",
            "api_key_env": "STUB_EMBED_KEY",
        },
    }


def _texts(server: EmbeddingServer) -> list[str]:
    texts: list[str] = []
    for request in server.requests():
        value = request.body["input"]
        texts += [value] if isinstance(value, str) else list(value)
    return texts


@pytest.mark.parametrize("case", SENSITIVE)
async def test_retrieve_never_sends_a_sensitive_thread_to_a_hosted_embedder(
    case: str, stub: EmbeddingServer, tmp_path: Path
) -> None:
    from fusionsdk.memory.base import Chunk

    memory = {"docs": {"store": "chroma", "path": str(tmp_path / "store"), **_embedder(stub)}}
    nodes = {
        "docs": {"kind": "retrieve", "memory": "docs", "k": 1},
        "ask": {"kind": "agent", "model": "box", "prompt": "{context}\n{task}"},
    }
    graph = compile_config(config(nodes, chain("docs", "ask"), memory=memory))
    graph.context.memory("docs").add([Chunk("c1", "ducks lay eggs")])  # ordinary text: embedded hosted
    before = len(_texts(stub))
    task, metadata = SENSITIVE[case]
    with pytest.raises(PrivacyViolation, match="litellm:openai/stub-embed"):
        await graph.arun(task, thread_id="t", metadata=metadata)
    with pytest.raises(PrivacyViolation):  # the next, ordinary turn of the thread too
        await graph.arun(ORDINARY, thread_id="t")
    assert len(_texts(stub)) == before
    ok = await graph.arun(ORDINARY, thread_id="other")
    assert ok.answer == "box answer" and len(_texts(stub)) == before + 1


@pytest.mark.parametrize("case", SENSITIVE)
async def test_the_semantic_router_never_sends_sensitive_text_to_a_hosted_embedder(
    case: str, stub: EmbeddingServer
) -> None:
    options = {
        "routes": [{"target": "ask", "utterances": ["how many eggs"]}],
        "default": "ask",
        **_embedder(stub),
    }
    nodes = {
        "route": {"kind": "router", "strategy": "semantic", "targets": ["ask"], "options": options},
        "ask": {"kind": "agent", "model": "box"},
    }
    graph = compile_config(config(nodes, [["START", "route"], ["ask", "END"]]))
    task, metadata = SENSITIVE[case]
    with pytest.raises(PrivacyViolation):
        await graph.arun(task, metadata=metadata)
    assert _texts(stub) == []
    assert (await graph.arun(ORDINARY)).answer == "box answer"
    assert ORDINARY in _texts(stub)


async def test_hosted_embedders_refuse_detected_data_and_sensitive_scopes(stub: EmbeddingServer) -> None:
    from fusionsdk.memory.embedders.litellm_embedder import LiteLLMEmbedder

    embedder = LiteLLMEmbedder(_embedder(stub)["embedder_options"])
    with pytest.raises(PrivacyViolation, match="email"):
        embedder.embed([f"write to {PII}"])
    with pytest.raises(PrivacyViolation, match="email"):
        await embedder.aembed([f"write to {PII}"])
    with privacy_scope(sensitive=True, kinds=["flag"]), pytest.raises(PrivacyViolation):
        embedder.embed(["an ordinary text"])
    with privacy_scope(sensitive=True), pytest.raises(PrivacyViolation):
        await embedder.aembed(["an ordinary text"])
    assert _texts(stub) == []
    local = LiteLLMEmbedder({**_embedder(stub)["embedder_options"], "locality": "local"})
    with privacy_scope(sensitive=True):
        assert len(local.embed([f"write to {PII}"])) == 1  # a server you run yourself
    assert len(embedder.embed(["an ordinary text"])) == 1


def test_files_ingested_as_sensitive_never_reach_a_hosted_embedder(
    stub: EmbeddingServer, tmp_path: Path
) -> None:
    from fusionsdk.memory.embedders.litellm_embedder import LiteLLMEmbedder
    from fusionsdk.memory.ingest import ingest
    from fusionsdk.memory.stores.chroma import EphemeralChromaStore

    (tmp_path / "notes.txt").write_text("The ducks were fed at noon.")
    embedder = LiteLLMEmbedder(_embedder(stub)["embedder_options"])
    store = EphemeralChromaStore({"collection": "privacy"}, embedder=embedder)
    with pytest.raises(PrivacyViolation):
        ingest(store, [tmp_path / "notes.txt"], sensitivity="sensitive")
    assert _texts(stub) == []
    assert ingest(store, [tmp_path / "notes.txt"]).added == 1
    store.close()
