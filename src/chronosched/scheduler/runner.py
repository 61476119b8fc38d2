"""Process plumbing for `chronosched scheduler`: the pool, signals, and a bounded shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from chronosched.db.pool import open_pool
from chronosched.scheduler.service import DB_ERRORS, Scheduler, SchedulerSettings

log = logging.getLogger(__name__)

# After SIGTERM the round in progress may finish (it is one short transaction); past this it is
# cancelled, which rolls its transaction back: nothing is lost, another replica fires the tick.
STOP_GRACE_SECONDS = 10.0
# The scheduler needs one connection per round, one for the reaper, and a spare.
POOL_MIN, POOL_MAX = 2, 4


async def serve(conninfo: str, settings: SchedulerSettings, statement_timeout_ms: int) -> None:
    """Run a scheduler until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        pool = await open_pool(
            conninfo,
            min_size=POOL_MIN,
            max_size=POOL_MAX,
            statement_timeout_ms=statement_timeout_ms,
            name="chronosched-scheduler",
        )
    except DB_ERRORS as exc:
        log.error("cannot reach the database: %s", exc)
        raise SystemExit(1) from exc
    try:
        scheduler = Scheduler(pool, conninfo, settings)
        task = asyncio.create_task(scheduler.run(), name="scheduler")
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        log.info("scheduler stopping")
        scheduler.stop()
        stopper.cancel()
        try:
            await asyncio.wait_for(task, STOP_GRACE_SECONDS)
        except TimeoutError:
            log.warning("the round in progress did not end within %.0fs", STOP_GRACE_SECONDS)
    finally:
        with contextlib.suppress(*DB_ERRORS):
            await pool.close()
    log.info("scheduler stopped after %d rounds", scheduler.rounds)
