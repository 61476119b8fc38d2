"""Repository micro-benchmarks (issue: foundation): a 100,000-edge DAG inserted through the
repository, and claim + complete of 20,000 jobs in batches through the queue repository.

Run: `python -m benchmarks.repo` (embedded PostgreSQL 18 unless CHRONOSCHED_BENCH_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from tests import factories

from benchmarks.common import admin_url, fresh_database, machine, median
from chronosched.db import dependencies_repo, jobs_repo, queue_repo
from chronosched.db.pool import open_pool


async def dag_insert(url: str, edges: int) -> tuple[float, float]:
    """Seconds to insert a DAG of `edges + 1` jobs and `edges` edges (half a long chain, the
    worst case for a transitive closure, half fan-out) through `insert_graph`, then seconds to
    add 1,000 more edges to it through `add_edges` (which cycle-checks against the whole DAG)."""
    pool = await open_pool(url, max_size=2)
    try:
        async with pool.connection() as conn:
            d = await factories.definition(conn, "node")
            dag = await factories.dag(conn, "big")
            half = edges // 2
            pairs = [(i, i + 1, "data") for i in range(half)]
            pairs += [(0, half + 1 + i, "data") for i in range(edges - half)]
            start = time.perf_counter()
            nodes = await dependencies_repo.insert_graph(
                conn, dag, [jobs_repo.NewJob(def_id=d) for _ in range(edges + 1)], pairs
            )
            graph_secs = time.perf_counter() - start
            extra = await factories.jobs(conn, d, 1000, dag_id=dag)
            start = time.perf_counter()
            await dependencies_repo.add_edges(
                conn, dag, [dependencies_repo.Edge(nodes[half], x) for x in extra]
            )
            return graph_secs, time.perf_counter() - start
    finally:
        await pool.close()


async def claim_complete(url: str, jobs: int, batch: int) -> float:
    """Jobs per second for claim + complete in batches of `batch` on one connection."""
    pool = await open_pool(url, max_size=2)
    try:
        async with pool.connection() as conn:
            d = await factories.definition(conn, "noop")
            for start in range(0, jobs, 5000):
                await factories.jobs(conn, d, min(5000, jobs - start))
            await conn.execute("VACUUM ANALYZE jobs")
            begin = time.perf_counter()
            done = 0
            while done < jobs:
                claimed = await queue_repo.claim(
                    conn, owner="bench", limit=batch, lease_seconds=30, kinds=["python"]
                )
                if not claimed:
                    break
                await queue_repo.complete(
                    conn, owner="bench", done=[(c.id, c.attempt, None) for c in claimed]
                )
                done += len(claimed)
            return done / (time.perf_counter() - begin)
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--edges", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with admin_url() as admin:
        with fresh_database(admin) as url:
            print(f"machine: {machine(url)}")
        graph, more = [], []
        for _ in range(args.runs):
            with fresh_database(admin) as url:
                g, m = await dag_insert(url, args.edges)
                graph.append(g)
                more.append(m)
        print(
            f"{args.edges:,}-edge DAG via insert_graph: median {median(graph):.2f} s "
            f"(runs: {', '.join(f'{s:.2f}' for s in graph)}); +1,000 edges via add_edges: "
            f"median {median(more):.2f} s"
        )
        for batch in (50, 200, 1000):
            rates = []
            for _ in range(args.runs):
                with fresh_database(admin) as url:
                    rates.append(await claim_complete(url, args.jobs, batch))
            print(
                f"claim+complete {args.jobs:,} jobs, batch {batch}: median "
                f"{median(rates):,.0f} jobs/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
            )


if __name__ == "__main__":
    asyncio.run(main())
