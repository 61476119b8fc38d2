"""The queue repository on a real database: claim order and batching, SKIP LOCKED, renewals,
reaping, retries, hand-back and the due-time timer."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from chronosched.db import jobs_repo, queries, queue_repo
from chronosched.db.pool import Pool
from tests import factories as f


async def _claim(pool: Pool, owner: str = "w1", limit: int = 10, lease: float = 30) -> list[int]:
    async with pool.connection() as conn:
        jobs = await queue_repo.claim(
            conn, owner=owner, limit=limit, lease_seconds=lease, kinds=["python"]
        )
    return [j.id for j in jobs]


async def _now_plus(pool: Pool, seconds: float) -> object:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT now() + make_interval(secs => %s) AS t", (seconds,))
        row = await cur.fetchone()
    assert row is not None
    return row["t"]


async def test_claim__priority_first_then_oldest_due(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        [low] = await f.jobs(conn, d, priority=0)
        [high] = await f.jobs(conn, d, priority=5)
        [low_older] = await f.jobs(conn, d, priority=0)
        # inserts never set a due time in the past; age this one by hand
        await conn.execute("UPDATE jobs SET due_at = now() - interval '1 hour' WHERE id = %s",
                           (low_older,))  # fmt: skip
        [future] = await f.jobs(conn, d, priority=9, due_at=await _now_plus(pool, 3600))
    picked = [await _claim(pool, limit=1) for _ in range(4)]
    assert picked == [[high], [low_older], [low], []]
    async with pool.connection() as conn:
        assert await f.status(conn, future) == "queued"


async def test_claim__batches_up_to_limit_and_sets_the_lease(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d", max_attempts=4)
        ids = await f.jobs(conn, d, 25)
    first = await _claim(pool, limit=10)
    second = await _claim(pool, limit=100)
    assert len(first) == 10 and len(second) == 15
    assert sorted(first + second) == ids
    async with pool.connection() as conn:
        row = await jobs_repo.get_job(conn, ids[0])
    assert (row["status"], row["lease_owner"], row["attempt"]) == ("running", "w1", 1)


async def test_claim__returns_what_the_executor_needs(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "shape", payload_template={"task": "noop"}, max_attempts=7)
        [job] = await f.jobs(conn, d)
        [claimed] = await queue_repo.claim(
            conn, owner="w", limit=1, lease_seconds=30, kinds=["python"]
        )
    assert claimed.id == job and claimed.def_name == "shape" and claimed.max_attempts == 7
    assert claimed.payload == {"task": "noop"} and claimed.parent_results is None


async def test_claim__only_kinds_the_worker_accepts(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "c", kind="cmd", payload_template={"cmd": "true"})
        await f.jobs(conn, d, 3)
    assert await _claim(pool) == []


async def test_claim__concurrent_claimers_skip_locked_rows_and_never_share(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        ids = await f.jobs(conn, d, 300)
    results = await asyncio.gather(*(_claim(pool, owner=f"w{i}", limit=40) for i in range(6)))
    rest = await _claim(pool, owner="late", limit=1000)
    claimed = [i for r in results for i in r] + rest
    assert sorted(claimed) == ids  # everything claimed exactly once


async def test_renew__extends_only_leases_still_held(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        a, b = await f.jobs(conn, d, 2)
    await _claim(pool, lease=5)
    async with pool.connection() as conn:
        await jobs_repo.cancel_job(conn, b)
        still = await queue_repo.renew(conn, owner="w1", held=[(a, 1), (b, 1)], lease_seconds=60)
        assert still == {a}
        assert await queue_repo.renew(conn, owner="w2", held=[(a, 1)], lease_seconds=60) == set()
        cur = await conn.execute(
            "SELECT lease_until > now() + interval '50 seconds' AS long FROM jobs WHERE id = %s",
            (a,),
        )
        assert (await cur.fetchone()) == {"long": True}


async def test_reap__requeues_expired_leases_only(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        short, long = await f.jobs(conn, d, 2)
    await _claim(pool, owner="dead", limit=1, lease=0.1)
    await _claim(pool, owner="alive", limit=1, lease=60)
    await asyncio.sleep(0.3)
    async with pool.connection() as conn:
        assert await queue_repo.reap(conn) == {short: "queued"}
        assert await queue_repo.reap(conn) == {}
        assert await f.status(conn, long) == "running"


async def test_complete_and_fail__each_job_gets_its_own_result_from_one_batch(
    pool: Pool,
) -> None:
    """The results travel as one jsonb document indexed by position: a mixed batch must put
    every result on its own job, JSON null stored as SQL NULL."""
    results: list[Any] = [None, {"rows": 3}, [1, "two"], "text", 0, False, {"nested": {"a": []}}]
    n = len(results)
    async with pool.connection() as conn:
        d = await f.definition(conn, "d", max_attempts=1)
        ids = await f.jobs(conn, d, 2 * n)
        claimed = await queue_repo.claim(
            conn, owner="w", limit=2 * n, lease_seconds=30, kinds=["python"]
        )
        attempt = {j.id: j.attempt for j in claimed}
        done_ids, failed_ids = ids[:n], ids[n:]
        # Reversed order: position in the batch, not job id order, decides.
        done = [(i, attempt[i], r) for i, r in reversed(list(zip(done_ids, results, strict=True)))]
        assert await queue_repo.complete(conn, owner="w", done=done) == set(done_ids)
        failures = [
            queue_repo.Failure(i, attempt[i], f"error {k}", result=r)
            for k, (i, r) in enumerate(zip(failed_ids, results, strict=True))
        ]
        statuses = await queue_repo.fail(conn, owner="w", failures=failures)
        assert statuses == {i: "failed" for i in failed_ids}
        cur = await conn.execute(
            "SELECT id, status, result, result IS NULL AS is_null, last_error FROM jobs"
            " WHERE id = ANY(%s) ORDER BY id",
            [ids],
        )
        rows = {row["id"]: row for row in await cur.fetchall()}
    for i, r in zip(done_ids, results, strict=True):
        assert rows[i]["status"] == "succeeded"
        assert (rows[i]["result"], rows[i]["is_null"]) == (r, r is None), i
    for k, (i, r) in enumerate(zip(failed_ids, results, strict=True)):
        assert (rows[i]["result"], rows[i]["is_null"]) == (r, r is None), i
        assert rows[i]["last_error"] == f"error {k}"


async def test_fail__retries_then_fails_for_good(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d", max_attempts=2)
        [job] = await f.jobs(conn, d)
    for attempt, expected in ((1, "queued"), (2, "failed")):
        assert await _claim(pool) == [job]
        async with pool.connection() as conn:
            failure = queue_repo.Failure(job, attempt, f"broke {attempt}", retry_in=0.0)
            assert await queue_repo.fail(conn, owner="w1", failures=[failure]) == {job: expected}
    async with pool.connection() as conn:
        row = await jobs_repo.get_job(conn, job)
    assert (row["attempt"], row["last_error"]) == (2, "broke 2")


async def test_fail__retry_waits_for_the_backoff(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        [job] = await f.jobs(conn, d)
    await _claim(pool)
    async with pool.connection() as conn:
        failure = queue_repo.Failure(job, 1, "later", retry_in=120.0)
        await queue_repo.fail(conn, owner="w1", failures=[failure])
        wait = await queue_repo.next_due_in(conn)
    assert await _claim(pool) == []
    assert wait is not None and 100 < wait <= 120


async def test_fail__non_retryable_fails_at_once(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d", max_attempts=5)
        [job] = await f.jobs(conn, d)
    await _claim(pool)
    async with pool.connection() as conn:
        failure = queue_repo.Failure(job, 1, "bad payload", retryable=False)
        assert await queue_repo.fail(conn, owner="w1", failures=[failure]) == {job: "failed"}


async def test_release__hands_back_without_counting_the_attempt(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        [job] = await f.jobs(conn, d)
    await _claim(pool)
    async with pool.connection() as conn:
        assert await queue_repo.release(conn, owner="w1", held=[(job, 1)]) == {job}
        row = await jobs_repo.get_job(conn, job)
    assert (row["status"], row["attempt"]) == ("queued", 0)


async def test_next_due_in__none_when_nothing_waits(pool: Pool) -> None:
    async with pool.connection() as conn:
        assert await queue_repo.next_due_in(conn) is None
        d = await f.definition(conn, "d", delay=timedelta(seconds=0))
        await f.jobs(conn, d, due_at=await _now_plus(pool, 30))
        wait = await queue_repo.next_due_in(conn)
    assert wait is not None and 25 < wait <= 30


async def test_save_logs__one_row_per_attempt(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        [job] = await f.jobs(conn, d)
        records = [
            queue_repo.LogRecord(job, 1, "out\x00", "err", "boom", 2),
            queue_repo.LogRecord(job, 2, "", "", None, 0),
        ]
        await queue_repo.save_logs(conn, worker_id="w1", records=records)
        logs = await jobs_repo.job_logs(conn, job)
    assert [
        (r["attempt"], r["worker_id"], r["stdout"], r["stderr"], r["error"], r["exit_code"])
        for r in logs
    ] == [(1, "w1", "out", "err", "boom", 2), (2, "w1", "", "", None, 0)]


async def test_workers_registry__register_heartbeat_stop(pool: Pool) -> None:
    async with pool.connection() as conn:
        await queue_repo.register_worker(
            conn, worker_id="h:1:x", host="h", pid=1, kinds=["python"], concurrency=4
        )
        await queue_repo.worker_heartbeat(conn, worker_id="h:1:x", running=3)
        [row] = await queue_repo.list_workers(conn)
        assert (row["running"], row["alive"]) == (3, True)
        await queue_repo.worker_stopped(conn, worker_id="h:1:x")
        [row] = await queue_repo.list_workers(conn)
    assert row["alive"] is False


async def test_batched_writes__large_batches_never_prepared_so_never_a_generic_plan(
    pool: Pool,
) -> None:
    """psycopg prepares a statement after 5 runs and PostgreSQL then may switch to a generic
    plan, which nested-looped the unnest of a 500-job completion against every job (10x slower).
    Batched writes above SMALL_BATCH rows must therefore stay unprepared however often one
    connection runs them; small ones (an idle worker's single result) may be prepared."""
    n = queue_repo.SMALL_BATCH + 1
    async with pool.connection() as conn:
        d = await f.definition(conn, "d", max_attempts=100)
        ids = await f.jobs(conn, d, n)

        async def claim_all() -> int:
            claimed = await queue_repo.claim(
                conn, owner="w", limit=n, lease_seconds=30, kinds=["python"]
            )
            assert sorted(j.id for j in claimed) == ids
            return claimed[0].attempt

        for round_ in range(8):
            attempt = await claim_all()
            held = [(i, attempt) for i in ids]
            assert await queue_repo.renew(conn, owner="w", held=held, lease_seconds=30) == set(ids)
            if round_ % 2:
                failures = [queue_repo.Failure(i, attempt, "again", retry_in=0.0) for i in ids]
                assert set(await queue_repo.fail(conn, owner="w", failures=failures)) == set(ids)
            else:
                assert await queue_repo.release(conn, owner="w", held=held) == set(ids)
        attempt = await claim_all()
        for _ in range(8):  # refused (already done) after the first: same statement each time
            await queue_repo.complete(conn, owner="w", done=[(i, attempt, None) for i in ids])
        cur = await conn.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row["statement"] for row in await cur.fetchall()]
        assert any("FOR UPDATE SKIP LOCKED" in s for s in prepared)  # the claim is prepared
        assert [s for s in prepared if "unnest(" in s] == []
        for _ in range(8):  # a single result, as an idle worker stores it: prepared is fine
            await queue_repo.complete(conn, owner="w", done=[(ids[0], attempt, None)])
        cur = await conn.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row["statement"] for row in await cur.fetchall()]
    assert [s for s in prepared if "unnest(" in s and "'succeeded'" in s] != []


