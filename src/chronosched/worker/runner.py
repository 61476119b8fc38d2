"""Run one worker process: open the pool, import task modules, handle signals, run."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from chronosched import tasks
from chronosched.db.pool import open_pool
from chronosched.worker.service import Worker
from chronosched.worker.settings import WorkerSettings

log = logging.getLogger(__name__)


def install_signal_handlers(worker: Worker) -> None:
    """SIGTERM/SIGINT: graceful stop; the second one hands everything back at once."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_stop)


async def serve(url: str, settings: WorkerSettings, app_modules: Sequence[str] = ()) -> Worker:
    """Run a worker until it is stopped by a signal (or drained, with `until_empty`)."""
    if app_modules:
        names = tasks.load_task_modules(app_modules)
        log.info("tasks: %s", ", ".join(names) or "none")
    pool = await open_pool(
        url,
        min_size=2,
        max_size=9,  # 2 claim lanes, 3 completer lanes, heartbeat, reaper, registry + one spare
        statement_timeout_ms=int(settings.db_timeout_seconds * 1000),
        name=f"worker-{settings.worker_id}",
    )
    try:
        worker = Worker(pool, settings)
        install_signal_handlers(worker)
        log.info(
            "worker %s: kinds=%s concurrency=%d batch=%d lease=%gs",
            worker.id,
            ",".join(settings.kinds),
            settings.concurrency,
            settings.batch,
            settings.lease_seconds,
        )
        await worker.run()
        log.info(
            "worker %s stopped after %d attempt(s), %d of them claimed by its second claim lane",
            worker.id,
            worker.started,
            worker.started_by_helper,
        )
        return worker
    finally:
        await pool.close()
