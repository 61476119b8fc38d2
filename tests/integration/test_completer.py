"""The completer on a real database: how outcomes are spread over its lanes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from chronosched.db import queue_repo
from chronosched.db.pool import Pool
from chronosched.worker.completer import SPREAD_ROWS, Completer
from chronosched.worker.lease import LeaseBook
from tests import factories as f


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _until_lock_wait(pool: Pool) -> None:
    """Until a statement of this database waits for a lock (the blocked completion)."""
    deadline = time.monotonic() + 5
    while True:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) AS n FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            row = await cur.fetchone()
        if row is not None and row["n"] >= 1:
            return
        assert time.monotonic() < deadline, "no completion is waiting for the lock"
        await asyncio.sleep(0.01)


async def test_completer__a_few_outcomes_wait_for_the_busy_lane_many_take_another(
    pool: Pool,
) -> None:
    """While one lane's statement is in flight, a handful of new outcomes gather behind it (one
    statement later instead of a small statement each on the other lanes); SPREAD_ROWS or more
    go out on a second lane at once."""
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        await f.jobs(conn, d, 1 + 3 + SPREAD_ROWS)
        claimed = await queue_repo.claim(
            conn, owner="w", limit=100, lease_seconds=60, kinds=["python"]
        )
    book = LeaseBook("w", 60)
    entries = [book.add(job, time.monotonic()) for job in claimed]
    first, few, many = entries[:1], entries[1:4], entries[4:]
    completer = Completer(pool, book, timeout=10)
    runner = asyncio.create_task(completer.run())
    try:
        async with pool.connection() as blocker, blocker.transaction():
            # Row-lock the first job so the lane storing it waits in the database.
            await blocker.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (first[0].job.id,))
            completer.succeed(first[0], None, None)
            await _until_lock_wait(pool)  # a lane sent it at once and waits for the row lock
            for entry in few:
                completer.succeed(entry, None, None)
            await asyncio.sleep(0.3)  # an idle lane would have stored them many times over
            assert completer.stored == 0 and completer.backlog == 1 + len(few)
            for entry in many:
                completer.succeed(entry, None, None)
            await _until(lambda: completer.stored == len(few) + len(many))
            assert len(book) == 1  # only the blocked job is still held
        await _until(lambda: completer.stored == len(entries))
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await completer.close()
    async with pool.connection() as conn:
        for entry in entries:
            assert await f.status(conn, entry.job.id) == "succeeded"
