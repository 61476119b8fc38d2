"""Dependency edges of a DAG: add one, add many atomically, list, remove."""

# No `from __future__ import annotations`: FastAPI must see the closure-local `Depends` aliases.

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response, status

from chronosched import errors
from chronosched.api import deps, schemas
from chronosched.db import dags_repo, dependencies_repo
from chronosched.db.pool import AsyncConn


def router(namespace: deps.NamespaceDep, scope: deps.ScopeDep) -> APIRouter:
    r = APIRouter(tags=["dependencies"])
    Scope = Annotated[deps.Namespace | None, Depends(scope)]

    async def _dag(conn: AsyncConn, dag_id: object, sc: deps.Namespace | None) -> None:
        row = await dags_repo.get_live(conn, str(dag_id))
        deps.check_scope(sc, row["namespace_id"], f"DAG {dag_id}")

    @r.post(
        "/dags/{dagId}/dependencies",
        status_code=status.HTTP_201_CREATED,
        responses={200: {"model": schemas.DependencyOut, "description": "Already there."}},
    )
    async def add_dependency(
        dag_id: deps.DagId,
        body: schemas.DependencyIn,
        conn: deps.Conn,
        sc: Scope,
        response: Response,
    ) -> schemas.DependencyOut:
        """Add parent -> child (both live jobs of this DAG); a cycle is refused with 409."""
        await _dag(conn, dag_id, sc)
        edge = dependencies_repo.Edge(body.parent_job_id, body.child_job_id, body.dependency_type)
        if not await dependencies_repo.add_edges(conn, str(dag_id), [edge]):
            response.status_code = status.HTTP_200_OK
        rows = await dependencies_repo.list_edges(
            conn, str(dag_id), limit=1, after=(body.parent_job_id, body.child_job_id - 1)
        )
        return schemas.DependencyOut.model_validate(rows[0])

    @r.post("/dags/{dagId}/dependencies/bulk", status_code=status.HTTP_201_CREATED)
    async def add_dependencies_bulk(
        dag_id: deps.DagId,
        body: Annotated[schemas.DependenciesBulkIn, Body()],
        conn: deps.Conn,
        sc: Scope,
    ) -> schemas.EdgesAdded:
        """Add many edges atomically; the error names the first bad item or the cycle."""
        await _dag(conn, dag_id, sc)
        edges = [
            dependencies_repo.Edge(e.parent_job_id, e.child_job_id, e.dependency_type) for e in body
        ]
        return schemas.EdgesAdded(added=await dependencies_repo.add_edges(conn, str(dag_id), edges))

    @r.get("/dags/{dagId}/dependencies")
    async def list_dependencies(
        dag_id: deps.DagId,
        conn: deps.Conn,
        sc: Scope,
        limit: deps.Limit = 1000,
        cursor: deps.Cursor = None,
    ) -> schemas.Page[schemas.DependencyOut]:
        """Edges ordered by (parent, child)."""
        row = await dags_repo.get(conn, str(dag_id))
        deps.check_scope(sc, row["namespace_id"], f"DAG {dag_id}")
        last = deps.cursor_values(cursor, int, int)
        rows = await dependencies_repo.list_edges(
            conn, str(dag_id), limit=limit, after=(last[0], last[1]) if last else (0, 0)
        )
        nxt = deps.next_cursor(rows, limit, "parent_job_id", "child_job_id")
        return schemas.Page(
            items=[schemas.DependencyOut.model_validate(x) for x in rows], next_cursor=nxt
        )

    @r.delete(
        "/dags/{dagId}/dependencies/{parentJobId}/{childJobId}",
        status_code=status.HTTP_204_NO_CONTENT,
    )
    async def delete_dependency(
        dag_id: deps.DagId,
        parent_job_id: Annotated[int, deps.Path(alias="parentJobId", ge=1, le=schemas.INT64)],
        child_job_id: Annotated[int, deps.Path(alias="childJobId", ge=1, le=schemas.INT64)],
        conn: deps.Conn,
        sc: Scope,
    ) -> None:
        """Remove an edge; a child whose last unmet edge goes becomes ready."""
        await _dag(conn, dag_id, sc)
        # remove_edges only touches edges of this DAG: nothing removed means no such edge here.
        removed = await dependencies_repo.remove_edges(
            conn, str(dag_id), [(parent_job_id, child_job_id)]
        )
        if not removed:
            raise errors.NotFound(f"edge {parent_job_id} -> {child_job_id} is not in DAG {dag_id}")

    return r
