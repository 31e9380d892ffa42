"""Durability: a crash mid-ingest loses no acknowledged batch; a second process gets a clear
error, never a hang. Real processes, killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fusionsdk.memory.errors import StoreLocked
from fusionsdk.memory.ingest import ingest
from fusionsdk.memory.stores.chroma import EphemeralChromaStore, PersistentChromaStore
from fusionsdk.testing import FakeEmbedder

REPO = Path(__file__).resolve().parents[2]

INGEST = """
import json, sys, time
from fusionsdk.memory.ingest import ingest
from fusionsdk.memory.stores.chroma import PersistentChromaStore
from fusionsdk.testing import FakeEmbedder

slow = FakeEmbedder.embed
def embed(self, texts):  # slow enough to be killed in the middle
    time.sleep(float(sys.argv[3]))
    return slow(self, texts)
FakeEmbedder.embed = embed

store = PersistentChromaStore({"path": sys.argv[1]}, embedder=FakeEmbedder())
def acked(ids, added):
    print(json.dumps(list(ids)), flush=True)
ingest(store, [sys.argv[2]], chunk_tokens=40, overlap=8, batch_size=8, on_batch=acked)
print("done", flush=True)
"""

HOLD = """
import sys, time
from fusionsdk.memory.base import Chunk
from fusionsdk.memory.stores.chroma import PersistentChromaStore
from fusionsdk.testing import FakeEmbedder

store = PersistentChromaStore({"path": sys.argv[1]}, embedder=FakeEmbedder())
store.add([Chunk("held", "held by another process")])
print("ready", flush=True)
time.sleep(60)
"""


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for n in range(6):
        (folder / f"doc{n}.txt").write_text(
            " ".join(f"Document {n} says fact number {i}." for i in range(60))
        )
    return folder


def _unique_chunks(corpus: Path) -> int:
    with EphemeralChromaStore({}, embedder=FakeEmbedder()) as scratch:
        ingest(scratch, [corpus], chunk_tokens=40, overlap=8)
        return scratch.count()


def test_killed_ingest_keeps_every_acknowledged_batch_and_resumes(tmp_path: Path, corpus: Path) -> None:
    path = str(tmp_path / "store")
    process = _python(INGEST, path, str(corpus), "0.15")
    acked: list[str] = []
    try:
        assert process.stdout is not None
        while len(acked) < 24:  # three batches of 8
            line = process.stdout.readline()
            assert line, f"ingest ended early: {process.stderr.read() if process.stderr else ''}"
            assert line.strip() != "done", "ingest finished before it could be killed"
            acked += json.loads(line)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    total = _unique_chunks(corpus)
    with PersistentChromaStore({"path": path, "lock_timeout_s": 5}, embedder=FakeEmbedder()) as store:
        stored = {chunk.id for chunk in store.get()}
        assert set(acked) <= stored
        assert len(stored) < total, "the kill should have interrupted the ingest"
    rerun = _python(INGEST, path, str(corpus), "0")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert out.strip().endswith("done")
    with PersistentChromaStore({"path": path}, embedder=FakeEmbedder()) as store:
        assert store.count() == total  # nothing lost, nothing twice


def test_a_second_process_gets_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "store"
    holder = _python(HOLD, str(path))
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready", holder.stderr.read() if holder.stderr else ""
        store = PersistentChromaStore({"path": str(path), "lock_timeout_s": 0.5}, embedder=FakeEmbedder())
        started = time.monotonic()
        with pytest.raises(StoreLocked, match=rf"in use by pid {holder.pid} .*chroma_server") as info:
            store.count()
        assert time.monotonic() - started < 10
        assert info.value.timeout_s == 0.5 and info.value.path == str(path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with PersistentChromaStore({"path": str(path), "lock_timeout_s": 5}, embedder=FakeEmbedder()) as store:
        assert store.count() == 1  # the dead holder's lock went with it; its chunk stayed


def test_a_store_waits_for_a_lock_that_is_released_in_time(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "store"
    holder = _python(HOLD, str(path))
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    store = PersistentChromaStore({"path": str(path), "lock_timeout_s": 30}, embedder=FakeEmbedder())
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        waiting = pool.submit(store.count)
        time.sleep(0.5)
        assert not waiting.done(), "the store should wait for the lock"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert waiting.result(timeout=30) == 1
    assert 0.5 <= time.monotonic() - started < 30
    store.close()
