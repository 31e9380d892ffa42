"""Locked, atomic JSON files: reading with clear errors, writing without half-written files.

Files that several runs update in place (vote weights, router models, feedback logs) are read
with :func:`read_json_file`, replaced with :func:`write_json_file` (a temporary file beside the
target, then :func:`os.replace`) and updated under :func:`locked`, so threads and processes
take turns and a reader never sees half a file.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "state.json"
    >>> with locked(path):
    ...     write_json_file(path, {"count": 1})
    >>> read_json_file(path, "state file")
    {'count': 1}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["locked", "read_json_as", "read_json_file", "write_json_file"]

T = TypeVar("T")

_PATH_LOCKS: dict[str, threading.Lock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


def read_json_file(path: Path, what: str) -> Any:
    """The parsed JSON of the file at ``path``; ``what`` names the kind of file in errors.

    Raises:
        ValueError: Missing, unreadable or not JSON (the message says which and where).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None
    except OSError as err:
        raise ValueError(f"cannot read {what} {path}: {err.strerror or err}") from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise ValueError(f"{path} is not JSON: {err}") from None


def read_json_as(path: Path, what: str, parse: Callable[[Any], T]) -> T:
    """The file at ``path`` read as JSON (:func:`read_json_file`) and turned into an object by
    ``parse``, whose ValueError comes out naming the file.

    Raises:
        ValueError: Missing, unreadable, not JSON, or refused by ``parse``.
    """
    data = read_json_file(path, what)
    try:
        return parse(data)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def write_json_file(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON atomically: a temporary file beside ``path``, then
    :func:`os.replace`, so a reader never sees half a file. The file keeps its mode."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private; keep the mode of the file it replaces, else rw-r--r--.
        os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(dict(data), out, indent=2, sort_keys=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the update lock of ``path``: a per-file thread lock, plus an advisory ``flock`` on
    ``<path>.lock`` where the platform has one, so threads and processes update in turn."""
    key = str(path.resolve())
    with _PATH_LOCKS_GUARD:
        thread_lock = _PATH_LOCKS.setdefault(key, threading.Lock())
    with thread_lock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: threads are still serialised
            yield
            return
        with open(f"{path}.lock", "a+b") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
