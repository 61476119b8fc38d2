"""Async connection pools (psycopg 3 + psycopg_pool) configured the same way in every process."""

from __future__ import annotations

import time
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from chronosched.db import jsonb

AsyncConn = AsyncConnection[dict[str, Any]]
Pool = AsyncConnectionPool[AsyncConn]

# A connection idle for longer than this is checked (one round trip) before it is handed out:
# after a database restart, stale connections are replaced instead of failing a request. Busy
# connections (reused within the second, as under load) skip the check: checking every
# checkout doubled the round trips of every API request.
CHECK_IF_IDLE_SECONDS = 1.0
_RETURNED_AT = "_chronosched_returned_at"


def connection_kwargs(statement_timeout_ms: int = 30_000) -> dict[str, Any]:
    """Connection options: dict rows, and a statement timeout so no call hangs forever."""
    return {
        "row_factory": dict_row,
        "autocommit": True,
        "options": f"-c statement_timeout={statement_timeout_ms} -c TimeZone=UTC",
    }


async def _check_if_idle(conn: AsyncConn) -> None:
    returned = getattr(conn, _RETURNED_AT, None)
    if returned is None or time.monotonic() - returned > CHECK_IF_IDLE_SECONDS:
        await AsyncConnectionPool.check_connection(conn)


async def _configure(conn: AsyncConn) -> None:
    jsonb.use_fast_loads(conn)


async def _stamp_returned(conn: AsyncConn) -> None:
    setattr(conn, _RETURNED_AT, time.monotonic())


async def open_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int = 30_000,
    name: str = "chronosched",
) -> Pool:
    """Open a pool and wait until its first connection works (fails fast on a bad URL)."""
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs=connection_kwargs(statement_timeout_ms),
        connection_class=AsyncConnection,
        open=False,
        name=name,
        check=_check_if_idle,
        configure=_configure,
        reset=_stamp_returned,
    )
    await pool.open(wait=True, timeout=30)
    return pool
