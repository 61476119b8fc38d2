"""DAGs: create (optionally with the whole graph in one request), list, read with derived
status, delete (soft; unfinished jobs are cancelled), and the jobs of a DAG."""

# No `from __future__ import annotations`: FastAPI must see the closure-local `Depends` aliases.

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, status

from chronosched import errors
from chronosched.api import deps, schemas
from chronosched.api.routes import jobs as job_routes
from chronosched.db import dags_repo, jobs_repo
from chronosched.db.pool import AsyncConn

_COUNTS = ("total", "waiting", "queued", "running", "succeeded", "failed", "cancelled")


def to_out(row: dict[str, Any]) -> schemas.DagOut:
    counts = {k: row[k] for k in (*_COUNTS, "upstream_failed")}
    return schemas.DagOut.model_validate({**row, "job_counts": counts})


def new_job(body: schemas.JobIn) -> jobs_repo.NewJob:
    return jobs_repo.NewJob(
        def_id=str(body.def_id),
        name=body.name,
        payload=body.payload,
        priority=body.priority,
        due_at=body.due_at,
        max_attempts=body.max_attempts,
    )


def _graph(body: schemas.DagIn) -> list[dags_repo.GraphEdge]:
    """Map the request's keys to job indexes; an unknown or repeated key is a 422."""
    index_of: dict[str, int] = {}
    for i, job in enumerate(body.jobs):
        if job.key in index_of:
            raise errors.Invalid(f"jobs: key {job.key!r} is used twice", index=i)
        index_of[job.key] = i
    edges = []
    for i, dep in enumerate(body.dependencies):
        for end in (dep.parent, dep.child):
            if end not in index_of:
                raise errors.Invalid(f"dependencies: unknown job key {end!r}", index=i)
        edges.append(
            dags_repo.GraphEdge(index_of[dep.parent], index_of[dep.child], dep.dependency_type)
        )
    return edges


def router(namespace: deps.NamespaceDep, scope: deps.ScopeDep) -> APIRouter:
    r = APIRouter(tags=["dags"])
    Ns = Annotated[deps.Namespace, Depends(namespace)]
    Scope = Annotated[deps.Namespace | None, Depends(scope)]

    async def _dag(conn: AsyncConn, dag_id: object, sc: deps.Namespace | None) -> dict[str, Any]:
        row = await dags_repo.get(conn, str(dag_id))
        deps.check_scope(sc, row["namespace_id"], f"DAG {dag_id}")
        return row

    @r.post("/dags", status_code=status.HTTP_201_CREATED)
    async def create_dag(body: schemas.DagIn, conn: deps.Conn, ns: Ns) -> schemas.DagCreated:
        """Create a DAG, with its jobs (by key) and dependencies (between keys) if given.

        All or nothing. A live DAG of the same name becomes an older version (its jobs keep
        running). The answer maps every key to its job id.
        """
        edges = _graph(body)
        try:
            dag_id, ids = await dags_repo.create(
                conn,
                str(ns["id"]),
                body.name,
                description=body.description,
                jobs=[new_job(j) for j in body.jobs],
                edges=edges,
            )
        except errors.CycleError as exc:
            keys = [body.jobs[int(i)].key for i in exc.cycle]
            raise errors.CycleError(keys) from None
        row = await dags_repo.get(conn, dag_id)
        counts = {k: row[k] for k in (*_COUNTS, "upstream_failed")}
        return schemas.DagCreated.model_validate(
            {
                **row,
                "job_counts": counts,
                "job_ids": {j.key: i for j, i in zip(body.jobs, ids, strict=True)},
            }
        )

    @r.get("/dags")
    async def list_dags(
        conn: deps.Conn,
        ns: Ns,
        limit: deps.Limit = 100,
        cursor: deps.Cursor = None,
        name: Annotated[str | None, Query(max_length=200)] = None,
        status_: Annotated[schemas.DagStatus | None, Query(alias="status")] = None,
        include_deleted: Annotated[bool, Query(alias="includeDeleted")] = False,
    ) -> schemas.Page[schemas.DagOut]:
        """DAGs of the namespace, newest first, with derived status and job counts."""
        last = deps.cursor_values(cursor, str, str)
        rows = await dags_repo.list_dags(
            conn,
            str(ns["id"]),
            name=name,
            status=status_,
            include_deleted=include_deleted,
            after=(last[0], last[1]) if last else None,
            limit=limit,
        )
        nxt = deps.next_cursor(rows, limit, "created_at", "id")
        return schemas.Page(items=[to_out(x) for x in rows], next_cursor=nxt)

    @r.get("/dags/{dagId}")
    async def get_dag(dag_id: deps.DagId, conn: deps.Conn, sc: Scope) -> schemas.DagOut:
        """A DAG (live or older version) with its derived status and job counts."""
        return to_out(await _dag(conn, dag_id, sc))

    @r.delete("/dags/{dagId}")
    async def delete_dag(dag_id: deps.DagId, conn: deps.Conn, sc: Scope) -> schemas.DagDeleted:
        """Soft-delete the DAG and cancel its unfinished jobs (running ones lose their lease)."""
        await _dag(conn, dag_id, sc)
        cancelled = await dags_repo.delete(conn, str(dag_id))
        return schemas.DagDeleted(id=dag_id, deleted=True, cancelled_jobs=cancelled)

    @r.post("/dags/{dagId}/jobs", status_code=status.HTTP_201_CREATED)
    async def add_job(
        dag_id: deps.DagId, body: schemas.JobIn, conn: deps.Conn, sc: Scope
    ) -> schemas.JobOut:
        """Add a job made from a live definition of the DAG's namespace."""
        await _dag(conn, dag_id, sc)
        ids = await dags_repo.add_jobs(conn, str(dag_id), [new_job(body)])
        return job_routes.to_out(await jobs_repo.get_job(conn, ids[0]))

    @r.post("/dags/{dagId}/jobs/bulk", status_code=status.HTTP_201_CREATED)
    async def add_jobs_bulk(
        dag_id: deps.DagId,
        body: Annotated[schemas.JobsBulkIn, Body()],
        conn: deps.Conn,
        sc: Scope,
    ) -> list[schemas.JobOut]:
        """Add many jobs atomically (array or `{"items": [...]}`), answered in input order."""
        await _dag(conn, dag_id, sc)
        ids = await dags_repo.add_jobs(conn, str(dag_id), [new_job(j) for j in body])
        rows = {row["id"]: row for row in await jobs_repo.get_jobs(conn, ids)}
        return [job_routes.to_out(rows[i]) for i in ids]

    @r.get("/dags/{dagId}/jobs")
    async def list_dag_jobs(
        dag_id: deps.DagId,
        conn: deps.Conn,
        sc: Scope,
        limit: deps.Limit = 100,
        cursor: deps.Cursor = None,
        status_: deps.JobStatusQuery = None,
    ) -> schemas.Page[schemas.JobOut]:
        """The DAG's jobs in creation order."""
        await _dag(conn, dag_id, sc)
        last = deps.cursor_values(cursor, int)
        rows = await jobs_repo.list_dag_jobs(
            conn, str(dag_id), status=status_, after_id=last[0] if last else 0, limit=limit
        )
        return job_routes.page(rows, limit)

    return r
