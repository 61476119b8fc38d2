"""LISTEN on `chronosched_definitions` on a dedicated connection, so the scheduler re-plans at
once when a definition is created, changed, paused, deleted, or `/scheduler/reload` is called.

The connection reconnects by itself with backoff. After every (re)connect it wakes the scheduler,
because notifications sent while it was away are lost; a lost one costs at most the scheduler's
fallback sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from chronosched.db import scheduler_repo

log = logging.getLogger(__name__)

_DB_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout, OSError, TimeoutError)
_CONNECT_TIMEOUT = 10.0  # seconds
# A silent connection is checked this often: a half-open TCP connection never raises by itself.
_LIVENESS_SECONDS = 30.0


class DefinitionListener:
    """Calls `wake()` on every notification on `chronosched_definitions` and on every connect."""

    def __init__(self, conninfo: str, wake: Callable[[], None]) -> None:
        self._conninfo = conninfo
        self._wake = wake
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled; never raises because the database went away."""
        failures = 0
        while True:
            try:
                await self._listen()
            except _DB_ERRORS as exc:
                self.connected.clear()
                failures += 1
                delay = min(5.0, 0.1 * 2**failures)
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
            else:
                failures = 0

    async def _listen(self) -> None:
        async with asyncio.timeout(_CONNECT_TIMEOUT):
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, row_factory=dict_row
            )
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT):
                await scheduler_repo.listen(conn)
            self.connected.set()
            self._wake()
            while True:
                async for _notify in conn.notifies(timeout=_LIVENESS_SECONDS):
                    self._wake()
                async with asyncio.timeout(_CONNECT_TIMEOUT):
                    await scheduler_repo.ping(conn)
        finally:
            with contextlib.suppress(*_DB_ERRORS):
                await conn.close()
