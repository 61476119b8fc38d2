"""Prune moves finished work to history in batches, never breaking a live edge."""

from __future__ import annotations

import itertools
from datetime import timedelta

from chronosched.db import prune_repo
from chronosched.db.pool import Pool
from tests import factories
from tests.integration.api_support import fetch


async def _count(pool: Pool, table: str) -> int:
    rows = await fetch(pool, f"SELECT count(*) AS n FROM {table}")
    return int(rows[0]["n"])


async def test_prune__moves_finished_jobs_edges_logs_and_dead_rows(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await factories.definition(conn, "A")
        dag = await factories.dag(conn)
        p, c = await factories.jobs(conn, d, 2, dag_id=dag)
        await factories.edge(conn, dag, p, c)
        solo = await factories.jobs(conn, d, 7)
        await conn.execute(
            "UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = ANY(%s)",
            ([p, *solo],),
        )
        await conn.execute(
            "UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = %s", (c,)
        )
        await conn.execute(
            "INSERT INTO job_logs (job_id, attempt, stdout) VALUES (%s, 1, 'hi')", (p,)
        )
        await conn.execute("UPDATE dags SET deleted = true, deleted_at = now()")
        await conn.execute("UPDATE job_definitions SET deleted = true, deleted_at = now()")
        counts = await prune_repo.prune(conn, batch=3)
        again = await prune_repo.prune(conn)
    assert counts == prune_repo.PruneCounts(
        jobs=9, job_dependencies=1, job_logs=1, job_definitions=1, dags=1, scheduler_events=0
    )
    assert again == prune_repo.PruneCounts()
    assert await _count(pool, "jobs") == 0
    assert await _count(pool, "jobs_history") == 9
    assert await _count(pool, "job_dependencies_history") == 1
    assert await _count(pool, "job_logs_history") == 1
    assert await _count(pool, "job_definitions_history") == 1
    assert await _count(pool, "dags_history") == 1


async def test_prune__keeps_jobs_sharing_edges_with_live_ones(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await factories.definition(conn, "A")
        dag = await factories.dag(conn)
        p, c, lone = await factories.jobs(conn, d, 3, dag_id=dag)
        await factories.edge(conn, dag, p, c)
        await conn.execute(
            "UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = ANY(%s)",
            ([p, lone],),
        )
        counts = await prune_repo.prune(conn)
        young = await prune_repo.prune(conn, timedelta(hours=1))
    assert counts.jobs == 1  # only the job without edges; p still feeds the live c
    assert young.jobs == 0
    rows = await fetch(pool, "SELECT id FROM jobs ORDER BY id")
    assert [r["id"] for r in rows] == [p, c]
    assert await _count(pool, "job_dependencies") == 1


async def test_prune__reads_past_batches_of_jobs_that_must_stay(pool: Pool) -> None:
    """The oldest finished jobs belong to a running DAG: batches that read only them move
    nothing, and the prune still goes on to the newer jobs after them."""
    async with pool.connection() as conn:
        d = await factories.definition(conn, "A")
        dag = await factories.dag(conn)
        chain = await factories.jobs(conn, d, 6, dag_id=dag)
        for parent, child in itertools.pairwise(chain):
            await factories.edge(conn, dag, parent, child)
        await conn.execute(
            "UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '1 hour' "
            "WHERE id = ANY(%s)",
            (chain[:5],),
        )
        solo = await factories.jobs(conn, d, 5)
        await conn.execute(
            "UPDATE jobs SET status = 'succeeded', finished_at = now() WHERE id = ANY(%s)",
            (solo,),
        )
        counts = await prune_repo.prune(conn, batch=2)
    assert counts.jobs == 5
    rows = await fetch(pool, "SELECT id FROM jobs ORDER BY id")
    assert [r["id"] for r in rows] == chain
    assert await _count(pool, "job_dependencies") == 5


async def test_prune__api_validates_older_than(pool: Pool) -> None:
    from tests.integration.api_support import api_client, assert_problem

    async with api_client(pool) as client:
        ok = await client.post("/admin/prune", json={"olderThan": "1 hour"})
        assert ok.status_code == 200
        assert ok.json()["jobs"] == 0
        assert (await client.post("/admin/prune")).status_code == 200
        assert_problem(await client.post("/admin/prune", json={"olderThan": "soon"}), 422)


async def test_prune__reads_every_block_of_the_table_a_few_at_a_time(pool: Pool) -> None:
    """Jobs are read by ranges of blocks: with a small batch, many ranges, and every finished
    job in any of them moves, the unfinished ones between them stay."""
    async with pool.connection() as conn:
        d = await factories.definition(conn, "A")
        ids = await factories.jobs(conn, d, 300)
        finished = ids[::3] + ids[1::3]
        await conn.execute(
            "UPDATE jobs SET status = 'succeeded', finished_at = now() - interval '1 hour' "
            "WHERE id = ANY(%s)",
            (finished,),
        )
        cur = await conn.execute(
            "SELECT count(DISTINCT (ctid::text::point)[0]) AS blocks FROM jobs"
        )
        row = await cur.fetchone()
        assert row is not None and row["blocks"] > 5  # the jobs span many blocks
        counts = await prune_repo.prune(conn, timedelta(minutes=30), batch=7)
    assert counts.jobs == len(finished)
    rows = await fetch(pool, "SELECT id FROM jobs ORDER BY id")
    assert [r["id"] for r in rows] == sorted(ids[2::3])
    assert await _count(pool, "jobs_history") == len(finished)