async def _plans(conn: Any, marker: str) -> dict[str, int]:
    """Generic and custom plans PostgreSQL made for the prepared statement containing `marker`."""
    cur = await conn.execute(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
        " WHERE strpos(statement, %s) > 0",
        (marker,),
    )
    rows = await cur.fetchall()
    assert len(rows) == 1, rows
    return dict(rows[0])


async def _plan_cache_mode(conn: Any) -> str:
    cur = await conn.execute("SHOW plan_cache_mode")
    row = await cur.fetchone()
    assert row is not None
    return str(row["plan_cache_mode"])


async def test_claim_and_small_batches__reuse_their_generic_plan(pool: Pool) -> None:
    """Left to itself PostgreSQL re-planned the prepared claim on every run (its generic plan
    looks dearer than a custom one for a small limit), ~0.3 ms of a 0.7 ms claim of 8 jobs."""
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        await f.jobs(conn, d, 40)
        claimed = []
        for _ in range(8):  # psycopg prepares after 5 runs; the rest run the prepared statement
            claimed += await queue_repo.claim(
                conn, owner="w", limit=2, lease_seconds=30, kinds=["python"]
            )
        for job in claimed:
            await queue_repo.complete(conn, owner="w", done=[(job.id, job.attempt, None)])
        claim_plans = await _plans(conn, "FOR UPDATE SKIP LOCKED")
        complete_plans = await _plans(conn, "SET status = 'succeeded'")
    assert claim_plans["custom_plans"] == 0 and claim_plans["generic_plans"] >= 3
    assert complete_plans["custom_plans"] == 0 and complete_plans["generic_plans"] >= 11
    async with pool.connection() as conn:
        assert await f.status(conn, claimed[-1].id) == "succeeded"


