"""Namespaces: create, look up by id or name, rename, and delete when empty."""

from __future__ import annotations

import uuid
from typing import Any

from chronosched import errors
from chronosched.db import queries
from chronosched.db.pool import AsyncConn

DEFAULT = "default"


def _as_uuid(ref: str) -> str | None:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        return None


async def create(conn: AsyncConn, name: str, description: str = "") -> dict[str, Any]:
    """Create a namespace; a live namespace of that name is a Conflict."""
    async with conn.transaction():
        if await _by_name(conn, name) is not None:
            raise errors.Conflict(f"namespace {name!r} already exists")
        cur = await conn.execute(
            queries.get("insert_namespace"), {"name": name, "description": description}
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def _by_name(conn: AsyncConn, name: str) -> dict[str, Any] | None:
    cur = await conn.execute(queries.get("namespace_by_name"), {"name": name})
    return await cur.fetchone()


async def resolve(conn: AsyncConn, ref: str | None) -> dict[str, Any]:
    """The live namespace named by `ref` (its id or its name); None means `default`."""
    ref = DEFAULT if ref is None else ref
    ns_id = _as_uuid(ref)
    if ns_id is not None:
        cur = await conn.execute(queries.get("namespace_by_id"), {"id": ns_id})
        row = await cur.fetchone()
    else:
        row = await _by_name(conn, ref)
    if row is None:
        raise errors.NotFound(f"namespace {ref!r} does not exist")
    return row


async def list_namespaces(conn: AsyncConn, *, after: str = "", limit: int = 100) -> list[Any]:
    cur = await conn.execute(queries.get("list_namespaces"), {"after": after, "limit": limit})
    return list(await cur.fetchall())


async def update(
    conn: AsyncConn, ref: str, *, name: str | None, description: str | None
) -> dict[str, Any]:
    """Rename or re-describe; `default` keeps its name (endpoints without a namespace use it)."""
    async with conn.transaction():
        current = await resolve(conn, ref)
        if name is not None and name != current["name"]:
            if current["name"] == DEFAULT:
                raise errors.Conflict("the default namespace cannot be renamed")
            if await _by_name(conn, name) is not None:
                raise errors.Conflict(f"namespace {name!r} already exists")
        cur = await conn.execute(
            queries.get("update_namespace"),
            {"id": current["id"], "name": name, "description": description},
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def delete(conn: AsyncConn, ref: str) -> None:
    """Soft-delete an empty namespace (no live definitions or DAGs); never `default`."""
    async with conn.transaction():
        current = await resolve(conn, ref)
        if current["name"] == DEFAULT:
            raise errors.Conflict("the default namespace cannot be deleted")
        cur = await conn.execute(queries.get("namespace_in_use"), {"id": current["id"]})
        use = await cur.fetchone()
        if use and (use["definitions"] or use["dags"]):
            raise errors.Conflict(
                f"namespace {current['name']!r} still has {use['definitions']} live "
                f"definition(s) and {use['dags']} live DAG(s); delete them first"
            )
        await conn.execute(queries.get("delete_namespace"), {"id": current["id"]})
