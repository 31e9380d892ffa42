"""The memory hub: config checks up front, lazy opening, paths, collections, open_memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionsdk.config.memory import MemorySpec
from fusionsdk.errors import ConfigError
from fusionsdk.memory.hub import MemoryHub, default_memory_spec, open_memory
from fusionsdk.memory.stores.chroma import EphemeralChromaStore, PersistentChromaStore


def spec(**fields: object) -> MemorySpec:
    return MemorySpec.model_validate({"embedder": "fake", **fields})


def test_paths_are_relative_to_the_base_folder_and_collections_default_to_the_name(tmp_path: Path) -> None:
    hub = MemoryHub(
        {"docs": spec(store="chroma", path="./store"), "qa": spec(store="ephemeral")}, base_dir=tmp_path
    )
    assert hub.options("docs").path == str(tmp_path / "store")  # type: ignore[attr-defined]
    assert hub.options("docs").collection == "docs"  # type: ignore[attr-defined]
    assert hub.options("qa").collection == "qa-memory"  # type: ignore[attr-defined]  # Chroma wants 3+ characters
    store = hub["docs"]
    assert isinstance(store, PersistentChromaStore) and hub["docs"] is store
    assert isinstance(hub["qa"], EphemeralChromaStore)
    assert hub["qa"].embedder is store.embedder  # one embedder per (name, options)
    assert len(hub) == 2 and sorted(hub) == ["docs", "qa"]
    hub.close()
    with pytest.raises(ConfigError, match="unknown memory 'nope' \\(known: docs, qa\\)"):
        hub["nope"]
    with pytest.raises(ConfigError, match="unknown memory"):
        hub.check("nope", "nodes.x.memory")


def test_absolute_and_home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    hub = MemoryHub(
        {"a": spec(store="chroma", path=str(tmp_path / "abs")), "b": spec(store="chroma", path="~/x")}
    )
    assert hub.options("a").path == str(tmp_path / "abs")  # type: ignore[attr-defined]
    assert hub.options("b").path == str(tmp_path / "x")  # type: ignore[attr-defined]


def test_default_memory_lives_in_fusionsdk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONSDK_HOME", str(tmp_path))
    default = default_memory_spec()
    assert (default.store, default.embedder, default.fields) == (
        "chroma",
        "minilm",
        {"path": str(tmp_path / "memory"), "collection": "default"},
    )


def write_config(tmp_path: Path, memory: str) -> Path:
    file = tmp_path / "fusion.yaml"
    file.write_text(f"version: 1\nmemory:\n{memory}")
    return file


def test_open_memory_picks_the_memory_and_overrides_the_collection(tmp_path: Path) -> None:
    one = write_config(tmp_path, "  docs: {store: chroma, path: ./s, embedder: fake}\n")
    store, root = open_memory(one)
    assert root == tmp_path and store.options.collection == "docs"  # type: ignore[attr-defined]
    store.close()
    store, _ = open_memory(one, "docs", collection="other")
    assert store.options.collection == "other"  # type: ignore[attr-defined]
    store.close()
    two = write_config(
        tmp_path, "  a: {store: ephemeral, embedder: fake}\n  b: {store: ephemeral, embedder: fake}\n"
    )
    with pytest.raises(ConfigError, match="several memories \\(a, b\\): pick one with --memory"):
        open_memory(two)
    with pytest.raises(ConfigError, match="unknown memory 'c'"):
        open_memory(two, "c")
    store, _ = open_memory(two, "b")
    assert isinstance(store, EphemeralChromaStore)


def test_open_memory_errors(tmp_path: Path) -> None:
    none = tmp_path / "none.yaml"
    none.write_text("version: 1\n")
    with pytest.raises(ConfigError, match="has no 'memory:' section"):
        open_memory(none)
    with pytest.raises(ConfigError, match="config file not found"):
        open_memory(tmp_path / "missing.yaml")
    bad = write_config(tmp_path, "  docs: {store: chroma, path: ./s, embedder: fake}\n")
    with pytest.raises(ConfigError, match="not a valid collection name"):
        open_memory(bad, collection="x")


def test_the_default_memory_without_a_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONSDK_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    store, root = open_memory(None)
    assert root == tmp_path and store.options.path == str(tmp_path / "memory")  # type: ignore[attr-defined]
    assert store.embedder.identity == "minilm:all-MiniLM-L6-v2"  # not loaded until it embeds
    store.close()
