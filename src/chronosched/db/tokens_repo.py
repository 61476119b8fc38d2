"""API bearer tokens: only their sha256 digest is stored; the token is shown once."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from chronosched import errors
from chronosched.db import queries
from chronosched.db.pool import AsyncConn

TOKEN_PREFIX = "chs_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(conn: AsyncConn, name: str) -> tuple[str, dict[str, Any]]:
    """Create a token called `name`; returns (the token, its row). Names are unique."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with conn.transaction():
        cur = await conn.execute(queries.get("list_tokens"))
        if any(row["name"] == name for row in await cur.fetchall()):
            raise errors.Conflict(f"a token named {name!r} already exists")
        cur = await conn.execute(
            queries.get("insert_token"), {"name": name, "token_hash": hash_token(token)}
        )
        row = await cur.fetchone()
    assert row is not None
    return token, row


async def live_hashes(conn: AsyncConn) -> frozenset[str]:
    cur = await conn.execute(queries.get("live_token_hashes"))
    return frozenset(row["token_hash"] for row in await cur.fetchall())


async def list_tokens(conn: AsyncConn) -> list[dict[str, Any]]:
    cur = await conn.execute(queries.get("list_tokens"))
    return list(await cur.fetchall())


async def revoke(conn: AsyncConn, name: str) -> None:
    cur = await conn.execute(queries.get("revoke_token"), {"name": name})
    if await cur.fetchone() is None:
        raise errors.NotFound(f"no live token named {name!r}")
