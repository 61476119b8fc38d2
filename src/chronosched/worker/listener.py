"""Wake-ups: LISTEN on `chronosched_jobs` on a dedicated connection, plus timers.

A notification's payload is '' when jobs are due now, or the epoch seconds of the earliest
future due time (migration 0002). The listener reconnects by itself with backoff; after every
(re)connect it wakes the claimer, since notifications sent while it was away are lost. A lost
notification only costs latency: the claimer also polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import psycopg

from chronosched.db import queries
from chronosched.worker.backoff import reconnect_delay
from chronosched.worker.lane import DB_ERRORS

log = logging.getLogger(__name__)

# How long the listening connection may stay silent before we check it is still alive (a
# half-open TCP connection never raises by itself).
_LIVENESS_SECONDS = 30.0


class Waker:
    """An event the claimer sleeps on, set by notifications, timers and freed slots."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wake_in(self, seconds: float) -> None:
        """Wake at most `seconds` from now (keeps the earliest of several timers)."""
        if seconds <= 0:
            self._event.set()
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + seconds
        if self._timer is not None and not self._timer.cancelled():
            if self._timer.when() <= when:
                return
            self._timer.cancel()
        self._timer = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._event.set()

    def on_notify(self, payload: str) -> None:
        if not payload:
            self._event.set()
            return
        try:
            due = float(payload)
        except ValueError:
            self._event.set()
            return
        # The payload is the database's clock; ours may differ a little. Waking early is
        # harmless (the claim finds nothing, and the claimer asks the database how long to wait).
        self.wake_in(due - time.time())

    async def wait(self, seconds: float) -> bool:
        """Sleep until woken or `seconds` passed; True when woken."""
        if self._event.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
                return True
        return False

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Listener:
    """Keeps a LISTEN connection open and feeds its notifications to a `Waker`."""

    def __init__(self, conninfo: str, waker: Waker, timeout: float) -> None:
        self._conninfo = conninfo
        self._waker = waker
        self._timeout = timeout
        self._failures = 0
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Listen until cancelled; never raises because the database went away."""
        while True:
            try:
                await self._listen()
            except DB_ERRORS as exc:
                self.connected.clear()
                self._failures += 1
                delay = reconnect_delay(self._failures)
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    async def _listen(self) -> None:
        async with asyncio.timeout(self._timeout):
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        try:
            async with asyncio.timeout(self._timeout):
                await conn.execute(queries.get("listen_jobs"))
            self.connected.set()
            self._failures = 0
            self._waker.set()  # anything sent while we were not listening is lost: look now
            while True:
                async for notify in conn.notifies(timeout=_LIVENESS_SECONDS):
                    self._waker.on_notify(notify.payload)
                async with asyncio.timeout(self._timeout):
                    await conn.execute(queries.get("ping"))
        finally:
            with contextlib.suppress(*DB_ERRORS):
                await conn.close()
