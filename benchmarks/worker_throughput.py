"""Worker throughput: 20,000 no-op `python` jobs drained by 1 and by 2 `chronosched worker`
processes (`--until-empty`). The rate is measured on the database's clock, from the first
claim to the last completion, so process start-up does not count.

Run: `python -m benchmarks.worker_throughput` (embedded PostgreSQL 18 unless
CHRONOSCHED_BENCH_DATABASE_URL is set).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests import factories

from benchmarks.common import admin_url, fresh_database, machine, median
from chronosched.db.pool import open_pool

ROOT = Path(__file__).resolve().parents[1]


async def enqueue(url: str, jobs: int) -> None:
    pool = await open_pool(url, max_size=1)
    try:
        async with pool.connection() as conn:
            d = await factories.definition(conn, "noop", payload_template={"task": "noop"})
            for start in range(0, jobs, 5000):
                await factories.jobs(conn, d, min(5000, jobs - start))
            await conn.execute("VACUUM ANALYZE jobs")
    finally:
        await pool.close()


async def drain_rate(url: str, jobs: int) -> float:
    """Jobs per second between the first start and the last finish of this database's jobs."""
    pool = await open_pool(url, max_size=1)
    try:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'succeeded') AS done,"
                " extract(epoch FROM max(finished_at) - min(started_at)) AS secs FROM jobs"
            )
            row = await cur.fetchone()
    finally:
        await pool.close()
    assert row is not None
    if row["done"] != jobs:
        raise RuntimeError(f"only {row['done']} of {jobs} jobs succeeded")
    return jobs / float(row["secs"])


def run_workers(url: str, processes: int, concurrency: int, batch: int) -> None:
    args = [
        sys.executable, "-m", "chronosched", "worker", "--database-url", url,
        "--app", "tests.tasks_for_tests", "--kinds", "python", "--until-empty",
        "--concurrency", str(concurrency), "--batch", str(batch), "--log-level", "warning",
    ]  # fmt: skip
    procs = [subprocess.Popen(args, cwd=ROOT, env=os.environ.copy()) for _ in range(processes)]
    for proc in procs:
        if proc.wait(timeout=600) != 0:
            raise RuntimeError(f"worker exited with {proc.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with admin_url() as admin:
        with fresh_database(admin) as url:
            print(f"machine: {machine(url)}")
        for processes in args.processes:
            rates = []
            for _ in range(args.runs):
                with fresh_database(admin) as url:
                    asyncio.run(enqueue(url, args.jobs))
                    run_workers(url, processes, args.concurrency, args.batch)
                    rates.append(asyncio.run(drain_rate(url, args.jobs)))
            print(
                f"chronosched {processes} process(es), {args.jobs:,} no-op python jobs, "
                f"concurrency {args.concurrency}, batch {args.batch}: median "
                f"{median(rates):,.0f} jobs/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})",
                flush=True,
            )


if __name__ == "__main__":
    main()
