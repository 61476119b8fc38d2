"""Async connection pools (psycopg 3 + psycopg_pool) configured the same way in every process."""

from __future__ import annotations

import os
import time
from typing import Any

from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
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


def connection_kwargs(statement_timeout_ms: int = 30_000, conninfo: str = "") -> dict[str, Any]:
    """Connection options: dict rows, a statement timeout so no call hangs forever, UTC, no JIT.

    JIT compilation is off: every statement here is short OLTP work, and a plan that crossed
    `jit_above_cost` (Debian's PostgreSQL ships with JIT on) would pay tens of milliseconds of
    compiling for it. The URL's own `options` (or, without them, PGOPTIONS, which libpq would
    otherwise ignore once we pass options) come after ours, so a user's setting wins.
    """
    ours = f"-c statement_timeout={statement_timeout_ms} -c TimeZone=UTC -c jit=off"
    theirs = conninfo_to_dict(conninfo).get("options") or os.environ.get("PGOPTIONS", "")
    return {
        "row_factory": dict_row,
        "autocommit": True,
        "options": f"{ours} {theirs}".strip(),
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
        kwargs=connection_kwargs(statement_timeout_ms, url),
        connection_class=AsyncConnection,
        open=False,
        name=name,
        check=_check_if_idle,
        configure=_configure,
        reset=_stamp_returned,
    )
    await pool.open(wait=True, timeout=30)
    return pool
