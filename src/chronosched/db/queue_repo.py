"""The worker's side of the jobs table: claim, renew, complete, fail, release, reap.

Every write is fenced by (job id, attempt, lease owner): a worker whose lease was lost can never
overwrite what happened meanwhile. Each call is one statement for a whole batch.

The batched writes (renew, complete, fail, release) join their batch (`unnest()` of the arrays,
with the owner as a column, so the fence is a join condition: see `complete_jobs` in queue.sql)
with `jobs` and, above `SMALL_BATCH` rows, run unprepared, so every execution is planned with
its real arrays. Once psycopg had prepared them (after 5 runs), PostgreSQL switched to a generic
plan that guessed 10 rows for the unnest and nested-looped it against every matched job: 500 x
500 comparisons, 52 ms instead of 5 ms for a 500-job completion. Planning costs ~0.25 ms, so
batches of at most `SMALL_BATCH` jobs (an idle worker storing one result: the DAG hop; a `cmd`
worker's completions of 8-32) are prepared and use their generic plan, which compares at most
32 x 32 rows (left to itself, PostgreSQL planned them afresh on every run:
`pool.use_generic_plans`). With the limit at 16, a `cmd` worker at its default concurrency (32)
planned most of its completions (sizes around 26) and switched plan_cache_mode back and forth;
with 32, PostgreSQL CPU per `cmd` job fell ~6% (alternated drains). The claim always uses
its generic plan: it is the custom plan's (an index scan of `jobs_claim` under the limit, then
primary-key probes), checked from 8 to 500 jobs and with a million queued.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from psycopg.rows import args_row, tuple_row
from psycopg.types.json import Jsonb

from chronosched.db import queries
from chronosched.db.pool import AsyncConn, use_generic_plans

SMALL_BATCH = 32  # batches up to this size may use a prepared (generic) plan; see above


def int_array(values: Iterable[int]) -> str:
    """An array literal for an `::integer[]`/`::bigint[]` parameter. psycopg dumps a list of
    ints element by element in Python (~1.2 µs each, a 500-job completion's ids and attempts
    ~1.2 ms); the literal is one `str.join`, sent with the unknown type, so the server parses
    it once as the cast's type."""
    return "{" + ",".join(map(str, values)) + "}"


async def _prepare(conn: AsyncConn, rows: int) -> bool | None:
    """psycopg's `prepare` for a batch of `rows`: its default (prepare after 5 runs) with the
    generic plan for small batches, else never (planned with the real arrays every time)."""
    small = rows <= SMALL_BATCH
    await use_generic_plans(conn, small)
    return None if small else False


class ClaimedJob(NamedTuple):
    """A leased job as the claim statement returns it. A NamedTuple, not a frozen dataclass:
    one is built per claimed job, and a frozen dataclass's __init__ (one object.__setattr__ per
    field) cost ~2.4 µs of the worker's ~40 µs per no-op job, a NamedTuple ~0.4 µs."""

    id: int
    attempt: int
    max_attempts: int
    kind: str
    payload: dict[str, Any]
    dag_id: str | None
    name: str
    def_name: str
    scheduled_for: datetime | None
    timeout_seconds: float | None
    backoff_base_seconds: float
    backoff_max_seconds: float
    parent_results: dict[str, Any] | None  # None: no `data` parents
    wait_seconds: float = 0.0  # now() - due_at at the claim: queue wait (and DAG hop) latency
    has_parents: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    id: int
    attempt: int
    error: str
    result: Any = None
    retryable: bool = True
    retry_in: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class LogRecord:
    id: int
    attempt: int
    stdout: str
    stderr: str
    error: str | None
    exit_code: int | None


async def claim(
    conn: AsyncConn, *, owner: str, limit: int, lease_seconds: float, kinds: Sequence[str]
) -> list[ClaimedJob]:
    """Lease up to `limit` due jobs (highest priority, then oldest due time first)."""
    await use_generic_plans(conn, True)  # see the module docstring
    # The statement returns ClaimedJob's fields in order: rows become it positionally.
    async with conn.cursor(row_factory=args_row(ClaimedJob), binary=True) as cur:
        await cur.execute(
            queries.get("claim_jobs"),
            {"owner": owner, "limit": limit, "lease_seconds": lease_seconds, "kinds": list(kinds)},
        )
        return await cur.fetchall()


async def renew(
    conn: AsyncConn, *, owner: str, held: Sequence[tuple[int, int]], lease_seconds: float
) -> set[int]:
    """Renew the leases of `held` (id, attempt) pairs; returns the ids still held."""
    if not held:
        return set()
    cur = await conn.execute(
        queries.get("renew_leases"),
        {
            "owner": owner,
            "ids": int_array(h[0] for h in held),
            "attempts": int_array(h[1] for h in held),
            "lease_seconds": lease_seconds,
        },
        prepare=await _prepare(conn, len(held)),  # see the module docstring
    )
    return {row["id"] for row in await cur.fetchall()}


