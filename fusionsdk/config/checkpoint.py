"""The ``checkpoint:`` section of a config: where durable runs keep their state.

Example::

    checkpoint:
      postgres: postgresql://fusion@db.internal:5432/fusion   # or ${FUSION_PG_URL}
      pool: {min_size: 1, max_size: 10}
      keep_last: 20          # checkpoints kept per thread (the newest); older ones are deleted
      ttl_s: 604800          # threads untouched for a week are deleted

or ``checkpoint: {sqlite: ./runs.sqlite, keep_last: 20}``. A run's checkpoints are trimmed to
``keep_last`` when the run ends; threads older than ``ttl_s`` are swept at most once a minute.
"""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CheckpointSpec", "PoolSpec", "redact_url"]


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe for logs and errors)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


class PoolSpec(BaseModel):
    """The Postgres connection pool of one process.

    Attributes:
        min_size: Connections kept open.
        max_size: Most connections at once (runs wait for one beyond that).
        timeout_s: How long a run waits for a free connection before failing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_size: int = Field(1, ge=0)
    max_size: int = Field(10, ge=1)
    timeout_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _sizes(self) -> PoolSpec:
        if self.min_size > self.max_size:
            raise ValueError(f"min_size {self.min_size} is more than max_size {self.max_size}")
        return self


class CheckpointSpec(BaseModel):
    """A durable checkpoint store: exactly one of ``sqlite`` (a file) or ``postgres`` (a URL).

    Attributes:
        sqlite: SQLite file (relative paths resolve against the config's folder).
        postgres: Postgres URL; ``${VAR}`` parts are read from the environment.
        pool: Connection pool settings (Postgres only).
        keep_last: Checkpoints kept per thread, newest first (None keeps all). A paused run
            resumes from its newest checkpoint, so 1 is enough for resuming.
        ttl_s: Delete threads whose newest checkpoint is older than this (None: never).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sqlite: str | None = None
    postgres: str | None = None
    pool: PoolSpec = PoolSpec()
    keep_last: int | None = Field(None, ge=1)
    ttl_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_store(self) -> CheckpointSpec:
        if (self.sqlite is None) == (self.postgres is None):
            raise ValueError("give exactly one of 'sqlite' (a file) or 'postgres' (a URL)")
        if self.postgres is not None and not self.postgres.startswith(("postgres://", "postgresql://", "${")):
            raise ValueError(f"'postgres' must be a postgresql:// URL, got '{redact_url(self.postgres)}'")
        return self

    @classmethod
    def parse(cls, value: str | os.PathLike[str]) -> CheckpointSpec:
        """A spec from a command-line value: a ``postgresql://`` URL or a SQLite file."""
        text = os.fspath(value)
        if text.startswith(("postgres://", "postgresql://")):
            return cls(postgres=text)
        return cls(sqlite=text)

    @property
    def url(self) -> str:
        """The Postgres URL with ``${VAR}`` parts taken from the environment."""
        if self.postgres is None:
            raise ValueError("not a Postgres checkpoint")
        return os.path.expandvars(self.postgres)
