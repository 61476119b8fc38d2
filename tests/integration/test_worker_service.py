"""The worker service against a real database: results, retries, data flow, DAG order,
fenced leases, graceful stop, wake-ups and the registry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from chronosched.db import jobs_repo, migrate, queue_repo
from chronosched.db.pool import Pool
from chronosched.worker.reaper import Reaper
from chronosched.worker.service import HELPER_MIN_CLAIM, Worker
from chronosched.worker.settings import WorkerSettings
from tests import factories as f
from tests import tasks_for_tests  # noqa: F401 -- registers the tasks


def _settings(**overrides: Any) -> WorkerSettings:
    base: dict[str, Any] = {"kinds": ("python",), "concurrency": 8, "batch": 8, "grace_seconds": 5}
    return WorkerSettings(**{**base, **overrides})


async def _job(pool: Pool, job_id: int) -> dict[str, Any]:
    async with pool.connection() as conn:
        return await jobs_repo.get_job(conn, job_id)


async def _until(check: Callable[[], Any], within: float = 10.0) -> None:
    """Poll `check` (sync or async) until it is truthy; fails after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _status_is(pool: Pool, job_id: int, *statuses: str) -> bool:
    return (await _job(pool, job_id))["status"] in statuses


@asynccontextmanager
async def _running(pool: Pool, settings: WorkerSettings) -> AsyncIterator[Worker]:
    worker = Worker(pool, settings)
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.request_stop(immediate=True)
        await asyncio.wait_for(task, 15)


async def test_run_once__runs_a_batch_and_stores_results(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "echo", payload_template={"task": "echo"})
        ids = [
            (await f.jobs(conn, d, payload={"task": "echo", "args": {"value": i}}))[0]
            for i in range(5)
        ]
    worker = Worker(pool, _settings())
    try:
        assert await worker.run_once() == 5
    finally:
        await worker.aclose()
    for i, job_id in enumerate(ids):
        row = await _job(pool, job_id)
        assert (row["status"], row["result"], row["lease_owner"]) == ("succeeded", i, None)


async def test_run_once__claims_no_more_than_the_free_slots(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "n", payload_template={"task": "noop"})
        await f.jobs(conn, d, 10)
    worker = Worker(pool, _settings(concurrency=3, batch=100))
    try:
        assert await worker.run_once() == 3
    finally:
        await worker.aclose()


