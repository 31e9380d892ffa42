"""Retrieval that finds nothing is a warning (an error with ``strict: true``), and a RAG answer
always says what its sources are (issue 15, item 3)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import yaml

from fusionsdk.cli.app import main
from fusionsdk.graph import compile_config

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How long is the warranty on the Lumen lamp?"


@pytest.fixture
def rag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/rag.yaml as written (embedded Chroma next to the config), with SmolLM2 and the
    MiniLM embedder replaced by fakes; `memory add` not run yet."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "examples" / "docs", tmp_path / "docs")
    data = yaml.safe_load((ROOT / "examples" / "rag.yaml").read_text())
    data["models"]["smol"] = {"provider": "fake", "options": {"responses": ["It is 10 years [1]."]}}
    data["memory"]["docs"]["embedder"] = "fake"
    path = tmp_path / "rag.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_rag_example_before_memory_add_warns(rag: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(rag), QUESTION, "--json"]) == 0
    out, err = capsys.readouterr()
    assert "warning: retrieve 'retrieve': memory 'docs' has no store at" in err
    assert "fusionsdk memory add" in err and "answering without retrieved context" in err
    result = json.loads(out)
    assert result["answer"].startswith("It is 10 years [1].\n\nSources: none (nothing was retrieved: ")
    retrieve = next(d for d in result["decisions"] if d["type"] == "retrieve")
    assert retrieve["hits"] == [] and "has no store" in retrieve["warning"]
    assert not (rag.parent / ".fusionsdk" / "rag-store").exists()  # no empty store left behind

    assert main(["memory", "add", "--config", str(rag), "docs", "--json"]) == 0
    capsys.readouterr()
    assert main(["run", str(rag), QUESTION, "--json"]) == 0
    out, err = capsys.readouterr()
    assert "warning" not in err
    assert "Sources:\n[1] docs/" in json.loads(out)["answer"]


def test_strict_retrieve_fails_the_run(rag: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(rag.read_text())
    data["nodes"]["retrieve"]["strict"] = True
    rag.write_text(yaml.safe_dump(data))
    assert main(["run", str(rag), QUESTION]) == 1
    err = capsys.readouterr().err
    assert "error: retrieve 'retrieve': memory 'docs' has no store at" in err


def rag_config(**retrieve: object) -> dict[str, object]:
    return {
        "version": 1,
        "models": {"smol": {"provider": "fake", "options": {"responses": ["It is 3 years."]}}},
        "memory": {"docs": {"store": "ephemeral", "embedder": "fake"}},
        "nodes": {
            "retrieve": {"kind": "retrieve", "memory": "docs", **retrieve},
            "answer": {"kind": "agent", "model": "smol", "prompt": "{context}\n\nQuestion: {task}"},
            "cite": {"kind": "cite"},
        },
        "edges": [["START", "retrieve"], ["retrieve", "answer"], ["answer", "cite"], ["cite", "END"]],
    }


async def test_an_empty_store_warns_and_the_answer_says_no_sources(caplog: pytest.LogCaptureFixture) -> None:
    graph = compile_config(rag_config())
    with caplog.at_level(logging.WARNING, logger="fusionsdk"):
        result = await graph.arun(QUESTION)
    assert any("memory 'docs' is empty" in r.getMessage() for r in caplog.records)
    assert result.answer.endswith(
        "Sources: none (nothing was retrieved: memory 'docs' is empty: "
        "add files first: fusionsdk memory add --config CONFIG --memory docs FILES)"
    )


async def test_filters_that_match_nothing_say_so() -> None:
    from fusionsdk.memory.base import Chunk

    graph = compile_config(rag_config(where={"trust": "trusted"}))
    graph.context.memory("docs").add([Chunk("x", "The lamp has a 3-year warranty.", {"source": "a.md"})])
    result = await graph.arun(QUESTION)
    retrieve = next(d for d in result.decisions if d["type"] == "retrieve")
    assert "no chunk of memory 'docs' matched" in retrieve["warning"]
