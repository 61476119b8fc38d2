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
_GENERIC_PLANS = "_chronosched_generic_plans"


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


async def use_generic_plans(conn: AsyncConn, generic: bool) -> None:
    """Make this connection's prepared statements use generic plans (or PostgreSQL's own choice
    again); one `SET` when the mode changes, nothing when it is already so.

    PostgreSQL keeps re-planning a prepared statement whenever its generic plan is estimated
    dearer than the custom ones, which for the worker's statements is always: the claim was
    planned afresh on every run (~0.3 ms of a 0.7 ms, 8-job claim; 0 generic plans in 500 runs).
    Callers switch this on for statements whose generic plan is as good as a custom one and off
    for those that must be planned with their real arrays (`queue_repo`). A connection goes back
    to the pool with the default (see `_reset`). The mode is remembered on the connection
    object: a `SET` undone by a rolled-back transaction goes unnoticed, so the worker's lanes,
    which use it, run in autocommit.
    """
    if getattr(conn, _GENERIC_PLANS, False) is generic:
        return
    await conn.execute(
        "SET plan_cache_mode = force_generic_plan" if generic else "RESET plan_cache_mode"
    )
    setattr(conn, _GENERIC_PLANS, generic)


async def _reset(conn: AsyncConn) -> None:
    """On return to the pool: back to PostgreSQL's default plan choice, and note the time."""
    await use_generic_plans(conn, False)
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
        reset=_reset,
    )
    await pool.open(wait=True, timeout=30)
    return pool
