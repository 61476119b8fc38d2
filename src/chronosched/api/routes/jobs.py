"""Jobs across DAGs: list with filters, read, edit while not yet running (DESIGN §2), and the
manual transitions (complete, fail, retry, cancel, delete) that external or manual execution
uses (DESIGN §3)."""

# No `from __future__ import annotations`: FastAPI must see the closure-local `Depends` aliases.

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from chronosched.api import deps, schemas
from chronosched.db import jobs_repo
from chronosched.db.pool import AsyncConn


def to_out(row: dict[str, Any]) -> schemas.JobOut:
    return schemas.JobOut.model_validate(row)


def page(rows: list[dict[str, Any]], limit: int, cursor_of: str = "id") -> schemas.Page[Any]:
    return schemas.Page(
        items=[to_out(row) for row in rows], next_cursor=deps.next_cursor(rows, limit, cursor_of)
    )


def router(namespace: deps.NamespaceDep, scope: deps.ScopeDep) -> APIRouter:
    r = APIRouter(tags=["jobs"])
    Scope = Annotated[deps.Namespace | None, Depends(scope)]

    async def _job(conn: AsyncConn, job_id: int, sc: deps.Namespace | None) -> dict[str, Any]:
        row = await jobs_repo.get_job(conn, job_id)
        deps.check_scope(sc, row["namespace_id"], f"job {job_id}")
        return row

    @r.get("/jobs")
    async def list_jobs(
        conn: deps.Conn,
        sc: Scope,
        limit: deps.Limit = 100,
        cursor: deps.Cursor = None,
        status_: deps.JobStatusQuery = None,
        def_id: Annotated[uuid.UUID | None, Query(alias="defId")] = None,
        dag_id: Annotated[uuid.UUID | None, Query(alias="dagId")] = None,
    ) -> schemas.Page[schemas.JobOut]:
        """Jobs across DAGs (cron runs and ad-hoc jobs included), newest first."""
        last = deps.cursor_values(cursor, int)
        rows = await jobs_repo.list_jobs(
            conn,
            namespace_id=str(sc["id"]) if sc else None,
            dag_id=str(dag_id) if dag_id else None,
            def_id=str(def_id) if def_id else None,
            status=status_,
            before_id=last[0] if last else None,
            limit=limit,
        )
        return page(rows, limit)

    @r.get("/jobs/{jobId}")
    async def get_job(job_id: deps.JobIdPath, conn: deps.Conn, sc: Scope) -> schemas.JobOut:
        """A job with its state, timings, result and, when waiting, its unmet parents."""
        return to_out(await _job(conn, job_id, sc))

    @r.get("/jobs/{jobId}/logs")
    async def job_logs(
        job_id: deps.JobIdPath, conn: deps.Conn, sc: Scope
    ) -> list[schemas.JobLogOut]:
        """Captured output tails and errors, one entry per attempt."""
        await _job(conn, job_id, sc)
        return [schemas.JobLogOut.model_validate(x) for x in await jobs_repo.job_logs(conn, job_id)]

    @r.patch("/jobs/{jobId}")
    async def edit_job(
        job_id: deps.JobIdPath, conn: deps.Conn, sc: Scope, body: schemas.JobEditIn
    ) -> schemas.JobOut:
        """Change a waiting or queued job's priority, dueAt or payload; each change bumps its
        `version` (409 once it runs, finished or was deleted, or when `version` is given and
        stale)."""
        await _job(conn, job_id, sc)
        await jobs_repo.edit_job(
            conn,
            job_id,
            priority=body.priority,
            due_at=body.due_at,
            payload=body.payload,
            expected_version=body.version,
        )
        return to_out(await jobs_repo.get_job(conn, job_id))

    @r.post("/jobs/{jobId}/complete")
    async def complete_job(
        job_id: deps.JobIdPath, conn: deps.Conn, sc: Scope, body: schemas.CompleteIn | None = None
    ) -> schemas.JobOut:
        """Mark a queued or running job succeeded (409 while waiting; repeating is a no-op)."""
        await _job(conn, job_id, sc)
        await jobs_repo.complete_job(conn, job_id, body.result if body else None)
        return to_out(await jobs_repo.get_job(conn, job_id))

    @r.post("/jobs/{jobId}/fail")
    async def fail_job(
        job_id: deps.JobIdPath, conn: deps.Conn, sc: Scope, body: schemas.FailIn | None = None
    ) -> schemas.JobOut:
        """Mark a queued or running job failed for good; its data descendants are blocked."""
        await _job(conn, job_id, sc)
        await jobs_repo.fail_job(
            conn, job_id, body.error if body else None, body.result if body else None
        )
        return to_out(await jobs_repo.get_job(conn, job_id))

    @r.post("/jobs/{jobId}/retry")
    async def retry_job(job_id: deps.JobIdPath, conn: deps.Conn, sc: Scope) -> schemas.JobOut:
        """Re-queue a failed or cancelled job; the descendants it blocked wait again."""
        await _job(conn, job_id, sc)
        await jobs_repo.retry_job(conn, job_id)
        return to_out(await jobs_repo.get_job(conn, job_id))

    @r.post("/jobs/{jobId}/cancel")
    async def cancel_job(
        job_id: deps.JobIdPath, conn: deps.Conn, sc: Scope, body: schemas.CancelIn | None = None
    ) -> schemas.JobOut:
        """Cancel a waiting, queued or running job (a running one loses its lease)."""
        await _job(conn, job_id, sc)
        await jobs_repo.cancel_job(conn, job_id, reason=body.reason if body else None)
        return to_out(await jobs_repo.get_job(conn, job_id))

    @r.delete("/jobs/{jobId}")
    async def delete_job(job_id: deps.JobIdPath, conn: deps.Conn, sc: Scope) -> schemas.JobOut:
        """Cancel (if unfinished) and mark deleted; the row stays until pruned."""
        await _job(conn, job_id, sc)
        await jobs_repo.cancel_job(conn, job_id, delete=True, reason="deleted through the API")
        return to_out(await jobs_repo.get_job(conn, job_id))

    return r
