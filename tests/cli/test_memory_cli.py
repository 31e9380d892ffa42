"""``fusionsdk memory add | query | stats`` on a store on disk with the fake embedder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fusionsdk.cli.app import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lamp.md").write_text("# Lamp\n\nThe Lumen lamp has a 3-year warranty.\n")
    (docs / "returns.txt").write_text("Returns are accepted within 45 days.\n")
    file = tmp_path / "fusion.yaml"
    file.write_text(
        "version: 1\n"
        "memory:\n"
        "  docs: {store: chroma, path: ./store, embedder: fake, lock_timeout_s: 0.3}\n"
        "  notes: {store: chroma, path: ./store, collection: notes, embedder: fake}\n"
    )
    return file


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_add_query_stats(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = str(config.parent / "docs")
    code, out, _ = run(capsys, "memory", "add", "-c", str(config), "-m", "docs", docs, "--trust", "trusted")
    assert code == 0 and "2 files, 2 chunks: 2 added, 0 already stored" in out and "holds 2" in out
    code, out, _ = run(capsys, "memory", "add", "-c", str(config), "-m", "docs", docs, "--json")
    assert code == 0 and json.loads(out) == {
        "files": 2,
        "chunks": 2,
        "added": 0,
        "duplicates": 2,
        "removed": 0,
        "sources": {"docs/lamp.md": 1, "docs/returns.txt": 1},
        "total": 2,
    }
    code, out, _ = run(
        capsys, "memory", "query", "-c", str(config), "-m", "docs", "lamp warranty", "--k", "1", "--json"
    )
    [hit] = json.loads(out)
    assert code == 0 and hit["metadata"]["source"] == "docs/lamp.md" and hit["metadata"]["trust"] == "trusted"
    code, out, _ = run(
        capsys, "memory", "query", "-c", str(config), "-m", "docs", "lamp warranty", "-k", "2", "--mmr"
    )
    assert code == 0 and out.startswith("[1] docs/") and "[2] docs/" in out
    code, out, _ = run(
        capsys,
        "memory",
        "query",
        "-c",
        str(config),
        "-m",
        "docs",
        "days",
        "--where",
        "source=docs/returns.txt",
        "--where",
        "chunk=0",
        "--json",
    )
    assert [h["metadata"]["source"] for h in json.loads(out)] == ["docs/returns.txt"]
    code, out, _ = run(
        capsys, "memory", "query", "-c", str(config), "-m", "docs", "x", "--where", "source=none"
    )
    assert code == 0 and "no matching chunks" in out
    code, out, _ = run(capsys, "memory", "stats", "-c", str(config), "-m", "docs", "--json")
    stats = json.loads(out)
    assert (stats["chunks"], stats["collection"], stats["trust"], stats["sensitive"]) == (
        2,
        "docs",
        {"trusted": 2},
        0,
    )
    assert stats["embedder"] == "fusionsdk.testing.fakes:FakeEmbedder"
    code, out, _ = run(capsys, "memory", "stats", "-c", str(config), "-m", "docs")
    assert code == 0 and "2 chunks in collection docs" in out and "docs/lamp.md" in out


def test_collections_and_sensitivity(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = str(config.parent / "docs" / "lamp.md")
    assert (
        run(
            capsys,
            "memory",
            "add",
            "-c",
            str(config),
            "-m",
            "notes",
            "--collection",
            "private",
            "--sensitive",
            docs,
        )[0]
        == 0
    )
    _, out, _ = run(
        capsys, "memory", "stats", "-c", str(config), "-m", "notes", "--collection", "private", "--json"
    )
    assert json.loads(out)["sensitive"] == 1
    _, out, _ = run(capsys, "memory", "stats", "-c", str(config), "-m", "notes", "--json")
    assert json.loads(out)["chunks"] == 0


def test_the_default_memory_needs_no_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FUSIONSDK_HOME", str(tmp_path / "home"))
    code, out, _ = run(capsys, "memory", "stats", "--json")
    assert code == 0 and json.loads(out)["chunks"] == 0
    assert json.loads(out)["path"] == str(tmp_path / "home" / "memory")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["memory", "stats", "-c", "{config}"], 2, "several memories (docs, notes): pick one with --memory"),
        (["memory", "stats", "-c", "{config}", "-m", "nope"], 2, "unknown memory 'nope'"),
        (["memory", "stats", "-c", "{missing}"], 2, "config file not found"),
        (["memory", "add", "-c", "{config}", "-m", "docs", "{missing}"], 1, "no such file or folder"),
        (["memory", "add", "-c", "{config}", "-m", "docs", "{config}"], 1, "unknown file type '.yaml'"),
        (
            ["memory", "add", "-c", "{config}", "-m", "docs", "--trust", "maybe", "{docs}"],
            2,
            "trust: must be one of",
        ),
        (
            ["memory", "add", "-c", "{config}", "-m", "docs", "--chunk-tokens", "2", "{docs}"],
            2,
            "chunk_tokens",
        ),
        (["memory", "query", "-c", "{config}", "-m", "docs", "x", "--k", "0"], 2, "--k: must be at least 1"),
        (
            ["memory", "query", "-c", "{config}", "-m", "docs", "x", "--where", "novalue"],
            2,
            "--where[0]: expected key=value",
        ),
        (
            ["memory", "query", "-c", "{config}", "-m", "docs", "x", "--collection", "a"],
            2,
            "not a valid collection name",
        ),
    ],
)
def test_bad_inputs(
    config: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    names = {
        "config": str(config),
        "missing": str(config.parent / "missing.yaml"),
        "docs": str(config.parent / "docs"),
    }
    got, _, err = run(capsys, *[a.format(**names) for a in args])
    assert got == code and message in " ".join(err.split()), err


def test_a_store_held_by_another_process_is_a_clear_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hold = (
        "import sys, time\n"
        "from fusionsdk.memory.hub import open_memory\n"
        "store, _ = open_memory(sys.argv[1], 'docs')\n"
        "store.count()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(config)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        code, _, err = run(capsys, "memory", "stats", "-c", str(config), "-m", "docs")
        assert code == 1 and f"is in use by pid {holder.pid}" in " ".join(err.split())
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
