"""Prune: seconds to move finished DAG jobs (with their edges) and standalone jobs to history.

Builds `--dags` finished DAGs of `--size` jobs each (a chain: every job but the first has an
edge), one more DAG of the same size still running (its finished jobs must stay, since they
share edges with a live job), and `--solo` finished standalone jobs; then times one
`prune_repo.prune` over all of it. Finish times are spread over the last hour so the rows arrive
in batches in the order a real history has them.

Run: `python -m benchmarks.prune` (embedded PostgreSQL 18 unless CHRONOSCHED_BENCH_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from tests import factories

from benchmarks.common import admin_url, fresh_database, machine
from chronosched.db import dependencies_repo, jobs_repo, prune_repo
from chronosched.db.pool import open_pool


async def build(url: str, dags: int, size: int, solo: int) -> None:
    """The history to prune (untimed)."""
    pool = await open_pool(url, max_size=1)
    try:
        async with pool.connection() as conn:
            await conn.execute("SET statement_timeout = 0")  # one UPDATE finishes everything
            d = await factories.definition(conn, "node")
            chain = [(i, i + 1, "data") for i in range(size - 1)]
            for n in range(dags + 1):
                dag = await factories.dag(conn, f"dag-{n}")
                nodes = [jobs_repo.NewJob(def_id=d) for _ in range(size)]
                await dependencies_repo.insert_graph(conn, dag, nodes, chain)
            for start in range(0, solo, 5000):
                await factories.jobs(conn, d, min(5000, solo - start))
            await conn.execute(
                "UPDATE jobs SET status = 'succeeded', "
                "finished_at = now() - interval '1 hour' + id * interval '10 microseconds'"
            )
            # the last DAG is still running: its last job is not finished
            await conn.execute(
                "UPDATE jobs SET status = 'running', finished_at = NULL, attempt = 1, "
                "started_at = now(), lease_owner = 'bench', "
                "lease_until = now() + interval '1 hour' "
                "WHERE id = (SELECT max(id) FROM jobs WHERE dag_id IS NOT NULL)"
            )
            await conn.execute("VACUUM ANALYZE")
    finally:
        await pool.close()


async def timed_prune(url: str) -> tuple[float, prune_repo.PruneCounts]:
    pool = await open_pool(url, max_size=1)
    try:
        async with pool.connection() as conn:
            start = time.perf_counter()
            counts = await prune_repo.prune(conn)
            return time.perf_counter() - start, counts
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dags", type=int, default=200)
    parser.add_argument("--size", type=int, default=1000, help="jobs per DAG")
    parser.add_argument("--solo", type=int, default=50_000, help="standalone jobs")
    args = parser.parse_args()
    with admin_url() as admin, fresh_database(admin) as url:
        print(f"machine: {machine(url)}", flush=True)
        asyncio.run(build(url, args.dags, args.size, args.solo))
        seconds, counts = asyncio.run(timed_prune(url))
    expected = args.dags * args.size + args.solo
    print(
        f"prune of {args.dags:,} finished DAGs x {args.size:,} jobs + {args.solo:,} standalone "
        f"jobs (+1 running DAG of {args.size:,} that stays): {seconds:.2f} s, "
        f"{counts.jobs / seconds:,.0f} jobs/s; moved {counts.jobs:,} jobs "
        f"(expected {expected:,}) and {counts.job_dependencies:,} edges",
        flush=True,
    )
    if counts.jobs != expected:
        raise SystemExit("prune moved the wrong number of jobs")


if __name__ == "__main__":
    main()
