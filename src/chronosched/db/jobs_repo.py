"""Jobs: creation in batches, lookup, and the API's state transitions.

Transitions check the state they expect in the UPDATE itself; when nothing matched, the current
state decides between 404, an idempotent repeat (200) and a 409 that says why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from chronosched import errors
from chronosched.db import queries
from chronosched.db.pool import AsyncConn

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "upstream_failed"})


@dataclasses.dataclass(frozen=True, slots=True)
class NewJob:
    """A job to create from definition `def_id` (fields left None come from the definition)."""

    def_id: str
    name: str | None = None
    payload: dict[str, Any] | None = None
    priority: int | None = None
    due_at: datetime | None = None
    max_attempts: int | None = None
    scheduled_for: datetime | None = None


async def insert_jobs(
    conn: AsyncConn,
    items: Sequence[NewJob],
    *,
    dag_id: str | None = None,
    parent_counts: Sequence[int] | None = None,
    child_counts: Sequence[int] | None = None,
) -> list[int | None]:
    """Insert jobs in one statement; returns their ids in input order.

    An id is None where a cron tick already had its job (unique `(def_id, scheduled_for)`).
    `parent_counts`/`child_counts` are for `dependencies_repo.insert_graph` only.
    Unknown definition ids raise Invalid naming the first offending index.
    """
    if not items:
        return []
    cur = await conn.execute(queries.get("allocate_job_ids"), {"n": len(items)})
    ids = [row["id"] for row in await cur.fetchall()]
    cur = await conn.execute(
        queries.get("insert_jobs"),
        {
            "dag_id": dag_id,
            "ids": ids,
            "def_ids": [i.def_id for i in items],
            "names": [i.name for i in items],
            "payloads": [Jsonb(i.payload) if i.payload is not None else None for i in items],
            "priorities": [i.priority for i in items],
            "due_ats": [i.due_at for i in items],
            "max_attempts": [i.max_attempts for i in items],
            "scheduled_fors": [i.scheduled_for for i in items],
            "parent_counts": list(parent_counts) if parent_counts is not None else None,
            "child_counts": list(child_counts) if child_counts is not None else None,
        },
    )
    created = {row["id"] for row in await cur.fetchall()}
    if len(created) != len(items) and all(i.scheduled_for is None for i in items):
        missing = next(n for n, job_id in enumerate(ids) if job_id not in created)
        raise errors.Invalid(f"unknown defId {items[missing].def_id}", index=missing)
    return [job_id if job_id in created else None for job_id in ids]


async def get_job(conn: AsyncConn, job_id: int) -> dict[str, Any]:
    cur = await conn.execute(queries.get("get_job"), {"id": job_id})
    row = await cur.fetchone()
    if row is None:
        raise errors.NotFound(f"job {job_id} does not exist")
    return row


async def _status(conn: AsyncConn, job_id: int) -> dict[str, Any]:
    cur = await conn.execute(queries.get("job_status"), {"id": job_id})
    row = await cur.fetchone()
    if row is None:
        raise errors.NotFound(f"job {job_id} does not exist")
    return row


def _refuse(job_id: int, status: str, action: str) -> errors.Conflict:
    if status == "waiting":
        return errors.Conflict(f"job {job_id} is waiting for its parents; it cannot be {action}")
    return errors.Conflict(f"job {job_id} is already {status}; it cannot be {action}")


async def complete_job(conn: AsyncConn, job_id: int, result: Any = None) -> None:
    """Mark a queued or running job succeeded (repeating it on a succeeded job is a no-op)."""
    cur = await conn.execute(
        queries.get("complete_job"),
        {"id": job_id, "result": Jsonb(result) if result is not None else None},
    )
    if await cur.fetchone() is None:
        current = await _status(conn, job_id)
        if current["status"] != "succeeded":
            raise _refuse(job_id, current["status"], "completed")


async def fail_job(
    conn: AsyncConn, job_id: int, error: str | None = None, result: Any = None
) -> None:
    """Mark a queued or running job failed for good (repeat on a failed job is a no-op)."""
    cur = await conn.execute(
        queries.get("fail_job"),
        {
            "id": job_id,
            "error": error or "marked failed through the API",
            "result": Jsonb(result) if result is not None else None,
        },
    )
    if await cur.fetchone() is None:
        current = await _status(conn, job_id)
        if current["status"] != "failed":
            raise _refuse(job_id, current["status"], "failed")


async def retry_job(conn: AsyncConn, job_id: int) -> None:
    """Re-queue a failed or cancelled job; its blocked descendants go back to waiting."""
    async with conn.transaction():
        cur = await conn.execute(queries.get("failed_data_parent"), {"id": job_id})
        parent = await cur.fetchone()
        if parent is not None:
            raise errors.Conflict(
                f"job {job_id} depends on job {parent['id']}, which is {parent['status']}: "
                f"retry that job instead"
            )
        cur = await conn.execute(queries.get("retry_job"), {"id": job_id})
        if await cur.fetchone() is None:
            current = await _status(conn, job_id)
            raise errors.Conflict(
                f"job {job_id} is {current['status']}; only failed or cancelled jobs can be retried"
            )


EDITABLE = frozenset({"waiting", "queued"})


async def edit_job(
    conn: AsyncConn,
    job_id: int,
    *,
    priority: int | None = None,
    due_at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> None:
    """Change a waiting or queued job's priority, due time or payload (merged over its
    definition's template); a change bumps its `version`. With `expected_version`, the edit
    applies only to that version (409 otherwise), so two clients cannot overwrite each other.
    Editing nothing, or to the values it has, changes nothing."""
    async with conn.transaction():
        cur = await conn.execute(
            queries.get("edit_job"),
            {
                "id": job_id,
                "priority": priority,
                "due_at": due_at,
                "payload": Jsonb(payload) if payload is not None else None,
                "expected_version": expected_version,
            },
        )
        edited = await cur.fetchone()
        if edited is not None:
            if edited["status"] == "queued":  # a sooner due time or a higher priority: look now
                await conn.execute(queries.get("notify_ready"), {"due_at": edited["due_at"]})
            return
    current = await _status(conn, job_id)
    if current["deleted"]:
        raise errors.Conflict(f"job {job_id} is deleted; it cannot be edited")
    if current["status"] not in EDITABLE:
        raise errors.Conflict(
            f"job {job_id} is {current['status']}; only waiting or queued jobs can be edited"
        )
    if expected_version is not None and current["version"] != expected_version:
        raise errors.Conflict(
            f"job {job_id} is at version {current['version']}, not {expected_version}: "
            f"it was changed meanwhile"
        )


async def cancel_job(
    conn: AsyncConn, job_id: int, *, delete: bool = False, reason: str | None = None
) -> None:
    """Cancel a waiting, queued or running job (a running one loses its lease).

    With `delete`, the job is also marked deleted; deleting a finished job only marks it.
    """
    cur = await conn.execute(
        queries.get("cancel_job"), {"id": job_id, "delete": delete, "reason": reason}
    )
    if await cur.fetchone() is not None:
        return
    current = await _status(conn, job_id)
    if delete:
        await conn.execute(queries.get("mark_job_deleted"), {"id": job_id})
    elif current["status"] != "cancelled":
        raise _refuse(job_id, current["status"], "cancelled")


async def cancel_dag_jobs(conn: AsyncConn, dag_id: str) -> int:
    """Cancel every unfinished job of a DAG (used when the DAG is deleted)."""
    cur = await conn.execute(queries.get("cancel_dag_jobs"), {"dag_id": dag_id})
    return len(await cur.fetchall())


async def job_logs(conn: AsyncConn, job_id: int) -> list[dict[str, Any]]:
    await _status(conn, job_id)
    cur = await conn.execute(queries.get("job_logs"), {"id": job_id})
    return list(await cur.fetchall())


async def get_jobs(conn: AsyncConn, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Several jobs in id order (jobs just created have no unmet parents yet)."""
    cur = await conn.execute(queries.get("get_jobs"), {"ids": list(ids)})
    return list(await cur.fetchall())


async def list_jobs(
    conn: AsyncConn,
    *,
    namespace_id: str | None = None,
    dag_id: str | None = None,
    def_id: str | None = None,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Jobs across DAGs, newest first; `before_id` is the keyset cursor."""
    cur = await conn.execute(
        queries.get("list_jobs"),
        {
            "namespace_id": namespace_id,
            "dag_id": dag_id,
            "def_id": def_id,
            "status": status,
            "before_id": before_id,
            "limit": limit,
        },
    )
    return list(await cur.fetchall())


async def list_dag_jobs(
    conn: AsyncConn, dag_id: str, *, status: str | None = None, after_id: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """The jobs of one DAG in creation order; `after_id` is the keyset cursor."""
    cur = await conn.execute(
        queries.get("list_dag_jobs"),
        {"dag_id": dag_id, "status": status, "after_id": after_id, "limit": limit},
    )
    return list(await cur.fetchall())
