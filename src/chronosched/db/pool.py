"""Async connection pools (psycopg 3 + psycopg_pool) configured the same way in every process."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

AsyncConn = AsyncConnection[dict[str, Any]]
Pool = AsyncConnectionPool[AsyncConn]


def connection_kwargs(statement_timeout_ms: int = 30_000) -> dict[str, Any]:
    """Connection options: dict rows, and a statement timeout so no call hangs forever."""
    return {
        "row_factory": dict_row,
        "autocommit": True,
        "options": f"-c statement_timeout={statement_timeout_ms} -c TimeZone=UTC",
    }


async def open_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int = 30_000,
    name: str = "chronosched",
) -> Pool:
    """Open a pool and wait until its first connection works (fails fast on a bad URL).

    No `check` callback: it would add a round trip to every checkout (every API request). A
    connection broken by a database restart fails its one request, and the pool discards it
    when it comes back in a bad state.
    """
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs=connection_kwargs(statement_timeout_ms),
        connection_class=AsyncConnection,
        open=False,
        name=name,
    )
    await pool.open(wait=True, timeout=30)
    return pool
