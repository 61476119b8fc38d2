"""Namespaces: create, list, get, rename, delete (only when empty; never `default`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from chronosched.api import deps, schemas
from chronosched.db import namespaces_repo

router = APIRouter(tags=["namespaces"])

NamespaceRef = Annotated[str, Path(alias="namespaceId", description="Namespace id or name.")]


def to_out(row: dict[str, Any]) -> schemas.NamespaceOut:
    return schemas.NamespaceOut.model_validate(row)


@router.post("/namespaces", status_code=status.HTTP_201_CREATED)
async def create_namespace(body: schemas.NamespaceIn, conn: deps.Conn) -> schemas.NamespaceOut:
    """Create a namespace (409 if the name is taken)."""
    return to_out(await namespaces_repo.create(conn, body.name, body.description))


@router.get("/namespaces")
async def list_namespaces(
    conn: deps.Conn, limit: deps.Limit = 100, cursor: deps.Cursor = None
) -> schemas.Page[schemas.NamespaceOut]:
    """Live namespaces by name."""
    last = deps.cursor_values(cursor, str)
    rows = await namespaces_repo.list_namespaces(conn, after=last[0] if last else "", limit=limit)
    return schemas.Page(
        items=[to_out(x) for x in rows], next_cursor=deps.next_cursor(rows, limit, "name")
    )


@router.get("/namespaces/{namespaceId}")
async def get_namespace(namespace_id: NamespaceRef, conn: deps.Conn) -> schemas.NamespaceOut:
    return to_out(await namespaces_repo.resolve(conn, namespace_id))


@router.patch("/namespaces/{namespaceId}")
async def update_namespace(
    namespace_id: NamespaceRef, body: schemas.NamespacePatch, conn: deps.Conn
) -> schemas.NamespaceOut:
    """Rename and/or re-describe (ids stay; `default` keeps its name)."""
    return to_out(
        await namespaces_repo.update(
            conn, namespace_id, name=body.name, description=body.description
        )
    )


@router.delete("/namespaces/{namespaceId}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_namespace(namespace_id: NamespaceRef, conn: deps.Conn) -> None:
    """Delete an empty namespace (409 while it has live definitions or DAGs)."""
    await namespaces_repo.delete(conn, namespace_id)
