"""Prune: move finished jobs (with their edges and logs), then retired definitions and DAGs
that nothing references any more, into the *_history tables.

Each batch is one short statement (its own transaction): a prune of millions of rows never holds
locks for long, and an interrupted prune has moved whole batches only. Finished jobs are read
once each, in (finished_at, id) order from where the last batch ended, so the jobs that must stay
(a DAG still running) cost one read, not one per batch. Rows locked by someone else are skipped
(SKIP LOCKED) and picked up by the next prune. Idempotent.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from chronosched.db import queries
from chronosched.db.pool import AsyncConn

BATCH = 5_000  # rows per statement: ~50 ms each on a laptop, short enough to never block workers
_BEGINNING = datetime.min.replace(tzinfo=UTC)  # before any finish: where the first batch starts


@dataclasses.dataclass(slots=True)
class PruneCounts:
    jobs: int = 0
    job_dependencies: int = 0
    job_logs: int = 0
    job_definitions: int = 0
    dags: int = 0
    scheduler_events: int = 0


async def prune(
    conn: AsyncConn, older_than: timedelta = timedelta(0), *, batch: int = BATCH
) -> PruneCounts:
    """Move everything prunable whose finish (or deletion) is older than `older_than`."""
    counts = PruneCounts()
    cur = await conn.execute(queries.get("prune_cutoff"), {"older_than": older_than})
    row = await cur.fetchone()
    assert row is not None
    params = {"cutoff": row["cutoff"], "batch": batch}
    position: dict[str, object] = {"after_finished": _BEGINNING, "after_id": 0}
    while True:
        cur = await conn.execute(queries.get("prune_jobs_batch"), params | position)
        moved = await cur.fetchone()
        assert moved is not None
        counts.jobs += moved["jobs"]
        counts.job_dependencies += moved["job_dependencies"]
        counts.job_logs += moved["job_logs"]
        if moved["scanned"] < batch:
            break
        position = {"after_finished": moved["last_finished"], "after_id": moved["last_id"]}
    counts.job_definitions = await _drain(
        conn, queries.get("prune_definitions_batch"), params, batch
    )
    counts.dags = await _drain(conn, queries.get("prune_dags_batch"), params, batch)
    counts.scheduler_events = await _drain(
        conn, queries.get("prune_scheduler_events_batch"), params, batch
    )
    return counts


async def _drain(conn: AsyncConn, query: str, params: dict[str, object], batch: int) -> int:
    total = 0
    while True:
        cur = await conn.execute(query, params)
        row = await cur.fetchone()
        moved = int(row["moved"]) if row else 0
        total += moved
        if moved < batch:
            return total
