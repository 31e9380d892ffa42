"""Durable checkpoints: the ``checkpoint:`` config section, SQLite and a real Postgres server,
retention (keep the newest N per thread, TTL), resume across processes, and crash recovery."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from fusionsdk.config.checkpoint import CheckpointSpec, redact_url
from fusionsdk.errors import ConfigError, GraphError
from fusionsdk.graph import compile_config
from fusionsdk.graph.checkpoint import checkpoint_time, open_store
from tests.graph.test_run import human_config
from tests.servers.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


def with_checkpoint(**spec: Any) -> dict[str, Any]:
    return {**human_config(), "checkpoint": spec}


def test_checkpoint_section_is_validated() -> None:
    with pytest.raises(ConfigError, match="exactly one of 'sqlite'"):
        compile_config(with_checkpoint(sqlite="a.sqlite", postgres="postgresql://x/y"))
    with pytest.raises(ConfigError, match="keep_last"):
        compile_config(with_checkpoint(sqlite="a.sqlite", keep_last=0))
    with pytest.raises(ConfigError, match="must be a postgresql:// URL, got 'mysql://u:\\*\\*\\*@h/d'"):
        compile_config(with_checkpoint(postgres="mysql://u:secret@h/d"))
    assert CheckpointSpec.parse("postgresql://h/d").postgres == "postgresql://h/d"
    assert CheckpointSpec.parse(Path("x.sqlite")).sqlite == "x.sqlite"
    assert redact_url("postgresql://fusion:hunter2@db:5432/f") == "postgresql://fusion:***@db:5432/f"


def test_unreachable_postgres_names_the_url_without_its_password() -> None:
    spec = CheckpointSpec(postgres="postgresql://u:hunter2@127.0.0.1:9/none", pool={"timeout_s": 1})
    graph = compile_config(human_config())
    with pytest.raises(GraphError, match=r"cannot reach .*u:\*\*\*@127.0.0.1:9") as caught:
        graph.run("write", checkpoint=spec)
    assert "hunter2" not in str(caught.value)


async def test_sqlite_from_the_config_section_with_retention(tmp_path: Path) -> None:
    graph = compile_config(with_checkpoint(sqlite="runs.sqlite", keep_last=2), base_dir=tmp_path)
    for _ in range(4):  # each pause and resume adds checkpoints to the same thread
        paused = await graph.arun("write", thread_id="t")
        assert paused.interrupted is not None
        done = await graph.aresume("t", "ok")
        assert done.answer == "ok"
    await graph.arun("write", thread_id="t")
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = 't'").fetchone() == (2,)
        orphans = db.execute(
            "SELECT COUNT(*) FROM writes w WHERE NOT EXISTS (SELECT 1 FROM checkpoints c "
            "WHERE c.checkpoint_id = w.checkpoint_id)"
        ).fetchone()
        assert orphans == (0,)
    fresh = compile_config(with_checkpoint(sqlite="runs.sqlite", keep_last=2), base_dir=tmp_path)
    assert (await fresh.aresume("t", "after trimming")).answer == "after trimming"


async def test_ttl_sweeps_old_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = CheckpointSpec(sqlite=str(tmp_path / "ttl.sqlite"), ttl_s=3600)
    graph = compile_config(human_config())
    await graph.arun("write", thread_id="old", checkpoint=spec)
    store = open_store(spec)
    async with store.saver() as saver:
        assert await store.sweep(saver) == []
        monkeypatch.setattr(time, "time", lambda: checkpoint_time(str(_newest(tmp_path))) + 7200)
        assert await store.sweep(saver) == ["old"]
    with pytest.raises(GraphError, match="nothing waiting"):
        await graph.aresume("old", "x", checkpoint=spec)


def _newest(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "ttl.sqlite") as db:
        return str(db.execute("SELECT MAX(checkpoint_id) FROM checkpoints").fetchone()[0])


def _pg_counts(url: str, thread: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT COUNT(*) FROM {table} WHERE thread_id = %s", (thread,)).fetchone()[0]
            for table in ("checkpoints", "checkpoint_writes", "checkpoint_blobs")
        }


@pytest.mark.integration
async def test_postgres_retention_keeps_tables_bounded(postgres_server: PostgresServer) -> None:
    spec = CheckpointSpec(postgres=postgres_server.url, keep_last=2, pool={"max_size": 4})
    graph = compile_config(human_config())
    counts = []
    for _ in range(5):
        await graph.arun("write", thread_id="bounded", checkpoint=spec)
        await graph.aresume("bounded", "fine", checkpoint=spec)
        counts.append(_pg_counts(postgres_server.url, "bounded"))
    assert all(c["checkpoints"] == 2 for c in counts)
    assert counts[-1] == counts[1]  # blobs and writes stop growing too
    paused = await graph.arun("write", thread_id="bounded", checkpoint=spec)
    assert paused.interrupted is not None
    await graph.aclose()


@pytest.mark.integration
async def test_postgres_ttl(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = CheckpointSpec(postgres=postgres_server.url, ttl_s=60)
    graph = compile_config(human_config())
    await graph.arun("write", thread_id="stale", checkpoint=spec)
    store = graph._store(spec)
    assert store is not None
    async with store.saver() as saver:
        monkeypatch.setattr(time, "time", lambda: time.monotonic() + 10**10)
        assert "stale" in await store.sweep(saver)
    assert _pg_counts(postgres_server.url, "stale") == {
        "checkpoints": 0,
        "checkpoint_writes": 0,
        "checkpoint_blobs": 0,
    }
    await graph.aclose()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from fusionsdk.cli.app import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.integration
def test_postgres_human_in_the_loop_resumes_in_another_process(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    config = {**human_config(), "checkpoint": {"postgres": postgres_server.url, "keep_last": 5}}
    path = tmp_path / "graph.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    paused = _cli("run", str(path), "write", "--thread", "hitl", "--json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["interrupted"]["question"] == "OK?"
    done = _cli("run", str(path), "--thread", "hitl", "--resume", "signed off", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "signed off"
    assert _pg_counts(postgres_server.url, "hitl")["checkpoints"] <= 5


# -- crash and recovery --------------------------------------------------------------------


def _calls(path: Path) -> Counter[str]:
    return Counter(path.read_text(encoding="utf-8").splitlines()) if path.exists() else Counter()


def _worker(store: str, calls: Path, mode: str, slow: str = "") -> subprocess.Popen[str]:
    env = {**os.environ, "CRASH_SLOW": slow}
    command = [sys.executable, "-m", "tests.graph.crash_worker", store, str(calls), "crash", mode]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def crash_and_continue(store: str, tmp_path: Path) -> None:
    """Kill a run (SIGKILL) while its panel waits on model c, continue it in a new process, and
    check that no saved step is lost or run again."""
    calls = tmp_path / "calls.log"
    victim = _worker(store, calls, "run", slow="c")
    deadline = time.monotonic() + 90
    while _calls(calls)["start c"] == 0:  # the panel is under way
        assert victim.poll() is None, victim.communicate()[1]
        assert time.monotonic() < deadline, "the panel never started"
        time.sleep(0.05)
    time.sleep(0.2)  # b answers meanwhile (its call is done, its step is not)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    before = _calls(calls)
    assert before == Counter({"start a": 1, "done a": 1, "start b": 1, "done b": 1, "start c": 1})

    survivor = _worker(store, calls, "continue")
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    result = json.loads(out.splitlines()[-1])
    assert result["answer"] == "42"
    assert result["nodes"] == ["first", "panel", "fuse"]  # the saved step is in the trace
    after = _calls(calls) - before
    # step "first" was saved before the kill: model a is not asked again; the panel, killed
    # half way, runs again as a whole (b and c once each)
    assert after == Counter({"start b": 1, "done b": 1, "start c": 1, "done c": 1})


@pytest.mark.integration
def test_crash_resume_sqlite(tmp_path: Path) -> None:
    crash_and_continue(str(tmp_path / "crash.sqlite"), tmp_path)


@pytest.mark.integration
def test_crash_resume_postgres(postgres_server: PostgresServer, tmp_path: Path) -> None:
    crash_and_continue(postgres_server.url, tmp_path)


def test_continue_needs_an_unfinished_run(tmp_path: Path) -> None:
    graph = compile_config(human_config())
    store = tmp_path / "done.sqlite"
    with pytest.raises(GraphError, match="no unfinished run to continue"):
        graph.continue_("never-ran", checkpoint=store)