async def test_large_batches__planned_with_their_arrays_even_after_generic_ones(
    pool: Pool,
) -> None:
    """The generic mode the claim sets must not leak into a large batch on the same connection
    (its generic plan nested-loops the batch against every job), nor into whoever gets the
    connection from the pool next."""
    n = queue_repo.SMALL_BATCH + 1
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        await f.jobs(conn, d, n)
        claimed = await queue_repo.claim(
            conn, owner="w", limit=n, lease_seconds=30, kinds=["python"]
        )
        assert await _plan_cache_mode(conn) == "force_generic_plan"
        done = [(j.id, j.attempt, None) for j in claimed]
        assert await queue_repo.complete(conn, owner="w", done=done) == {j.id for j in claimed}
        assert await _plan_cache_mode(conn) == "auto"
        await queue_repo.complete(conn, owner="w", done=done[:1])  # small: generic again
        assert await _plan_cache_mode(conn) == "force_generic_plan"
    for _ in range(pool.max_size + 1):  # whichever connection comes back: the default
        async with pool.connection() as conn:
            assert await _plan_cache_mode(conn) == "auto"


async def test_claim__commits_asynchronously_without_changing_the_session(pool: Pool) -> None:
    """The claim turns synchronous_commit off for its own transaction only: the completion
    that follows on the same connection must wait for its WAL flush again."""
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        await f.jobs(conn, d, 2)
        async with conn.transaction():
            await queue_repo.claim(conn, owner="w", limit=1, lease_seconds=30, kinds=["python"])
            cur = await conn.execute("SHOW synchronous_commit")
            assert await cur.fetchone() == {"synchronous_commit": "off"}
        await queue_repo.claim(conn, owner="w", limit=1, lease_seconds=30, kinds=["python"])
        cur = await conn.execute("SHOW synchronous_commit")
        assert await cur.fetchone() == {"synchronous_commit": "on"}


