"""`cmd` throughput: 2,000 `cmd` jobs running `true` through one `chronosched worker` process,
against the raw rate at which Python spawns `true` on the same machine
(`asyncio.create_subprocess_exec` with the same concurrency, output piped as a job's is).

A `cmd` job is `/bin/sh -c true` (the shell's builtin `true`, one process), so the raw rate of
`sh -c true` is printed too; the goal (issue 4) is within 80% of raw `true`. The worker's rate
is measured on the database clock like `benchmarks.worker_throughput` (first `started_at` to last
`finished_at`); the raw rate on the wall clock from the first spawn to the last exit.

Both sides wait for their children through pidfds where the kernel has them: the worker's
executor polls each child's pidfd in its event loop (`chronosched.executors.process.PIDFD`), and
the raw baseline, which stands for the best plain Python can do, uses asyncio's
`PidfdChildWatcher` (the default from Python 3.12; on 3.11 the default starts a thread per
child). The `child watcher` line says which ran.

Run: `python -m benchmarks.cmd_throughput` (embedded PostgreSQL 18 unless
CHRONOSCHED_BENCH_DATABASE_URL is set).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from tests import factories

from benchmarks.common import admin_url, fresh_database, machine, median
from benchmarks.worker_throughput import drain_rate
from chronosched.db.pool import open_pool
from chronosched.executors import process
from chronosched.worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[1]


async def enqueue(url: str, jobs: int) -> None:
    """`jobs` cmd jobs running `true`, in batches (untimed)."""
    pool = await open_pool(url, max_size=1)
    try:
        async with pool.connection() as conn:
            d = await factories.definition(
                conn, "true", kind="cmd", payload_template={"cmd": "true"}
            )
            for start in range(0, jobs, 5000):
                await factories.jobs(conn, d, min(5000, jobs - start))
            await conn.execute("VACUUM ANALYZE jobs")
    finally:
        await pool.close()


def run_worker(url: str, concurrency: int) -> None:
    """One `--kinds cmd` worker draining the queue; claims capped by free slots anyway."""
    args = [
        sys.executable, "-m", "chronosched", "worker", "--database-url", url, "--kinds", "cmd",
        "--until-empty", "--concurrency", str(concurrency), "--batch", str(concurrency),
        "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.run(args, cwd=ROOT, env=os.environ.copy(), timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker exited with {proc.returncode}")


def best_child_watcher() -> str:
    """Give the raw baseline asyncio's best child watcher: pidfd where the kernel allows it."""
    if not process.PIDFD:
        return "a thread per child for the raw baseline and the worker alike (no pidfd_open)"
    if sys.version_info < (3, 12):  # 3.12+ picks PidfdChildWatcher by itself
        asyncio.set_child_watcher(asyncio.PidfdChildWatcher())  # asyncio.run attaches it
    return "pidfd: asyncio.PidfdChildWatcher for the raw baseline, the worker polls pidfds itself"


async def raw_rate(argv: list[str], jobs: int, concurrency: int) -> float:
    """Processes per second spawned and reaped by `concurrency` loops sharing `jobs` spawns."""
    remaining = jobs

    async def loop() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"{argv} exited with {proc.returncode}")

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return jobs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[16, WorkerSettings().concurrency],
        help="one or more; the default adds the worker's own default concurrency",
    )
    args = parser.parse_args()
    levels: list[int] = sorted(set(args.concurrency))
    ours: dict[int, list[float]] = {c: [] for c in levels}
    raw_true: dict[int, list[float]] = {c: [] for c in levels}
    raw_sh: dict[int, list[float]] = {c: [] for c in levels}
    with admin_url() as admin:
        with fresh_database(admin) as url:
            print(f"machine: {machine(url)}", flush=True)
        print(f"child watcher: {best_child_watcher()}", flush=True)
        for _ in range(args.runs):  # interleaved, so the machine's noise hits both alike
            for c in levels:
                raw_true[c].append(asyncio.run(raw_rate(["true"], args.jobs, c)))
                raw_sh[c].append(asyncio.run(raw_rate(["/bin/sh", "-c", "true"], args.jobs, c)))
                with fresh_database(admin) as url:
                    asyncio.run(enqueue(url, args.jobs))
                    run_worker(url, c)
                    ours[c].append(asyncio.run(drain_rate(url, args.jobs)))

    def line(label: str, rates: list[float], unit: str) -> None:
        listed = ", ".join(f"{x:,.0f}" for x in rates)
        print(f"{label:<35}median {median(rates):,.0f}{unit} ({listed})")

    for c in levels:
        print(f"{args.jobs:,} spawns per run, concurrency {c}, {args.runs} run(s)")
        line("raw Python spawn of `true`:", raw_true[c], "/s")
        line("raw Python spawn of `sh -c true`:", raw_sh[c], "/s")
        line("chronosched cmd jobs `true`:", ours[c], " jobs/s")
        print(
            f"chronosched / raw `true`: {median(ours[c]) / median(raw_true[c]):.0%}; "
            f"/ raw `sh -c true`: {median(ours[c]) / median(raw_sh[c]):.0%} "
            "(goal: >= 80% of raw `true`)",
            flush=True,
        )


if __name__ == "__main__":
    main()
