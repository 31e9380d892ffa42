"""A real PostgreSQL server on 127.0.0.1, in a temporary folder, for the tests.

The server binaries come from the machine (Debian's ``postgresql`` package puts them under
``/usr/lib/postgresql/<version>/bin``; README's test command installs it where it can). When
they are missing, :func:`postgres_binaries` returns None and the tests that need Postgres skip
with that reason. ``initdb`` refuses to run as root, so as root the cluster is created and run
as the ``postgres`` user (or ``nobody``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers.base import free_port

__all__ = ["SKIP_REASON", "PostgresServer", "postgres_binaries"]

SKIP_REASON = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install -y postgresql "
    "(README's test command does this when run as root)"
)


def postgres_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    return None


def _run_as() -> str | None:
    """The user the server runs as when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


class PostgresServer:
    """``with PostgresServer() as pg: pg.url`` - a throwaway cluster, trust auth, one database."""

    def __init__(self) -> None:
        binaries = postgres_binaries()
        if binaries is None:
            raise RuntimeError(SKIP_REASON)
        self.bin = binaries
        self.port = free_port()
        self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="fusion-pg-"))
        self.data = self.root / "data"
        self.url = f"postgresql://fusion@127.0.0.1:{self.port}/fusion"

    def _cmd(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def __enter__(self) -> PostgresServer:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._cmd("initdb", "-D", str(self.data), "-U", "fusion", "-A", "trust", "--no-sync", "-E", "UTF8")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        self._cmd("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        self._cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "fusion", "fusion")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
