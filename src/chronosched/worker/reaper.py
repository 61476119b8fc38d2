"""Re-queues jobs whose lease expired (their worker died), or fails them when no attempt is left.

Every worker runs one: the query uses the `jobs_running_lease` partial index and SKIP LOCKED, so
it is cheap and many reapers share the work without waiting on each other.
"""

from __future__ import annotations

import asyncio
import logging
import random

from chronosched import metrics
from chronosched.db import migrate, queue_repo
from chronosched.db.pool import Pool
from chronosched.worker.lane import DB_ERRORS, Lane

log = logging.getLogger(__name__)

REAP_LIMIT = 1000  # rows per statement; a bigger backlog is taken over the next rounds


class Reaper:
    def __init__(self, pool: Pool, *, interval: float, timeout: float) -> None:
        self._pool = pool
        self._interval = interval
        self._timeout = timeout
        self.reaped = 0

    async def run_once(self) -> dict[int, str]:
        """One pass: returns job id -> new status ('queued' or 'failed')."""
        lane = Lane(self._pool, self._timeout)
        try:
            found = await lane.call(queue_repo.reap, limit=REAP_LIMIT)
        finally:
            await lane.close()
        metrics.record_reaped(found)
        if found:
            self.reaped += len(found)
            log.info("re-queued or failed %d job(s) whose lease expired", len(found))
        return found

    async def run(self) -> None:
        """Reap every `interval` seconds (jittered by ±20% so workers do not run in step)."""
        while True:
            await asyncio.sleep(self._interval * random.uniform(0.8, 1.2))
            try:
                while len(await self.run_once()) >= REAP_LIMIT:
                    pass
            except DB_ERRORS as exc:
                log.warning("reaper: %s", migrate.explain(exc))
