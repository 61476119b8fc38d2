"""Worker latency on an idle `chronosched worker` process:

- pickup: enqueue commit (client clock, right after the INSERT returns) -> handler start;
- DAG hop: parent's completion (its `finished_at`, the completing transaction's `now()`) ->
  child handler start.

Both clocks are this host's, so run it on one machine. The task returns `time.time()` at its
start (`tests.tasks_for_tests.started_at`).

Run: `python -m benchmarks.latency` (embedded PostgreSQL 18 unless
CHRONOSCHED_BENCH_DATABASE_URL is set).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests import factories

from benchmarks.common import admin_url, fresh_database, machine
from chronosched.db import dependencies_repo, jobs_repo
from chronosched.db.pool import AsyncConn, open_pool

ROOT = Path(__file__).resolve().parents[1]


def percentiles(values: list[float]) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49]:.2f} ms, p95 {cuts[94]:.2f} ms, p99 {cuts[98]:.2f} ms"


# The handler stamps its own start, so the client need not watch the job closely: it first
# waits this long, then polls. Polling from the start (every 2 ms) put this client's queries on
# the two cores right while the worker claimed, and raised the measured pickup p50 by ~0.5 ms.
SETTLE_SECONDS = 0.01


async def _wait_done(conn: AsyncConn, job_id: int) -> dict[str, object]:
    await asyncio.sleep(SETTLE_SECONDS)
    while True:
        row = await jobs_repo.get_job(conn, job_id)
        if row["status"] == "succeeded":
            return row
        await asyncio.sleep(0.002)


async def pickup(conn: AsyncConn, d: str, n: int, spacing: float) -> list[float]:
    out = []
    for _ in range(n):
        [job] = await factories.jobs(conn, d)
        committed = time.time()
        row = await _wait_done(conn, job)
        out.append((float(row["result"]) - committed) * 1000)  # type: ignore[arg-type]
        await asyncio.sleep(spacing)
    return out


async def dag_hop(conn: AsyncConn, d: str, n: int, spacing: float) -> list[float]:
    out = []
    for i in range(n):
        dag = await factories.dag(conn, f"hop-{i}")
        parent, child = await dependencies_repo.insert_graph(
            conn, dag, [jobs_repo.NewJob(def_id=d), jobs_repo.NewJob(def_id=d)], [(0, 1, "data")]
        )
        row = await _wait_done(conn, child)
        parent_row = await jobs_repo.get_job(conn, parent)
        finished = parent_row["finished_at"].timestamp()
        out.append((float(row["result"]) - finished) * 1000)
        await asyncio.sleep(spacing)
    return out


async def measure(url: str, n: int, spacing: float) -> None:
    pool = await open_pool(url, max_size=1)
    try:
        async with pool.connection() as conn:
            d = await factories.definition(conn, "probe", payload_template={"task": "started_at"})
            await pickup(conn, d, 20, spacing)  # warm-up: worker start, prepared statements
            picked = await pickup(conn, d, n, spacing)
            print(f"pickup latency over {n} spaced jobs: {percentiles(picked)}")
            hops = await dag_hop(conn, d, n, spacing)
            print(f"DAG hop latency over {n} parent->child pairs: {percentiles(hops)}", flush=True)
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--spacing", type=float, default=0.01, help="seconds between jobs")
    args = parser.parse_args()
    with admin_url() as admin, fresh_database(admin) as url:
        print(f"machine: {machine(url)}")
        worker = subprocess.Popen(
            [sys.executable, "-m", "chronosched", "worker", "--database-url", url,
             "--app", "tests.tasks_for_tests", "--kinds", "python", "--log-level", "warning"],
            cwd=ROOT, env=os.environ.copy(),
        )  # fmt: skip
        try:
            asyncio.run(measure(url, args.jobs, args.spacing))
        finally:
            worker.terminate()
            worker.wait(timeout=30)


if __name__ == "__main__":
    main()
