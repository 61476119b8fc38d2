"""The cron scheduler's side of the database: schedules with their positions, the compare-and-set
that lets any number of replicas share the work, and the events operators see.

SQL lives in `db/sql/scheduler.sql`; positions in `cron_state` (migration 0005).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chronosched.db import queries
from chronosched.db.pool import AsyncConn
from chronosched.scheduler.planning import CronDefinition, Event

Key = tuple[str, str]  # (namespace_id, name): a schedule position belongs to a definition name


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """Move the position of `key` from `expected` to `last_tick` (fired or skipped up to it)."""

    key: Key
    def_id: str
    expected: datetime | None
    last_tick: datetime
    last_fired: datetime | None  # the newest tick fired in this move, if any


async def load_definitions(conn: AsyncConn) -> tuple[datetime, list[CronDefinition]]:
    """The database clock and every live, unpaused cron definition with its position."""
    cur = await conn.execute(queries.get("scheduler_cron_definitions"))
    rows = await cur.fetchall()
    db_now: datetime = rows[0]["db_now"]
    found = [
        CronDefinition(
            def_id=row["def_id"],
            namespace_id=row["namespace_id"],
            name=row["name"],
            cron_spec=row["cron_spec"],
            timezone=row["timezone"],
            created_at=row["created_at"],
            catchup=row["catchup"],
            catchup_limit=row["catchup_limit"],
            overlap=row["overlap"],
            last_tick=row["last_tick"],
            previous_job_id=row["previous_job_id"],
            previous_active=row["previous_active"],
        )
        for row in rows
        if row["def_id"] is not None
    ]
    return db_now, found


async def claim(conn: AsyncConn, claims: Sequence[Claim], *, not_early: bool = False) -> set[Key]:
    """Compare-and-set positions; returns the keys this caller moved (its work to do).

    Call inside the transaction that also inserts the jobs, so a crash loses neither. With
    `not_early`, positions later than the database's now() are not moved (a round planned ahead).
    """
    if not claims:
        return set()
    ordered = sorted(claims, key=lambda c: c.key)  # one lock order for every replica
    cur = await conn.execute(
        queries.get("scheduler_claim_ticks"),
        {
            "def_ids": [c.def_id for c in ordered],
            "previous_ticks": [c.expected for c in ordered],
            "last_ticks": [c.last_tick for c in ordered],
            "last_fireds": [c.last_fired for c in ordered],
            "not_early": not_early,
        },
    )
    return {(row["namespace_id"], row["name"]) for row in await cur.fetchall()}


async def positions(conn: AsyncConn, keys: Sequence[Key]) -> dict[Key, datetime]:
    """Where the positions of `keys` stand now."""
    if not keys:
        return {}
    cur = await conn.execute(
        queries.get("scheduler_positions"),
        {"namespace_ids": [k[0] for k in keys], "names": [k[1] for k in keys]},
    )
    return {(row["namespace_id"], row["name"]): row["last_tick"] for row in await cur.fetchall()}


async def insert_events(conn: AsyncConn, events: Sequence[Event]) -> None:
    """Store the round's traces (skipped and late ticks) in one statement."""
    if not events:
        return
    await conn.execute(
        queries.get("scheduler_insert_events"),
        {
            "def_ids": [e.def_id for e in events],
            "scheduled_fors": [e.scheduled_for for e in events],
            "events": [e.event for e in events],
            "details": [e.detail for e in events],
        },
    )


async def listen(conn: AsyncConn) -> None:
    """Subscribe `conn` to definition changes (channel `chronosched_definitions`)."""
    await conn.execute(queries.get("scheduler_listen"))


async def ping(conn: AsyncConn) -> None:
    await conn.execute(queries.get("scheduler_ping"))


async def list_events(
    conn: AsyncConn, def_id: str, *, before_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Scheduler events of a definition (all its versions), newest first; keyset by id."""
    cur = await conn.execute(
        queries.get("list_scheduler_events"),
        {"def_id": def_id, "before_id": before_id, "limit": limit},
    )
    return list(await cur.fetchall())
