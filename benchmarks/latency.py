"""Worker latency on an idle `chronosched worker` process:

- pickup: enqueue commit (client clock, right after the INSERT returns) -> handler start;
- DAG hop, as the issue defines it: the parent's completion commit (seen as the notification
  that commit sends, on a LISTEN connection of this client) -> child handler start;
- DAG hop from the parent's `finished_at` (the completing transaction's `now()`, taken before
  the completion statement runs and commits): an upper bound that adds the completion itself.

Both clocks are this host's, so run it on one machine. The task returns `time.time()` at its
start (`tests.tasks_for_tests.started_at`).

Run: `python -m benchmarks.latency` (embedded PostgreSQL 18 unless
CHRONOSCHED_BENCH_DATABASE_URL is set).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
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


class CommitWatcher:
    """Stamps every `chronosched_jobs` notification on arrival (host clock). PostgreSQL sends a
    notification when the transaction that raised it commits, so the parent's completion commit
    is seen here when it readies the child: the start of the DAG hop as the issue defines it."""

    def __init__(self, url: str) -> None:
        self._url = url
        self.stamps: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CommitWatcher:
        conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
        await conn.execute("LISTEN chronosched_jobs")

        async def collect() -> None:
            try:
                async for _ in conn.notifies():
                    self.stamps.append(time.time())
            finally:
                await conn.close()

        self._task = asyncio.create_task(collect())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def first_after(self, moment: float) -> float:
        return self.stamps[bisect.bisect_right(self.stamps, moment)]


async def dag_hop(
    conn: AsyncConn, d: str, n: int, spacing: float, commits: CommitWatcher, label: str = "hop"
) -> tuple[list[float], list[float]]:
    """Per parent->child pair: (child start - parent's `finished_at`) and (child start - the
    moment the parent's completion commit was seen)."""
    from_finished, from_commit = [], []
    for i in range(n):
        dag = await factories.dag(conn, f"{label}-{i}")
        parent, child = await dependencies_repo.insert_graph(
            conn, dag, [jobs_repo.NewJob(def_id=d), jobs_repo.NewJob(def_id=d)], [(0, 1, "data")]
        )
        row = await _wait_done(conn, child)
        parent_row = await jobs_repo.get_job(conn, parent)
        child_start = float(row["result"])  # type: ignore[arg-type]
        finished = parent_row["finished_at"].timestamp()
        from_finished.append((child_start - finished) * 1000)
        committed = commits.first_after(float(parent_row["result"]))  # after the parent started
        from_commit.append((child_start - committed) * 1000)
        await asyncio.sleep(spacing)
    return from_finished, from_commit


async def measure(url: str, n: int, spacing: float) -> None:
    pool = await open_pool(url, max_size=1)
    try:
        async with pool.connection() as conn, CommitWatcher(url) as commits:
            d = await factories.definition(conn, "probe", payload_template={"task": "started_at"})
            await pickup(conn, d, 20, spacing)  # warm-up: worker start, prepared statements
            picked = await pickup(conn, d, n, spacing)
            print(f"pickup latency over {n} spaced jobs: {percentiles(picked)}")
            await dag_hop(conn, d, 20, spacing, commits, "warm-up")  # warm-up of the DAG statements
            from_finished, from_commit = await dag_hop(conn, d, n, spacing, commits)
            print(
                f"DAG hop latency over {n} parent->child pairs, parent's completion commit seen "
                f"-> child start: {percentiles(from_commit)}"
            )
            print(
                f"DAG hop latency over {n} parent->child pairs, parent's finished_at (its "
                f"completion transaction's start) -> child start: {percentiles(from_finished)}",
                flush=True,
            )
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
