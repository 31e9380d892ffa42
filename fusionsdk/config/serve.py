"""The ``serve:`` and ``state:`` sections of a config: what ``fusionsdk serve`` reads.

Example::

    serve:
      keys:
        - name: alice
          sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
          budget_usd: 5.0
          requests_per_minute: 60
          tokens_per_minute: 20000
          models: [smol, "graph:quickstart"]
      max_queue: 64
    state:
      redis: redis://127.0.0.1:6379/0

API keys are stored as SHA-256 hex digests, never in clear. With no key at all (neither here nor
in ``FUSIONSDK_API_KEYS``), the server needs none. Without ``state.redis`` every process keeps its
own breakers, rate limits and budgets; with it, every replica shares them.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ApiKeySpec", "ServeSpec", "StateSpec"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiKeySpec(_Strict):
    """One API key: its digest and what it may do.

    Attributes:
        name: A label for logs and metrics (never the key).
        sha256: Hex SHA-256 digest of the key.
        budget_usd: USD the key may spend in total (None: unlimited).
        requests_per_minute: Requests in any sliding minute (None: unlimited).
        tokens_per_minute: Tokens in any sliding minute (None: unlimited).
        models: Served names it may call (``smol``, ``graph:quickstart``); empty allows all.
    """

    name: str = Field(min_length=1)
    sha256: str
    budget_usd: float | None = Field(None, ge=0)
    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(None, ge=1)
    models: tuple[str, ...] = ()

    @field_validator("sha256")
    @classmethod
    def _check_digest(cls, value: str) -> str:
        value = value.strip().lower()
        if not _SHA256.match(value):
            raise ValueError("must be a SHA-256 hex digest (64 hex digits), never the key itself")
        return value


class ServeSpec(_Strict):
    """How the server runs.

    Attributes:
        keys: API keys (digests) with their limits.
        max_concurrency: Requests running at once in one process.
        max_queue: Requests waiting for a slot; one more gets 429.
        max_body_bytes: Largest request body accepted (413 beyond).
        request_timeout_s: Limit of one request (504 beyond).
        cors_origins: Origins allowed by CORS; empty turns CORS off.
    """

    keys: tuple[ApiKeySpec, ...] = ()
    max_concurrency: int = Field(64, ge=1)
    max_queue: int = Field(256, ge=0)
    max_body_bytes: int = Field(4_000_000, ge=1024)
    request_timeout_s: float = Field(600.0, gt=0)
    cors_origins: tuple[str, ...] = ()


class StateSpec(_Strict):
    """Where state shared by replicas lives.

    Attributes:
        redis: A ``redis://`` URL; breakers, cooldowns, rate limits, budgets and in-flight
            counts then live there. None keeps them in the process.
        prefix: Prefix of every key (several deployments can share one Redis).
    """

    redis: str | None = None
    prefix: str = "fusionsdk"

    @field_validator("redis")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value
