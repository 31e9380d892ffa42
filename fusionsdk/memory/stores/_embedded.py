"""One embedded Chroma client per folder per process, guarded by a file lock across processes.

Chroma's embedded mode is not safe for two processes writing one folder. The first store to open
a folder in a process takes an exclusive file lock in it (waiting up to ``timeout_s``, then
raising :class:`~fusionsdk.memory.errors.StoreLocked`, never hanging) and writes who holds it;
later stores of the same process share that client. The lock goes with the last store closed,
or with the process: the operating system frees it even after ``kill -9``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionsdk.errors import require_extra
from fusionsdk.memory.errors import MemoryStoreError, StoreLocked

__all__ = ["LOCK_FILE", "OWNER_FILE", "acquire_client", "chroma_settings", "release_client"]

LOCK_FILE = ".fusionsdk.lock"
OWNER_FILE = ".fusionsdk.owner"


@dataclass
class _Handle:
    client: Any
    lock: Any
    users: int


_OPEN: dict[str, _Handle] = {}
_GUARD = threading.Lock()


def chroma_settings(**overrides: Any) -> Any:
    """Chroma settings with telemetry off (no traffic beyond the store itself)."""
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    config = require_extra("chromadb.config", "memory", "Chroma memory stores")
    return config.Settings(anonymized_telemetry=False, **overrides)


def _holder(folder: Path) -> str | None:
    try:
        return (folder / OWNER_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _lock(folder: Path, timeout_s: float) -> Any:
    from filelock import FileLock, Timeout

    # not thread-local: a store may be opened in a worker thread and closed in another
    lock = FileLock(str(folder / LOCK_FILE), timeout=timeout_s, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise StoreLocked(str(folder), timeout_s, _holder(folder)) from None
    with contextlib.suppress(OSError):  # only used to say who holds the lock
        (folder / OWNER_FILE).write_text(f"pid {os.getpid()} on {socket.gethostname()}\n", encoding="utf-8")
    return lock


def acquire_client(folder: Path, timeout_s: float) -> Any:
    """The embedded Chroma client of ``folder``, locking the folder on first use in the process.

    Raises:
        StoreLocked: Another process holds the folder beyond ``timeout_s``.
        MemoryStoreError: The folder cannot be created or Chroma cannot open it.
    """
    key = str(folder.resolve())
    with _GUARD:
        handle = _OPEN.get(key)
        if handle is not None:
            handle.users += 1
            return handle.client
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise MemoryStoreError(
                f"cannot create the memory store folder {folder}: {err.strerror}"
            ) from None
        chromadb = require_extra("chromadb", "memory", "Chroma memory stores")
        lock = _lock(folder, timeout_s)
        try:
            client = chromadb.PersistentClient(path=key, settings=chroma_settings())
        except Exception as err:  # chroma raises many kinds; none may escape raw
            lock.release()
            raise MemoryStoreError(f"chroma could not open the store {folder}: {err}") from None
        _OPEN[key] = _Handle(client, lock, 1)
        return client


def release_client(folder: Path) -> None:
    """Give back one use of ``folder``'s client; the last one closes it and frees the lock."""
    key = str(folder.resolve())
    with _GUARD:
        handle = _OPEN.get(key)
        if handle is None:
            return
        handle.users -= 1
        if handle.users > 0:
            return
        del _OPEN[key]
        try:
            handle.client.close()
        finally:
            with contextlib.suppress(OSError):
                (folder / OWNER_FILE).unlink(missing_ok=True)
            handle.lock.release()
