"""Bearer-token auth (DESIGN §6): required as soon as one live token exists.

The set of live token hashes is cached for a second, so a request costs no extra query; a
revoked token stops working within that second on every API replica.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from chronosched.db import tokens_repo
from chronosched.db.pool import Pool

CACHE_SECONDS = 1.0
COOKIE_NAME = "chronosched_token"
"""The web UI's login stores the token in this HttpOnly, SameSite=Strict cookie."""

_bearer = HTTPBearer(auto_error=False, description="A token from `chronosched token create`.")


def is_loopback(host: str) -> bool:
    """True when binding `host` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class TokenCache:
    """Live token hashes, reloaded at most once per CACHE_SECONDS."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._hashes: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def hashes(self) -> frozenset[str]:
        if time.monotonic() - self._loaded_at < CACHE_SECONDS:
            return self._hashes
        async with self._lock:
            if time.monotonic() - self._loaded_at >= CACHE_SECONDS:
                async with self._pool.connection() as conn:
                    self._hashes = await tokens_repo.live_hashes(conn)
                self._loaded_at = time.monotonic()
        return self._hashes


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless auth is off (no live token) or the bearer token is a live one."""
    cache: TokenCache = request.app.state.tokens
    live = await cache.hashes()
    if not live:
        return
    token = presented_token(request, credentials)
    if token is None:
        raise HTTPException(401, "this API needs `Authorization: Bearer <token>`")
    if tokens_repo.hash_token(token) not in live:
        raise HTTPException(401, "the bearer token is unknown or revoked")


def presented_token(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> str | None:
    """The bearer token, else the web UI's login cookie (the browser sends it same-site only)."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials
    return request.cookies.get(COOKIE_NAME) or None