async def complete(
    conn: AsyncConn, *, owner: str, done: Sequence[tuple[int, int, Any]]
) -> set[int]:
    """Mark (id, attempt, result) triples succeeded; returns the ids that were still ours."""
    if not done:
        return set()
    async with conn.cursor(row_factory=tuple_row, binary=True) as cur:
        await cur.execute(
            queries.get("complete_jobs"),
            {
                "owner": owner,
                "ids": int_array(d[0] for d in done),
                "attempts": int_array(d[1] for d in done),
                "results": Jsonb([d[2] for d in done]),  # one document; None -> SQL NULL
            },
            prepare=await _prepare(conn, len(done)),  # see the module docstring
        )
        return {row[0] for row in await cur.fetchall()}


async def fail(conn: AsyncConn, *, owner: str, failures: Sequence[Failure]) -> dict[int, str]:
    """Record failed attempts; returns id -> new status ('queued' to retry, or 'failed')."""
    if not failures:
        return {}
    cur = await conn.execute(
        queries.get("fail_jobs"),
        {
            "owner": owner,
            "ids": int_array(f.id for f in failures),
            "attempts": int_array(f.attempt for f in failures),
            "errors": [f.error for f in failures],
            "results": Jsonb([f.result for f in failures]),  # one document, as in complete
            "retryable": [f.retryable for f in failures],
            "retry_in": [f.retry_in for f in failures],
        },
        prepare=await _prepare(conn, len(failures)),  # see the module docstring
    )
    return {row["id"]: row["status"] for row in await cur.fetchall()}


async def release(conn: AsyncConn, *, owner: str, held: Sequence[tuple[int, int]]) -> set[int]:
    """Hand unfinished jobs back to the queue at shutdown (the attempt is not counted)."""
    if not held:
        return set()
    cur = await conn.execute(
        queries.get("release_jobs"),
        {
            "owner": owner,
            "ids": int_array(h[0] for h in held),
            "attempts": int_array(h[1] for h in held),
        },
        prepare=await _prepare(conn, len(held)),  # see the module docstring
    )
    return {row["id"] for row in await cur.fetchall()}


async def reap(conn: AsyncConn, *, limit: int = 1000) -> dict[int, str]:
    """Re-queue (or fail, when attempts are used up) jobs whose lease expired."""
    cur = await conn.execute(queries.get("reap_expired_leases"), {"limit": limit})
    return {row["id"]: row["status"] for row in await cur.fetchall()}


async def next_due_in(conn: AsyncConn) -> float | None:
    """Seconds until the earliest queued job that is not due yet (for the worker's timer)."""
    cur = await conn.execute(queries.get("next_due_in"))
    row = await cur.fetchone()
    return row["seconds"] if row else None


async def save_logs(conn: AsyncConn, *, worker_id: str, records: Sequence[LogRecord]) -> None:
    """Store output tails and errors, one row per attempt."""
    if not records:
        return
    await conn.execute(
        queries.get("save_job_logs"),
        {
            "ids": int_array(r.id for r in records),
            "attempts": int_array(r.attempt for r in records),
            "worker_id": worker_id,
            "stdouts": [r.stdout.replace("\x00", "") for r in records],
            "stderrs": [r.stderr.replace("\x00", "") for r in records],
            "errors": [r.error.replace("\x00", "") if r.error else None for r in records],
            "exit_codes": [r.exit_code for r in records],
        },
    )


async def register_worker(
    conn: AsyncConn, *, worker_id: str, host: str, pid: int, kinds: Sequence[str], concurrency: int
) -> None:
    await conn.execute(
        queries.get("register_worker"),
        {
            "id": worker_id,
            "host": host,
            "pid": pid,
            "kinds": list(kinds),
            "concurrency": concurrency,
        },
    )


async def worker_heartbeat(conn: AsyncConn, *, worker_id: str, running: int) -> None:
    await conn.execute(queries.get("worker_heartbeat"), {"id": worker_id, "running": running})


async def worker_stopped(conn: AsyncConn, *, worker_id: str) -> None:
    await conn.execute(queries.get("worker_stopped"), {"id": worker_id})


async def list_workers(conn: AsyncConn, *, limit: int = 200) -> list[dict[str, Any]]:
    cur = await conn.execute(queries.get("list_workers"), {"limit": limit})
    return list(await cur.fetchall())
