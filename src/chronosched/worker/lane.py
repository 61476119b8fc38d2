"""A pool connection held by one loop of the worker, bounded and replaced after any error.

Checking a connection out of the pool for every claim or completion costs a round trip (the
pool's health check) and a lock; a loop that runs thousands of statements a second keeps one
connection instead. Any error or timeout hands the connection back, where the pool discards it
if it is broken, so the next call starts on a healthy one: that is how the worker reconnects
after PostgreSQL restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

import psycopg
import psycopg_pool

from chronosched.db.pool import AsyncConn, Pool

P = ParamSpec("P")
T = TypeVar("T")

# What a database outage looks like from here; callers log, back off and retry.
DB_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.Error,
    psycopg_pool.PoolTimeout,
    TimeoutError,
    OSError,
)


class Lane:
    """One connection for one loop; every call bounded by `timeout` seconds."""

    def __init__(self, pool: Pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._conn: AsyncConn | None = None

    async def call(
        self,
        fn: Callable[Concatenate[AsyncConn, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                if self._conn is None:
                    self._conn = await self._pool.getconn()
                return await fn(self._conn, *args, **kwargs)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Hand the connection back (the pool closes it if it is broken or mid-query)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await self._pool.putconn(conn)
            except (psycopg.Error, OSError):  # pragma: no cover - pool already closed
                await conn.close()
