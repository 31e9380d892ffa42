"""Durable checkpoint stores for graph runs: SQLite files and Postgres, with retention.

A :class:`CheckpointStore` hands LangGraph a saver for one run and, when the run ends, trims
the run's thread to ``keep_last`` checkpoints and sweeps threads older than ``ttl_s``. The
Postgres store keeps one connection pool per event loop for the life of the graph (close it
with :meth:`Graph.aclose <fusionsdk.graph.run.Graph.aclose>`), and creates its tables on
first use. Checkpoint ids are LangGraph's time-ordered UUIDs, so "newest" is "largest id" and a
checkpoint's time is read from its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fusionsdk.config.checkpoint import CheckpointSpec, redact_url
from fusionsdk.errors import GraphError, require_extra

__all__ = ["CheckpointStore", "PostgresCheckpoints", "SqliteCheckpoints", "checkpoint_time", "open_store"]

#: Seconds between two TTL sweeps of one store.
SWEEP_EVERY_S = 60.0
_UUID_EPOCH = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 to 1970-01-01


def checkpoint_time(checkpoint_id: str) -> float:
    """The Unix time a checkpoint was written, read from its (UUID v6) id."""
    digits = uuid.UUID(checkpoint_id).hex
    return (int(digits[0:12] + digits[13:16], 16) - _UUID_EPOCH) / 1e7


class CheckpointStore:
    """A durable store for graph checkpoints (base of the SQLite and Postgres stores)."""

    def __init__(self, spec: CheckpointSpec) -> None:
        self.spec = spec
        self._last_sweep = 0.0

    def saver(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """A LangGraph checkpoint saver for one run."""
        raise NotImplementedError

    async def _threads(self, saver: Any) -> dict[str, str]:
        """Every thread with its newest checkpoint id."""
        raise NotImplementedError

    async def _trim(self, saver: Any, thread_id: str, keep: int) -> None:
        raise NotImplementedError

    async def retain(self, saver: Any, thread_id: str) -> None:
        """Apply retention after a run of ``thread_id``: keep its newest ``keep_last``
        checkpoints, and (at most once a minute) delete threads older than ``ttl_s``."""
        if self.spec.keep_last is not None:
            await self._trim(saver, thread_id, self.spec.keep_last)
        if self.spec.ttl_s is not None and time.monotonic() - self._last_sweep >= SWEEP_EVERY_S:
            await self.sweep(saver)

    async def sweep(self, saver: Any) -> list[str]:
        """Delete every thread whose newest checkpoint is older than ``ttl_s``; return their ids."""
        self._last_sweep = time.monotonic()
        if self.spec.ttl_s is None:
            return []
        cutoff = time.time() - self.spec.ttl_s
        expired = [
            t for t, newest in (await self._threads(saver)).items() if checkpoint_time(newest) < cutoff
        ]
        for thread_id in expired:
            await saver.adelete_thread(thread_id)
        return expired

    async def aclose(self) -> None:
        """Release connections (nothing for SQLite)."""


class SqliteCheckpoints(CheckpointStore):
    """Checkpoints in a SQLite file (one machine; the file is opened for each run)."""

    def __init__(self, spec: CheckpointSpec, base_dir: Path | None = None) -> None:
        super().__init__(spec)
        path = Path(spec.sqlite or "")
        self.path = path if path.is_absolute() or base_dir is None else base_dir / path

    @contextlib.asynccontextmanager
    async def saver(self) -> AsyncIterator[Any]:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        self.path.parent.mkdir(parents=True, exist_ok=True)
        async with AsyncSqliteSaver.from_conn_string(str(self.path)) as saver:
            yield saver

    async def _threads(self, saver: Any) -> dict[str, str]:
        await saver.setup()
        async with saver.conn.execute(
            "SELECT thread_id, MAX(checkpoint_id) FROM checkpoints GROUP BY thread_id"
        ) as cursor:
            return {str(t): str(c) for t, c in await cursor.fetchall()}

    async def _trim(self, saver: Any, thread_id: str, keep: int) -> None:
        await saver.setup()
        async with saver.lock:
            await saver.conn.execute(
                """DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id NOT IN (
                       SELECT checkpoint_id FROM checkpoints AS newest
                       WHERE newest.thread_id = ? AND newest.checkpoint_ns = checkpoints.checkpoint_ns
                       ORDER BY checkpoint_id DESC LIMIT ?)""",
                (thread_id, thread_id, keep),
            )
            await saver.conn.execute(
                """DELETE FROM writes WHERE thread_id = ? AND NOT EXISTS (
                       SELECT 1 FROM checkpoints AS c WHERE c.thread_id = writes.thread_id
                       AND c.checkpoint_ns = writes.checkpoint_ns
                       AND c.checkpoint_id = writes.checkpoint_id)""",
                (thread_id,),
            )
            await saver.conn.commit()


_PG_TRIM = (
    """DELETE FROM checkpoints AS c USING (
           SELECT checkpoint_ns, checkpoint_id, row_number() OVER (
               PARTITION BY checkpoint_ns ORDER BY checkpoint_id DESC) AS n
           FROM checkpoints WHERE thread_id = %(t)s) AS ranked
       WHERE c.thread_id = %(t)s AND c.checkpoint_ns = ranked.checkpoint_ns
         AND c.checkpoint_id = ranked.checkpoint_id AND ranked.n > %(keep)s""",
    """DELETE FROM checkpoint_writes AS w WHERE w.thread_id = %(t)s AND NOT EXISTS (
           SELECT 1 FROM checkpoints AS c WHERE c.thread_id = w.thread_id
           AND c.checkpoint_ns = w.checkpoint_ns AND c.checkpoint_id = w.checkpoint_id)""",
    # a blob is a channel's value at one version; it is kept while a kept checkpoint refers to it
    """DELETE FROM checkpoint_blobs AS b WHERE b.thread_id = %(t)s AND NOT EXISTS (
           SELECT 1 FROM checkpoints AS c WHERE c.thread_id = b.thread_id
           AND c.checkpoint_ns = b.checkpoint_ns
           AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)""",
)


class PostgresCheckpoints(CheckpointStore):
    """Checkpoints in Postgres, through a connection pool (one per event loop), so runs resume
    on any process or machine that reaches the database."""

    def __init__(self, spec: CheckpointSpec) -> None:
        super().__init__(spec)
        self._pools: dict[asyncio.AbstractEventLoop, Any] = {}
        self._ready = False

    async def _pool(self) -> Any:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is not None:
            return pool
        require_extra("psycopg_pool", "postgres", "Postgres checkpoints")
        require_extra("langgraph.checkpoint.postgres", "postgres", "Postgres checkpoints")
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        options = self.spec.pool
        pool = AsyncConnectionPool(
            self.spec.url,
            min_size=options.min_size,
            max_size=options.max_size,
            timeout=options.timeout_s,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=options.timeout_s)
        except Exception as err:
            await pool.close()
            raise GraphError(
                f"cannot reach the Postgres checkpoint store {redact_url(self.spec.url)}: "
                f"{type(err).__name__}"
            ) from None
        self._pools[loop] = pool
        return pool

    @contextlib.asynccontextmanager
    async def saver(self) -> AsyncIterator[Any]:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        saver = AsyncPostgresSaver(await self._pool())
        if not self._ready:
            await saver.setup()  # creates or migrates the tables; idempotent
            self._ready = True
        yield saver

    async def _threads(self, saver: Any) -> dict[str, str]:
        async with saver.conn.connection() as conn, conn.cursor() as cur:
            await cur.execute(
                "SELECT thread_id, MAX(checkpoint_id) AS newest FROM checkpoints GROUP BY thread_id"
            )
            return {str(row["thread_id"]): str(row["newest"]) for row in await cur.fetchall()}

    async def _trim(self, saver: Any, thread_id: str, keep: int) -> None:
        async with saver.conn.connection() as conn, conn.transaction(), conn.cursor() as cur:
            for sql in _PG_TRIM:
                await cur.execute(sql, {"t": thread_id, "keep": keep})

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        loop = asyncio.get_running_loop()
        for owner, pool in pools.items():
            if owner is loop:
                await pool.close()
            elif not owner.is_closed():
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(pool.close(), owner))


def open_store(spec: CheckpointSpec, base_dir: Path | None = None) -> CheckpointStore:
    """The store for ``spec`` (nothing is connected until a run needs it)."""
    if spec.postgres is not None:
        return PostgresCheckpoints(spec)
    return SqliteCheckpoints(spec, base_dir)
