"""Leases are fenced by (job id, attempt, owner): a stale worker's writes are refused."""

from __future__ import annotations

import asyncio

from chronosched.db import jobs_repo, queue_repo
from chronosched.db.pool import Pool
from tests import factories as f


async def _claim(pool: Pool, owner: str, lease: float) -> list[queue_repo.ClaimedJob]:
    async with pool.connection() as conn:
        return await queue_repo.claim(
            conn, owner=owner, limit=10, lease_seconds=lease, kinds=["python"]
        )


async def test_stale_worker_cannot_complete_a_re_leased_job(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        [job] = await f.jobs(conn, d)
    [first] = await _claim(pool, "w1", lease=0.2)
    await asyncio.sleep(0.4)  # the real clock: let the lease expire
    async with pool.connection() as conn:
        assert await queue_repo.reap(conn) == {job: "queued"}
    [second] = await _claim(pool, "w2", lease=30)
    assert (second.id, second.attempt) == (job, first.attempt + 1)
    async with pool.connection() as conn:
        assert await queue_repo.renew(conn, owner="w1", held=[(job, 1)], lease_seconds=30) == set()
        assert (
            await queue_repo.complete(conn, owner="w1", done=[(job, 1, {"stale": True})]) == set()
        )
        assert await queue_repo.complete(conn, owner="w2", done=[(job, 2, {"ok": True})]) == {job}
        row = await jobs_repo.get_job(conn, job)
    assert row["status"] == "succeeded"
    assert row["result"] == {"ok": True}


async def test_api_outcome_is_never_overwritten_by_the_worker(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        [job] = await f.jobs(conn, d)
    [claimed] = await _claim(pool, "w1", lease=30)
    async with pool.connection() as conn:
        await jobs_repo.cancel_job(conn, job)
        failure = queue_repo.Failure(job, claimed.attempt, "late")
        assert await queue_repo.fail(conn, owner="w1", failures=[failure]) == {}
        assert await f.status(conn, job) == "cancelled"


async def test_reaper_fails_job_when_attempts_are_used_up(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s", max_attempts=1)
        [job] = await f.jobs(conn, d)
    await _claim(pool, "w1", lease=0.1)
    await asyncio.sleep(0.3)
    async with pool.connection() as conn:
        assert await queue_repo.reap(conn) == {job: "failed"}
        row = await jobs_repo.get_job(conn, job)
    assert "expired" in row["last_error"]