async def test_failures__retry_with_backoff_then_fail_with_logs(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(
            conn, "b", payload_template={"task": "boom", "args": {"message": "no"}}, max_attempts=3
        )
        [job] = await f.jobs(conn, d)
    worker = Worker(pool, _settings())
    await worker.run(until_empty=True)
    row = await _job(pool, job)
    assert (row["status"], row["attempt"], row["last_error"]) == ("failed", 3, "RuntimeError: no")
    async with pool.connection() as conn:
        logs = await jobs_repo.job_logs(conn, job)
    assert [r["attempt"] for r in logs] == [1, 2, 3]
    assert all("RuntimeError: no" in r["stderr"] for r in logs)


async def test_payload_error__fails_without_retry(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "u", payload_template={"task": "no-such"}, max_attempts=5)
        [job] = await f.jobs(conn, d)
    await Worker(pool, _settings()).run(until_empty=True)
    row = await _job(pool, job)
    assert (row["status"], row["attempt"]) == ("failed", 1)
    assert row["last_error"].startswith("invalid payload: no task named 'no-such'")


async def test_data_flow__parents_results_reach_children(pool: Pool) -> None:
    async with pool.connection() as conn:
        echo = await f.definition(conn, "echo", payload_template={"task": "echo"})
        summer = await f.definition(conn, "sum", payload_template={"task": "sum_parents"})
        dag = await f.dag(conn)
        [p1] = await f.jobs(conn, echo, dag_id=dag, name="p1",
                            payload={"task": "echo", "args": {"value": 2}})  # fmt: skip
        [p2] = await f.jobs(conn, echo, dag_id=dag, name="p2",
                            payload={"task": "echo", "args": {"value": 3}})  # fmt: skip
        [total] = await f.jobs(conn, summer, dag_id=dag, name="total")
        text = "${parents.total} from ${parents." + str(total) + "}"
        [templated] = await f.jobs(
            conn, echo, dag_id=dag, name="templated",
            payload={"task": "echo", "args": {"value": text}},
        )  # fmt: skip
        for parent in (p1, p2):
            await f.edge(conn, dag, parent, total)
        await f.edge(conn, dag, total, templated)
    await Worker(pool, _settings()).run(until_empty=True)
    assert (await _job(pool, total))["result"] == 5
    assert (await _job(pool, templated))["result"] == "5 from 5"


async def test_dag_order__child_starts_after_parent_finished_plus_delay(pool: Pool) -> None:
    async with pool.connection() as conn:
        plain = await f.definition(conn, "first", payload_template={"task": "started_at"})
        delayed = await f.definition(
            conn, "later", payload_template={"task": "started_at"}, delay=timedelta(seconds=0.5)
        )
        dag = await f.dag(conn)
        [parent] = await f.jobs(conn, plain, dag_id=dag)
        [child] = await f.jobs(conn, delayed, dag_id=dag)
        await f.edge(conn, dag, parent, child)
    # A long poll: only the due-time timer can wake the worker for the delayed child in time.
    async with _running(pool, _settings(poll_seconds=60)):
        await _until(lambda: _status_is(pool, child, "succeeded"), within=5)
    p, c = await _job(pool, parent), await _job(pool, child)
    assert c["started_at"] >= p["finished_at"] + timedelta(seconds=0.5)
    assert c["started_at"] < p["finished_at"] + timedelta(seconds=2.5)


async def test_notify__wakes_an_idle_worker_at_once(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "n", payload_template={"task": "noop"})
    async with _running(pool, _settings(poll_seconds=60)) as worker:
        await _until(lambda: worker.started == 0 and worker.waker is not None)
        await asyncio.sleep(0.3)  # the worker is asleep on an empty queue
        async with pool.connection() as conn:
            [job] = await f.jobs(conn, d)
        began = time.monotonic()
        await _until(lambda: _status_is(pool, job, "succeeded"), within=10)
    # milliseconds when idle; the bound only has to tell the NOTIFY from the 60 s poll, with
    # room for a stalled CI machine
    assert time.monotonic() - began < 5.0


async def test_lease_lost__running_job_is_killed_and_its_result_dropped(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(
            conn, "slow", payload_template={"task": "record", "args": {"sleep": 30}}
        )
        [job] = await f.jobs(conn, d)
    async with _running(pool, _settings(lease_seconds=0.9)) as worker:
        await _until(lambda: worker.running == 1)
        async with pool.connection() as conn:
            await jobs_repo.cancel_job(conn, job)  # ends the lease: the next heartbeat notices
        await _until(lambda: worker.killed == 1, within=3)
        await _until(lambda: worker.running == 0, within=3)
    row = await _job(pool, job)
    assert (row["status"], row["result"]) == ("cancelled", None)


def _succeeded_total() -> float:
    from prometheus_client import REGISTRY

    labels = {"kind": "python", "outcome": "succeeded"}
    return REGISTRY.get_sample_value("chronosched_jobs_finished_total", labels) or 0.0


async def test_stale_worker__late_completion_is_refused(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "e", payload_template={"task": "echo", "args": {"value": 1}})
        [job] = await f.jobs(conn, d)
    stale = Worker(pool, _settings(worker_id="stale", lease_seconds=0.2))
    async with pool.connection() as conn:
        [claimed] = await queue_repo.claim(
            conn, owner="stale", limit=1, lease_seconds=0.2, kinds=["python"]
        )
    await asyncio.sleep(0.4)
    await stale.reaper.run_once()
    succeeded = _succeeded_total()
    fresh = Worker(pool, _settings(worker_id="fresh"))
    try:
        assert await fresh.run_once() == 1
        entry = stale.book.add(claimed, time.monotonic())
        stale.completer.succeed(entry, {"stale": True}, None)
        await stale.completer.flush()
    finally:
        await fresh.aclose()
        await stale.aclose()
    assert (stale.completer.stored, stale.completer.dropped) == (0, 1)
    assert _succeeded_total() - succeeded == 1  # the fresh worker's; the refused one is not
    row = await _job(pool, job)
    assert (row["status"], row["attempt"], row["result"]) == ("succeeded", 2, 1)


async def test_graceful_stop__running_job_finishes_within_grace(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(
            conn, "s", payload_template={"task": "record", "args": {"sleep": 0.4}}
        )
        [job] = await f.jobs(conn, d)
    worker = Worker(pool, _settings(grace_seconds=10))
    task = asyncio.create_task(worker.run())
    await _until(lambda: worker.running == 1)
    worker.request_stop()
    await asyncio.wait_for(task, 5)
    row = await _job(pool, job)
    assert (row["status"], row["attempt"]) == ("succeeded", 1)


async def test_graceful_stop__past_grace_the_job_is_handed_back(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(
            conn, "s", payload_template={"task": "record", "args": {"sleep": 30}}
        )
        [job] = await f.jobs(conn, d)
    worker = Worker(pool, _settings(grace_seconds=0.2))
    task = asyncio.create_task(worker.run())
    await _until(lambda: worker.running == 1)
    worker.request_stop()
    await asyncio.wait_for(task, 5)
    row = await _job(pool, job)
    assert (row["status"], row["attempt"], row["lease_owner"]) == ("queued", 0, None)
    async with pool.connection() as conn:
        [registered] = await queue_repo.list_workers(conn)
    assert (registered["id"], registered["alive"]) == (worker.id, False)


async def test_second_stop_request__hands_back_at_once(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(
            conn, "s", payload_template={"task": "record", "args": {"sleep": 30}}
        )
        [job] = await f.jobs(conn, d)
    worker = Worker(pool, _settings(grace_seconds=60))
    task = asyncio.create_task(worker.run())
    await _until(lambda: worker.running == 1)
    worker.request_stop()
    await asyncio.sleep(0.1)
    worker.request_stop()
    await asyncio.wait_for(task, 5)
    assert await _status_is(pool, job, "queued")


async def test_metrics__a_worker_batch_moves_claim_and_outcome_counters(pool: Pool) -> None:
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    claimed = sample("chronosched_jobs_claimed_total", kind="python")
    succeeded = sample("chronosched_jobs_finished_total", kind="python", outcome="succeeded")
    waits = sample("chronosched_claim_latency_seconds_count")
    async with pool.connection() as conn:
        d = await f.definition(conn, "echo", payload_template={"task": "echo"})
        await f.jobs(conn, d, 4, payload={"task": "echo", "args": {"value": 1}})
    worker = Worker(pool, _settings())
    try:
        assert await worker.run_once() == 4
    finally:
        await worker.aclose()
    assert sample("chronosched_jobs_claimed_total", kind="python") - claimed == 4
    assert sample("chronosched_claim_latency_seconds_count") - waits == 1  # one per batch
    assert (
        sample("chronosched_jobs_finished_total", kind="python", outcome="succeeded") - succeeded
        == 4
    )


async def test_metrics__only_dag_children_are_observed_as_dag_hops(pool: Pool) -> None:
    from prometheus_client import REGISTRY

    def hops() -> float:
        return REGISTRY.get_sample_value("chronosched_dag_hop_latency_seconds_count") or 0.0

    async with pool.connection() as conn:
        d = await f.definition(conn, "noop", payload_template={"task": "noop"})
        dag = await f.dag(conn)
        parent, child = await f.jobs(conn, d, 2, dag_id=dag)
        await f.edge(conn, dag, parent, child)
        await f.jobs(conn, d, 3)  # standalone: claimed with the parent
    before = hops()
    worker = Worker(pool, _settings())
    try:
        assert await worker.run_once() == 4  # the parent and the standalone jobs
        assert hops() == before
        assert await worker.run_once() == 1  # the child, ready once the parent succeeded
    finally:
        await worker.aclose()
    assert hops() == before + 1


async def test_run__a_second_claimer_joins_a_backlog_within_the_concurrency_bound(
    pool: Pool,
) -> None:
    """Under a backlog a second claim lane claims beside the first; slots reserved by claims in
    flight keep the two from ever running more than `concurrency` jobs, and every job runs once."""
    n, concurrency = 1500, 300
    async with pool.connection() as conn:
        d = await f.definition(
            conn, "rec", payload_template={"task": "record", "args": {"sleep": 0.02}}
        )
        ids = await f.jobs(conn, d, n)
    worker = Worker(pool, _settings(concurrency=concurrency, batch=100, until_empty=True))
    most = 0

    async def watch() -> None:
        nonlocal most
        while True:
            most = max(most, worker.running)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.wait_for(worker.run(), 60)
    finally:
        watcher.cancel()
    assert worker.started == n and worker.started_by_helper > 0
    assert 0 < most <= concurrency
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM jobs WHERE id = ANY(%s) AND status = 'succeeded'"
            " AND attempt = 1",
            (ids,),
        )
        assert await cur.fetchone() == {"n": n}


async def test_claim__slots_reserved_and_not_filled_wake_the_other_claimer(pool: Pool) -> None:
    """A claim reserves its slots while in flight; when it comes back short (or fails), the
    slots it did not fill must wake a claimer waiting for free slots, or that one would sleep
    until some running job ended, deaf to notifications: with nothing running, for ever."""
    async with pool.connection() as conn:
        d = await f.definition(conn, "noop", payload_template={"task": "noop"})
        await f.jobs(conn, d, 3)
    worker = Worker(pool, _settings(concurrency=100, batch=100))
    try:
        worker._slot_freed.clear()
        assert await worker._claim(100) == 3
        assert worker._slot_freed.is_set() and worker._free_slots() == 100
        worker._slot_freed.clear()
        assert await worker._claim(100) == 0  # the queue is empty now
        assert worker._slot_freed.is_set()
    finally:
        await worker.aclose()


async def test_run__no_second_claimer_below_its_smallest_claim(pool: Pool) -> None:
    """The second claimer never asks for fewer than HELPER_MIN_CLAIM jobs: with fewer slots
    than that (the default concurrency is 32) only the main lane claims, backlog or not."""
    async with pool.connection() as conn:
        d = await f.definition(conn, "noop", payload_template={"task": "noop"})
        await f.jobs(conn, d, 400)
    worker = Worker(pool, _settings(concurrency=HELPER_MIN_CLAIM - 1, batch=500, until_empty=True))
    await asyncio.wait_for(worker.run(), 60)
    assert worker.started == 400 and worker.started_by_helper == 0


async def test_run__until_empty_with_two_claimers_still_runs_the_children(pool: Pool) -> None:
    """A drain with both claim lanes at work ends only after the children that the parents
    (claimed on either lane) readied have run too."""
    pairs = 200
    async with pool.connection() as conn:
        d = await f.definition(conn, "noop", payload_template={"task": "noop"})
        dag = await f.dag(conn)
        parents = await f.jobs(conn, d, pairs, dag_id=dag)
        children = await f.jobs(conn, d, pairs, dag_id=dag)
        for parent, child in zip(parents, children, strict=True):
            await f.edge(conn, dag, parent, child)
    worker = Worker(pool, _settings(concurrency=1000, batch=64, until_empty=True))
    await asyncio.wait_for(worker.run(), 60)
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) AS n FROM jobs WHERE dag_id = %s AND status = 'succeeded'", (dag,)
        )
        assert await cur.fetchone() == {"n": 2 * pairs}
    assert worker.started == 2 * pairs and worker.started_by_helper > 0


async def test_no_schema__the_reaper_says_to_migrate_too(
    empty_pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """Every background loop explains a missing schema, not only the claim and registration."""
    caplog.set_level(logging.WARNING, logger="chronosched")
    reaper = asyncio.create_task(Reaper(empty_pool, interval=0.05, timeout=5).run())
    try:
        await _until(lambda: "reaper: " in caplog.text)
    finally:
        reaper.cancel()
        await asyncio.gather(reaper, return_exceptions=True)
    [line] = {r.getMessage() for r in caplog.records if r.getMessage().startswith("reaper: ")}
    assert "run `chronosched migrate`" in line


async def test_no_schema__says_to_migrate_then_works_once_migrated(
    empty_pool: Pool, empty_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chronosched")
    async with _running(empty_pool, _settings()):
        await _until(lambda: "run `chronosched migrate`" in caplog.text)
        # Started before the schema existed, it does not need a restart once it is there.
        await asyncio.to_thread(migrate.apply, empty_db_url)
        async with empty_pool.connection() as conn:
            d = await f.definition(conn, "late", kind="python", payload_template={"task": "noop"})
            (job_id,) = await f.jobs(conn, d)
        await _until(lambda: _status_is(empty_pool, job_id, "succeeded"), within=20)
