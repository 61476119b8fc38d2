"""`Scheduler.run()`: sleeps until the next tick, wakes on NOTIFY, reaps leases, stops cleanly."""

from __future__ import annotations

import asyncio
import logging
import statistics
from datetime import timedelta

import pytest

from chronosched.db import metrics_repo, scheduler_repo
from chronosched.db.pool import Pool
from chronosched.scheduler.service import Scheduler, SchedulerSettings
from tests import factories

# A long fallback sleep: anything faster than it must come from a tick timer or a NOTIFY.
SLOW_FALLBACK = SchedulerSettings(grace=timedelta(seconds=10), max_sleep=8.0, reap_interval=0.2)


async def _lateness(pool: Pool) -> list[float]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT extract(epoch FROM enqueued_at - scheduled_for)::float8 AS late "
            "FROM jobs WHERE scheduled_for IS NOT NULL ORDER BY scheduled_for"
        )
        return [row["late"] for row in await cur.fetchall()]


async def _run_for(scheduler: Scheduler, seconds: float) -> None:
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(seconds)
    scheduler.stop()
    async with asyncio.timeout(5):
        await task


async def test_run__fires_every_second_on_time(pool: Pool, db_url: str) -> None:
    async with pool.connection() as conn:
        await factories.definition(conn, "every-second", cron_spec="@every 1s")
    await _run_for(Scheduler(pool, db_url, SLOW_FALLBACK), 4.2)
    late = await _lateness(pool)
    # Sleeping until the 8 s fallback would fire only the first tick in 4.2 s. A stall
    # of the whole machine can delay one round (CI once saw 1.3 s), so the bound is on the
    # median: most ticks land within milliseconds.
    assert len(late) >= 3
    assert statistics.median(late) < 0.5


async def test_run__notify_wakes_it_for_a_new_definition(pool: Pool, db_url: str) -> None:
    scheduler = Scheduler(pool, db_url, SLOW_FALLBACK)
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.5)  # first round done: no definitions, asleep for 8 s
    async with pool.connection() as conn:
        await factories.definition(conn, "every-second", cron_spec="@every 1s")
        await conn.execute("SELECT pg_notify('chronosched_definitions', 'reload')")
    await asyncio.sleep(2.2)
    scheduler.stop()
    async with asyncio.timeout(5):
        await task
    late = await _lateness(pool)
    assert late  # without the NOTIFY it would still sleep (8 s fallback): no job at all
    assert min(late) < 0.5


async def test_run__reaps_expired_leases(pool: Pool, db_url: str) -> None:
    async with pool.connection() as conn:
        def_id = await factories.definition(conn, "leased")
        (job_id,) = await factories.jobs(conn, def_id)
        await conn.execute(
            "UPDATE jobs SET status = 'running', attempt = 1, started_at = now(), "
            "lease_owner = 'dead-worker', lease_until = now() - interval '1 second' "
            "WHERE id = %s",
            (job_id,),
        )
    await _run_for(Scheduler(pool, db_url, SLOW_FALLBACK), 0.8)
    async with pool.connection() as conn:
        assert await factories.status(conn, job_id) == "queued"


async def test_run__stop_returns_promptly(pool: Pool, db_url: str) -> None:
    scheduler = Scheduler(pool, db_url, SLOW_FALLBACK)
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    scheduler.stop()
    async with asyncio.timeout(5):
        await task
    assert loop.time() - started < 3.0  # not the 8 s fallback sleep
    assert scheduler.rounds >= 1


async def test_run__without_a_schema_it_says_to_migrate(
    empty_pool: Pool, empty_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chronosched")
    await _run_for(Scheduler(empty_pool, empty_db_url, SLOW_FALLBACK), 0.5)
    assert "scheduler round failed" in caplog.text
    assert "run `chronosched migrate`" in caplog.text


async def test_clock__read_on_a_short_statement_however_long_loading_takes(
    pool: Pool, db_url: str
) -> None:
    """The scheduler sleeps to its ticks by its reading of the database clock. Read as the
    midpoint of loading thousands of definitions, it was off by half the load (the round woke
    that much after its tick); read on its own statement, it is good to that round trip."""
    async with pool.connection() as conn:
        await conn.execute(
            "INSERT INTO job_definitions (namespace_id, name, version, kind, cron_spec) "
            "SELECT %s, 'tick-' || g, 1, 'python', '@every 1s' FROM generate_series(1, 3000) g",
            (await factories.default_namespace(conn),),
        )
    loop = asyncio.get_running_loop()
    async with pool.connection() as conn:
        began = loop.time()
        await scheduler_repo.load_definitions(conn)
        loading = loop.time() - began
    scheduler = Scheduler(pool, db_url, SLOW_FALLBACK)
    assert (await scheduler.tick()).definitions == 3000
    async with pool.connection() as conn:
        sent = loop.time()
        reading = (await metrics_repo.database_now(conn)).timestamp()
        received = loop.time()
    # The true offset lies between these two bounds (the reading was taken between send and
    # receipt); 2 ms of slack for a stalled round trip on a loaded machine.
    assert loading > 0.01  # a midpoint of the load would be > 5 ms off
    offset = scheduler._clock.offset
    assert offset is not None
    assert reading - received - 0.002 <= offset <= reading - sent + 0.002
