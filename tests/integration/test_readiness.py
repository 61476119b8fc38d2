"""Readiness rules enforced by the database triggers (migration 0002), on a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from chronosched.db import jobs_repo, queue_repo
from chronosched.db.pool import Pool
from tests import factories as f

OWNER = "test-worker"


async def _run_to(pool: Pool, job_id: int, outcome: str) -> None:
    """Claim `job_id` like a worker and finish it with `outcome` ('succeeded' or 'failed')."""
    async with pool.connection() as conn:
        claimed = await queue_repo.claim(
            conn, owner=OWNER, limit=100, lease_seconds=30, kinds=["python"]
        )
        mine = [c for c in claimed if c.id == job_id]
        assert mine, f"job {job_id} was not claimable"
        others = [(c.id, c.attempt) for c in claimed if c.id != job_id]
        await queue_repo.release(conn, owner=OWNER, held=others)
        if outcome == "succeeded":
            assert await queue_repo.complete(
                conn, owner=OWNER, done=[(job_id, mine[0].attempt, {"v": job_id})]
            )
        else:
            failure = queue_repo.Failure(job_id, mine[0].attempt, "boom", retryable=False)
            assert await queue_repo.fail(conn, owner=OWNER, failures=[failure])


async def test_data_edge__child_waits_until_parent_succeeds(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        parent, child = await f.jobs(conn, d, 2, dag_id=dag)
        await f.edge(conn, dag, parent, child)
        assert await f.status(conn, child) == "waiting"
    await _run_to(pool, parent, "succeeded")
    async with pool.connection() as conn:
        assert await f.status(conn, child) == "queued"


async def test_data_edge__child_waits_for_every_parent(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        p1, p2, child = await f.jobs(conn, d, 3, dag_id=dag)
        await f.edge(conn, dag, p1, child)
        await f.edge(conn, dag, p2, child)
    await _run_to(pool, p1, "succeeded")
    async with pool.connection() as conn:
        assert await f.status(conn, child) == "waiting"
    await _run_to(pool, p2, "succeeded")
    async with pool.connection() as conn:
        assert await f.status(conn, child) == "queued"


async def test_order_only_edge__met_when_parent_fails(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        parent, child = await f.jobs(conn, d, 2, dag_id=dag)
        await f.edge(conn, dag, parent, child, "order-only")
    await _run_to(pool, parent, "failed")
    async with pool.connection() as conn:
        assert await f.status(conn, parent) == "failed"
        assert await f.status(conn, child) == "queued"


async def test_delay__child_due_at_parent_finish_plus_delay(pool: Pool) -> None:
    async with pool.connection() as conn:
        root = await f.definition(conn, "root")
        delayed = await f.definition(conn, "delayed", delay=timedelta(minutes=5))
        dag = await f.dag(conn)
        [parent] = await f.jobs(conn, root, dag_id=dag)
        [child] = await f.jobs(conn, delayed, dag_id=dag)
        await f.edge(conn, dag, parent, child)
        await jobs_repo.complete_job(conn, parent)
        cur = await conn.execute(
            """SELECT c.status, c.due_at - p.finished_at AS gap FROM jobs c, jobs p
                WHERE c.id = %s AND p.id = %s""",
            (child, parent),
        )
        row = await cur.fetchone()
    assert row is not None
    assert row["status"] == "queued"
    assert timedelta(minutes=5) <= row["gap"] < timedelta(minutes=5, seconds=1)


async def test_failure__propagates_upstream_failed_along_data_edges(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        root, mid, leaf, ordered = await f.jobs(conn, d, 4, dag_id=dag)
        await f.edge(conn, dag, root, mid)
        await f.edge(conn, dag, mid, leaf)
        await f.edge(conn, dag, mid, ordered, "order-only")
    await _run_to(pool, root, "failed")
    async with pool.connection() as conn:
        for job in (mid, leaf):
            row = await jobs_repo.get_job(conn, job)
            assert row["status"] == "upstream_failed"
            assert row["upstream_failed_from"] == root
        # order-only edges are met by any terminal state, upstream_failed included
        assert await f.status(conn, ordered) == "queued"


async def test_retry__gives_descendants_back_and_they_proceed(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        root, mid, leaf = await f.jobs(conn, d, 3, dag_id=dag)
        await f.edge(conn, dag, root, mid)
        await f.edge(conn, dag, mid, leaf)
    await _run_to(pool, root, "failed")
    async with pool.connection() as conn:
        await jobs_repo.retry_job(conn, root)
        assert await f.status(conn, root) == "queued"
        assert await f.status(conn, mid) == "waiting"
        assert await f.status(conn, leaf) == "waiting"
    await _run_to(pool, root, "succeeded")
    async with pool.connection() as conn:
        assert await f.status(conn, mid) == "queued"


async def test_retry__descendant_with_another_failed_parent_stays_blocked(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        a, b, child = await f.jobs(conn, d, 3, dag_id=dag)
        await f.edge(conn, dag, a, child)
        await f.edge(conn, dag, b, child)
    await _run_to(pool, a, "failed")
    await _run_to(pool, b, "failed")
    async with pool.connection() as conn:
        await jobs_repo.retry_job(conn, a)
        assert await f.status(conn, child) == "upstream_failed"
        await jobs_repo.retry_job(conn, b)
        assert await f.status(conn, child) == "waiting"


async def test_cancel__makes_data_descendants_upstream_failed(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        parent, child = await f.jobs(conn, d, 2, dag_id=dag)
        await f.edge(conn, dag, parent, child)
        await jobs_repo.cancel_job(conn, parent)
        assert await f.status(conn, child) == "upstream_failed"


async def test_edge_from_finished_parent__met_at_once(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        done, failed, child_ok, child_blocked = await f.jobs(conn, d, 4, dag_id=dag)
        await jobs_repo.complete_job(conn, done)
        await jobs_repo.fail_job(conn, failed, "no")
        await f.edge(conn, dag, done, child_ok)
        await f.edge(conn, dag, failed, child_blocked)
        assert await f.status(conn, child_ok) == "queued"
        row = await jobs_repo.get_job(conn, child_blocked)
        assert row["status"] == "upstream_failed"
        assert row["upstream_failed_from"] == failed


async def test_readiness__notifies_workers_once_per_transition(pool: Pool, db_url: str) -> None:
    import psycopg

    async with pool.connection() as conn:
        d = await f.definition(conn, "step")
        dag = await f.dag(conn)
        parent, c1, c2 = await f.jobs(conn, d, 3, dag_id=dag)
        await f.edge(conn, dag, parent, c1)
        await f.edge(conn, dag, parent, c2)
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as listener:
        await listener.execute("LISTEN chronosched_jobs")
        async with pool.connection() as conn:
            await jobs_repo.complete_job(conn, parent)
        received = []
        async for note in listener.notifies(timeout=1.0):
            received.append(note.payload)
    assert received == [""]
