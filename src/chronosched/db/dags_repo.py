"""DAGs: create (optionally with the whole graph), add jobs, look up with derived status, delete.

A job may only be made from a live definition of the DAG's namespace. Its name defaults to its
definition's name, made unique within the DAG (`Leaf`, `Leaf-2`, …), so clients and the UI can
refer to jobs readably.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from chronosched import errors
from chronosched.db import definitions_repo, dependencies_repo, jobs_repo, queries
from chronosched.db.pool import AsyncConn


@dataclasses.dataclass(frozen=True, slots=True)
class GraphEdge:
    """An edge of a new graph, by the indexes of its jobs in the request."""

    parent: int
    child: int
    dependency_type: str = "data"


async def get(conn: AsyncConn, dag_id: str) -> dict[str, Any]:
    """A DAG (live or deleted) with its job counts and derived status."""
    cur = await conn.execute(queries.get("get_dag"), {"id": dag_id})
    row = await cur.fetchone()
    if row is None:
        raise errors.NotFound(f"DAG {dag_id} does not exist")
    return row


async def get_live(conn: AsyncConn, dag_id: str) -> dict[str, Any]:
    row = await get(conn, dag_id)
    if row["deleted"]:
        raise errors.Conflict(f"DAG {dag_id} is deleted; it cannot change")
    return row


async def create(
    conn: AsyncConn,
    namespace_id: str,
    name: str,
    *,
    description: str = "",
    jobs: Sequence[jobs_repo.NewJob] = (),
    edges: Sequence[GraphEdge] = (),
) -> tuple[str, list[int]]:
    """Create a DAG (version N+1 when the name is live; the old one is retired) with its graph.

    Returns (dag id, job ids in the order of `jobs`). All or nothing.
    """
    key = {"namespace_id": namespace_id, "name": name}
    async with conn.transaction():
        await conn.execute(queries.get("lock_dag_name"), key)
        await conn.execute(queries.get("retire_live_dag_by_name"), key)
        cur = await conn.execute(queries.get("next_dag_version"), key)
        version_row = await cur.fetchone()
        assert version_row is not None
        cur = await conn.execute(
            queries.get("insert_dag"),
            {**key, "version": version_row["version"], "description": description},
        )
        dag_row = await cur.fetchone()
        assert dag_row is not None
        dag_id = str(dag_row["id"])
        if not jobs:
            return dag_id, []
        try:
            named = await _prepare(conn, namespace_id, jobs, taken=set())
        except errors.Invalid as exc:
            exc.detail = f"jobs {exc.detail}"
            raise
        try:
            # A CycleError from here names job indexes; the caller maps them to its keys.
            ids = await dependencies_repo.insert_graph(
                conn, dag_id, named, [(e.parent, e.child, e.dependency_type) for e in edges]
            )
        except errors.Invalid as exc:
            exc.detail = f"dependencies {exc.detail}"
            raise
    return dag_id, ids


async def add_jobs(conn: AsyncConn, dag_id: str, jobs: Sequence[jobs_repo.NewJob]) -> list[int]:
    """Add jobs to a live DAG atomically; returns their ids in input order."""
    async with conn.transaction():
        dag = await get_live(conn, dag_id)
        await dependencies_repo.lock_dag(conn, dag_id)
        cur = await conn.execute(queries.get("dag_job_names"), {"dag_id": dag_id})
        taken = {row["name"] for row in await cur.fetchall()}
        named = await _prepare(conn, str(dag["namespace_id"]), jobs, taken=taken)
        created = await jobs_repo.insert_jobs(conn, named, dag_id=dag_id)
    return [job_id for job_id in created if job_id is not None]


async def _prepare(
    conn: AsyncConn, namespace_id: str, jobs: Sequence[jobs_repo.NewJob], *, taken: set[str]
) -> list[jobs_repo.NewJob]:
    """Check every job's definition (live, same namespace) and give every job a unique name."""
    names = await definitions_repo.live_in_namespace(conn, namespace_id, [j.def_id for j in jobs])
    for index, job in enumerate(jobs):
        if job.def_id not in names:
            raise errors.Invalid(
                f"defId {job.def_id} is not a live definition of this namespace", index=index
            )
    used = set(taken)
    for index, job in enumerate(jobs):
        if job.name is not None:
            if job.name in used:
                raise errors.Invalid(f"job name {job.name!r} is already used", index=index)
            used.add(job.name)
    suffix: dict[str, int] = {}
    out = []
    for job in jobs:
        if job.name is not None:
            out.append(job)
            continue
        base = names[job.def_id]
        name = base
        if name in used:
            n = suffix.get(base, 1)
            while name in used:
                n += 1
                name = f"{base}-{n}"
            suffix[base] = n
        used.add(name)
        out.append(dataclasses.replace(job, name=name))
    return out


async def delete(conn: AsyncConn, dag_id: str) -> int:
    """Soft-delete a DAG and cancel its unfinished jobs; returns how many were cancelled.

    Idempotent: deleting a deleted DAG cancels nothing more.
    """
    async with conn.transaction():
        cur = await conn.execute(queries.get("delete_dag"), {"id": dag_id})
        if await cur.fetchone() is None:
            await get(conn, dag_id)
            return 0
        return await jobs_repo.cancel_dag_jobs(conn, dag_id)


async def list_dags(
    conn: AsyncConn,
    namespace_id: str,
    *,
    name: str | None = None,
    status: str | None = None,
    include_deleted: bool = False,
    after: tuple[Any, str] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; `after` is the keyset cursor (created_at, id) of the previous page."""
    cur = await conn.execute(
        queries.get("list_dags"),
        {
            "namespace_id": namespace_id,
            "name": name,
            "status": status,
            "include_deleted": include_deleted,
            "after_created": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    )
    return list(await cur.fetchall())
