"""Prune: move finished jobs (with their edges and logs), then retired definitions and DAGs
that nothing references any more, into the *_history tables.

Each batch is one short statement (its own transaction): a prune of millions of rows never holds
locks for long, and an interrupted prune has moved whole batches only. Jobs are read by ranges of
the table's blocks (TID range scans), each block once per prune, so the jobs that must stay (a
DAG still running) cost one read, and no index on `finished_at` has to be kept up by every
completion for it. Rows locked by someone else are skipped (SKIP LOCKED), and rows written after
the prune began (beyond the blocks it counted) wait for the next prune. Idempotent.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from chronosched.db import queries
from chronosched.db.pool import AsyncConn

BATCH = 5_000  # about this many jobs read per statement (~50 ms), short enough to never block
_ROWS_PER_BLOCK = 20  # a guess until the table has statistics (a job row is ~250-400 bytes)


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
    cur = await conn.execute(queries.get("prune_jobs_extent"))
    extent = await cur.fetchone()
    assert extent is not None
    # Blocks per statement for about `batch` rows. At least one row per block counts: a table
    # emptied by a big prune keeps its blocks until vacuum, and a near-zero average would make
    # one statement read most of them.
    per_block = max(1.0, extent["rows_per_block"] or _ROWS_PER_BLOCK)
    step = max(1, int(batch / per_block))
    for block in range(0, int(extent["blocks"]), step):
        cur = await conn.execute(
            queries.get("prune_jobs_batch"),
            params | {"from_tid": f"({block},0)", "to_tid": f"({block + step},0)"},
        )
        moved = await cur.fetchone()
        assert moved is not None
        counts.jobs += moved["jobs"]
        counts.job_dependencies += moved["job_dependencies"]
        counts.job_logs += moved["job_logs"]
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
