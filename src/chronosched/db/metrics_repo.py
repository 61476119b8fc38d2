"""Aggregates for `/metrics` and the UI overview: jobs by state and kind, workers, the clock.

Read-only and cheap (one aggregate each); the callers cache the answer for a few seconds.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from chronosched.db import queries
from chronosched.db.pool import AsyncConn


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """What one scrape reads from the database."""

    jobs: dict[tuple[str, str], int]  # (status, kind) -> live jobs
    workers_alive: int
    workers_silent: int


async def snapshot(conn: AsyncConn) -> Snapshot:
    """Jobs by (status, kind) and workers by liveness, in two short queries."""
    cur = await conn.execute(queries.get("metrics_jobs_by_status_kind"))
    jobs = {(row["status"], row["kind"]): int(row["n"]) for row in await cur.fetchall()}
    cur = await conn.execute(queries.get("metrics_workers_alive"))
    row = await cur.fetchone()
    alive = int(row["alive"]) if row else 0
    silent = int(row["silent"]) if row else 0
    return Snapshot(jobs=jobs, workers_alive=alive, workers_silent=silent)


async def database_now(conn: AsyncConn) -> datetime:
    """The database's `now()` (DESIGN §1: all time comes from the database)."""
    cur = await conn.execute(queries.get("metrics_database_now"))
    row = await cur.fetchone()
    assert row is not None
    now: datetime = row["now"]
    return now
