"""Cron fire accuracy (issue 5): how late after its tick does a cron job's row exist?

For 1, 100 and 1,000 `@every 1s` definitions, a real `chronosched scheduler` process runs for a
bounded time against a fresh database, and two latenesses are measured per tick:

* `enqueued_at - scheduled_for` of every job (database clock: when the inserting transaction
  began, i.e. when the round decided to fire);
* commit: when the round's transaction became visible, observed by a LISTEN on `chronosched_jobs`
  (the jobs-inserted trigger notifies once per insert statement; delivery happens at commit) on
  the same host as the database, minus the tick.

Run: `python -m benchmarks.cron_accuracy [--seconds 30] [--counts 1,100,1000] [--record]`
(embedded PostgreSQL 18 unless CHRONOSCHED_BENCH_DATABASE_URL). `--record` appends the figures to
docs/benchmarks.md under "## Scheduler".
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from benchmarks.common import admin_url, fresh_database, machine

WARMUP_SECONDS = 3.0  # process start-up and the first rounds are not measured
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Scheduler"


@dataclasses.dataclass
class Result:
    definitions: int
    jobs: int
    ticks: int
    enqueue_p50: float
    enqueue_p99: float
    commit_p50: float
    commit_p99: float
    commit_max: float
    cpu_percent: float


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def create_definitions(url: str, count: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO job_definitions (namespace_id, name, version, kind, cron_spec)
               SELECT n.id, 'tick-' || g, 1, 'python', '@every 1s'
                 FROM namespaces n, generate_series(1, %s) AS g WHERE n.name = 'default'""",
            (count,),
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def watch_commits(url: str, seconds: float) -> list[float]:
    """Host times at which job inserts became visible (one notification per round)."""
    seen: list[float] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("LISTEN chronosched_jobs")
        deadline = time.time() + seconds
        while time.time() < deadline:
            async for _ in conn.notifies(timeout=max(0.01, deadline - time.time())):
                seen.append(time.time())
    return seen


def measure(admin: str, count: int, seconds: float) -> Result:
    with fresh_database(admin) as url:
        create_definitions(url, count)
        env = {**os.environ, "DATABASE_URL": url, "CHRONOSCHED_LOG_LEVEL": "warning"}
        proc = subprocess.Popen([sys.executable, "-m", "chronosched", "scheduler"], env=env)
        try:
            time.sleep(WARMUP_SECONDS)
            cpu_before, wall_before = cpu_seconds(proc.pid), time.monotonic()
            begin = datetime.datetime.now(datetime.UTC)
            commits = asyncio.run(watch_commits(url, seconds))
            cpu = (cpu_seconds(proc.pid) - cpu_before) / (time.monotonic() - wall_before)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                """SELECT extract(epoch FROM enqueued_at - scheduled_for)::float8,
                          extract(epoch FROM scheduled_for)::float8
                     FROM jobs WHERE scheduled_for > %s AND scheduled_for <= %s""",
                (begin, begin + datetime.timedelta(seconds=seconds - 1)),
            ).fetchall()
    enqueue = [r[0] for r in rows]
    ticks = {r[1] for r in rows}
    # Each notification belongs to the newest whole-second tick before it (rounds are < 1 s).
    commit = [t - math.floor(t) for t in commits]
    return Result(
        definitions=count,
        jobs=len(rows),
        ticks=len(ticks),
        enqueue_p50=percentile(enqueue, 0.50) * 1000,
        enqueue_p99=percentile(enqueue, 0.99) * 1000,
        commit_p50=percentile(commit, 0.50) * 1000,
        commit_p99=percentile(commit, 0.99) * 1000,
        commit_max=max(commit, default=math.nan) * 1000,
        cpu_percent=cpu * 100,
    )


def table(results: list[Result]) -> str:
    lines = [
        "| `@every 1s` definitions | jobs | decided (enqueuedAt - scheduledFor) p50 / p99 | "
        "committed p50 / p99 / max | scheduler CPU |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.definitions:,} | {r.jobs:,} | {r.enqueue_p50:.1f} / {r.enqueue_p99:.1f} ms | "
            f"{r.commit_p50:.1f} / {r.commit_p99:.1f} / {r.commit_max:.1f} ms | "
            f"{r.cpu_percent:.0f}% of a core |"
        )
    return "\n".join(lines)


def record(text: str) -> None:
    """Add a dated block under "## Scheduler", creating the heading if needed; keeps the rest."""
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if HEADING not in current:
        DOCS.write_text(current.rstrip("\n") + f"\n\n{HEADING}\n\n{text}\n")
        return
    start = current.index(HEADING) + len(HEADING)
    following = current.find("\n## ", start)
    end = len(current) if following == -1 else following
    section = current[:end].rstrip("\n") + f"\n\n{text}\n"
    DOCS.write_text(section + ("\n" + current[end:].lstrip("\n") if following != -1 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--counts", default="1,100,1000")
    parser.add_argument("--record", action="store_true", help="append to docs/benchmarks.md")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    with admin_url() as admin:
        results = []
        for count in counts:
            results.append(measure(admin, count, args.seconds))
            print(table(results[-1:]).splitlines()[-1], flush=True)
        where = machine(admin)
    today = datetime.date.today().isoformat()
    text = (
        f"### Cron fire accuracy ({today}, {args.seconds:.0f} s per row, one scheduler process)\n\n"
        f"Machine: {where}.\n\n{table(results)}\n"
    )
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
