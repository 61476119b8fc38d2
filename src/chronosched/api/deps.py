"""Request dependencies: a pooled connection, the namespace a request acts on, cursors."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request

from chronosched import errors
from chronosched.api import schemas
from chronosched.db import namespaces_repo
from chronosched.db.pool import AsyncConn, Pool

CONNECT_TIMEOUT = 5.0  # seconds to wait for a pooled connection before answering 503


async def _conn(request: Request) -> AsyncIterator[AsyncConn]:
    pool: Pool = request.app.state.pool
    async with pool.connection(timeout=CONNECT_TIMEOUT) as conn:
        yield conn


Conn = Annotated[AsyncConn, Depends(_conn)]
Namespace = dict[str, Any]
NamespaceDep = Callable[..., Coroutine[Any, Any, Namespace]]
ScopeDep = Callable[..., Coroutine[Any, Any, Namespace | None]]

_QUERY_HELP = "Namespace id or name (default: `default`)."


async def query_namespace(
    conn: Conn, namespace: Annotated[str | None, Query(description=_QUERY_HELP)] = None
) -> Namespace:
    """Un-namespaced routes act on `?namespace=` or on `default`."""
    return await namespaces_repo.resolve(conn, namespace)


async def query_scope(
    conn: Conn, namespace: Annotated[str | None, Query(description=_QUERY_HELP)] = None
) -> Namespace | None:
    """Routes by id: objects of any namespace unless `?namespace=` narrows it."""
    return None if namespace is None else await namespaces_repo.resolve(conn, namespace)


async def path_namespace(
    conn: Conn,
    namespace_id: Annotated[str, Path(alias="namespaceId", description="Namespace id or name.")],
) -> Namespace:
    return await namespaces_repo.resolve(conn, namespace_id)


async def path_scope(
    conn: Conn,
    namespace_id: Annotated[str, Path(alias="namespaceId", description="Namespace id or name.")],
) -> Namespace | None:
    """Namespaced routes by id: only objects of the URL's namespace exist there."""
    return await namespaces_repo.resolve(conn, namespace_id)


def check_scope(scope: Namespace | None, namespace_id: Any, what: str) -> None:
    """An object outside the namespace of the URL does not exist there (404)."""
    if scope is not None and str(scope["id"]) != str(namespace_id):
        raise errors.NotFound(f"{what} does not exist in namespace {scope['name']!r}")


Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="`nextCursor` of the previous page.")
]


def encode_cursor(*values: Any) -> str:
    """An opaque keyset cursor; timestamps travel as ISO 8601, other values as text."""
    raw = json.dumps(
        [
            v if isinstance(v, int | str) else v.isoformat() if isinstance(v, datetime) else str(v)
            for v in values
        ]
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def next_cursor(rows: list[dict[str, Any]], limit: int, *fields: str) -> str | None:
    """The `nextCursor` of a keyset page: the last row's `fields`, or None on the last page."""
    if len(rows) < limit:
        return None
    last = rows[-1]
    return encode_cursor(*(last[f] for f in fields))


def decode_cursor(cursor: str, n: int) -> list[Any]:
    """The values of a cursor made by `encode_cursor`; a tampered cursor is a 422."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != n:
        raise errors.Invalid("the cursor is not one this API returned")
    return values


def cursor_values(cursor: str | None, *types: type[Any]) -> list[Any] | None:
    """Decode and type-check a cursor (None when absent); a wrong one is a 422."""
    if cursor is None:
        return None
    values = decode_cursor(cursor, len(types))
    try:
        return [t(v) for t, v in zip(types, values, strict=True)]
    except (TypeError, ValueError):
        raise errors.Invalid("the cursor is not one this API returned") from None


DefId = Annotated[uuid.UUID, Path(alias="defId", description="Definition id.")]
DagId = Annotated[uuid.UUID, Path(alias="dagId", description="DAG id.")]
JobIdPath = Annotated[
    int, Path(alias="jobId", ge=1, le=schemas.INT64, description="Job id (a number).")
]
JobStatusQuery = Annotated[schemas.JobStatus | None, Query(alias="status")]
