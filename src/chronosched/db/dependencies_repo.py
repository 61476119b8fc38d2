"""Dependency edges: add (one or a batch, atomically, refusing cycles) and remove.

Adding takes the DAG's row lock, so two concurrent requests cannot close a cycle together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import psycopg

from chronosched import dag, errors
from chronosched.db import jobs_repo, queries
from chronosched.db.pool import AsyncConn

DEPENDENCY_TYPES = ("data", "order-only")


@dataclasses.dataclass(frozen=True, slots=True)
class Edge:
    parent_job_id: int
    child_job_id: int
    dependency_type: str = "data"


async def lock_dag(conn: AsyncConn, dag_id: str) -> dict[str, Any]:
    """Lock a live DAG's row for the rest of the transaction (NotFound if absent or deleted)."""
    cur = await conn.execute(queries.get("lock_dag"), {"dag_id": dag_id})
    row = await cur.fetchone()
    if row is None:
        raise errors.NotFound(f"DAG {dag_id} does not exist")
    return row


async def add_edges(conn: AsyncConn, dag_id: str, edges: Sequence[Edge]) -> int:
    """Add edges atomically; returns how many were new (repeating an identical edge is a no-op).

    Raises Invalid (422) for a bad type, a self-edge or a job outside this DAG (with the index
    of the first bad edge), Conflict (409) for an existing edge of another type, and CycleError
    (409) naming the cycle. On any error nothing changes.
    """
    async with conn.transaction():
        await lock_dag(conn, dag_id)
        ids = {e.parent_job_id for e in edges} | {e.child_job_id for e in edges}
        cur = await conn.execute(queries.get("dag_job_ids"), {"dag_id": dag_id, "ids": list(ids)})
        members = {row["id"] for row in await cur.fetchall()}
        cur = await conn.execute(queries.get("dag_edges"), {"dag_id": dag_id})
        existing = {
            (r["parent_job_id"], r["child_job_id"]): r["dependency_type"]
            for r in await cur.fetchall()
        }

        fresh: dict[tuple[int, int], str] = {}
        for index, edge in enumerate(edges):
            key = (edge.parent_job_id, edge.child_job_id)
            _validate(edge, index, members, dag_id)
            known = existing.get(key) or fresh.get(key)
            if known is not None and known != edge.dependency_type:
                raise errors.Conflict(
                    f"item {index}: edge {key[0]} -> {key[1]} already exists as {known!r}"
                )
            if known is None:
                fresh[key] = edge.dependency_type
        if not fresh:
            return 0
        cycle = dag.find_cycle(existing.keys(), list(fresh))
        if cycle is not None:
            raise errors.CycleError(cycle)
        try:
            cur = await conn.execute(
                queries.get("add_edges"),
                {
                    "dag_id": dag_id,
                    "parents": [k[0] for k in fresh],
                    "children": [k[1] for k in fresh],
                    "types": list(fresh.values()),
                },
            )
        except psycopg.errors.ObjectNotInPrerequisiteState as exc:
            raise errors.Conflict(exc.diag.message_primary or str(exc)) from None
        row = await cur.fetchone()
        return int(row["added"]) if row else 0


def _validate(edge: Edge, index: int, members: set[int], dag_id: str) -> None:
    if edge.dependency_type not in DEPENDENCY_TYPES:
        raise errors.Invalid(
            f"dependencyType must be 'data' or 'order-only', not {edge.dependency_type!r}",
            index=index,
        )
    if edge.parent_job_id == edge.child_job_id:
        raise errors.CycleError(
            [edge.parent_job_id], f"item {index}: a job cannot depend on itself"
        )
    for job_id in (edge.parent_job_id, edge.child_job_id):
        if job_id not in members:
            raise errors.Invalid(f"job {job_id} is not a live job of DAG {dag_id}", index=index)


async def remove_edges(conn: AsyncConn, dag_id: str, pairs: Sequence[tuple[int, int]]) -> int:
    """Remove edges; children whose last unmet edge goes become ready."""
    async with conn.transaction():
        await lock_dag(conn, dag_id)
        cur = await conn.execute(
            queries.get("remove_edges"),
            {
                "dag_id": dag_id,
                "parents": [p for p, _ in pairs],
                "children": [c for _, c in pairs],
            },
        )
        row = await cur.fetchone()
        return int(row["removed"]) if row else 0


async def list_edges(
    conn: AsyncConn, dag_id: str, *, limit: int = 1000, after: tuple[int, int] = (0, 0)
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        queries.get("list_edges"),
        {"dag_id": dag_id, "limit": limit, "after_parent": after[0], "after_child": after[1]},
    )
    return list(await cur.fetchall())


async def insert_graph(
    conn: AsyncConn,
    dag_id: str,
    jobs: Sequence[jobs_repo.NewJob],
    edges: Sequence[tuple[int, int, str]],
) -> list[int]:
    """Create new jobs and the edges between them (given as indexes into `jobs`) atomically.

    The fast path for a whole graph in one request: cycles are checked in memory, jobs are born
    `waiting` with their final counts and edges are inserted in one statement, so nothing is
    updated twice (10,000 jobs + 10,000 edges in well under a second). Raises like add_edges;
    a CycleError names job indexes, which the caller maps back to its keys.
    """
    parents = [0] * len(jobs)
    children = [0] * len(jobs)
    seen: set[tuple[int, int]] = set()
    for index, (parent, child, dependency_type) in enumerate(edges):
        if dependency_type not in DEPENDENCY_TYPES:
            raise errors.Invalid(
                f"dependencyType must be 'data' or 'order-only', not {dependency_type!r}",
                index=index,
            )
        if not (0 <= parent < len(jobs) and 0 <= child < len(jobs)):
            raise errors.Invalid("edge refers to a job that is not in this request", index=index)
        if (parent, child) in seen:
            raise errors.Invalid(f"duplicate edge {parent} -> {child}", index=index)
        seen.add((parent, child))
        parents[child] += 1
        children[parent] += 1
    cycle = dag.find_cycle([], [(p, c) for p, c, _ in edges])
    if cycle is not None:
        raise errors.CycleError(cycle)
    async with conn.transaction():
        await lock_dag(conn, dag_id)
        created = await jobs_repo.insert_jobs(
            conn, jobs, dag_id=dag_id, parent_counts=parents, child_counts=children
        )
        ids = [job_id for job_id in created if job_id is not None]
        if edges:
            await conn.execute(
                queries.get("insert_new_edges"),
                {
                    "dag_id": dag_id,
                    "parents": [ids[p] for p, _, _ in edges],
                    "children": [ids[c] for _, c, _ in edges],
                    "types": [t for _, _, t in edges],
                },
            )
    return ids