def _jobs_scan_rows(plan: dict[str, Any]) -> list[float]:
    """Estimated rows of every scan of `jobs j` in an EXPLAIN (FORMAT JSON) plan tree."""
    scan = plan["Node Type"].endswith("Scan") and plan.get("Relation Name") == "jobs"
    found = [plan["Plan Rows"]] if scan else []
    for child in plan.get("Plans", []):
        found += _jobs_scan_rows(child)
    return found


async def test_batched_writes__the_planner_expects_the_whole_batch_to_be_ours(pool: Pool) -> None:
    """The owner fence must not be a filter on `jobs`: statistics taken while no job was leased
    (as after a bulk enqueue) make PostgreSQL expect one matching job, and it then nested-looped
    the batch against every job (PostgreSQL 15: 80 ms instead of 6 for 500 completions)."""
    n = 200
    async with pool.connection() as conn:
        d = await f.definition(conn, "d")
        await f.jobs(conn, d, n)
        await conn.execute("ANALYZE jobs")  # every lease_owner is NULL in these statistics
        claimed = await queue_repo.claim(
            conn, owner="w", limit=n, lease_seconds=30, kinds=["python"]
        )
        # The parameters in the shapes queue_repo sends them.
        batch = {
            "owner": "w",
            "ids": queue_repo.int_array(j.id for j in claimed),
            "attempts": queue_repo.int_array(j.attempt for j in claimed),
        }
        statements = {
            "complete_jobs": {**batch, "results": Jsonb([None] * n)},
            "fail_jobs": {
                **batch,
                "errors": ["e"] * n,
                "results": Jsonb([None] * n),
                "retryable": [True] * n,
                "retry_in": [0.0] * n,
            },
            "renew_leases": {**batch, "lease_seconds": 30},
            "release_jobs": batch,
        }
        for name, params in statements.items():
            cur = await conn.execute(
                "EXPLAIN (FORMAT JSON) " + queries.get(name), params, prepare=False
            )
            row = await cur.fetchone()
            assert row is not None
            [estimates] = [_jobs_scan_rows(plan["Plan"]) for plan in row["QUERY PLAN"]]
            assert estimates and min(estimates) >= n / 2, (name, estimates)
