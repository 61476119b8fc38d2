"""Planning experiment (issue 4): would a narrow queue table beside `jobs` make claims and
completions cheaper for PostgreSQL?

Today a claim and a completion are each a non-HOT UPDATE of `jobs` (status is in the predicates
of the claim and lease indexes), so each writes a new row version and an entry in every index.
The alternative measured here keeps the due jobs in `queue_b` and the leases in `leases_b`, so
`jobs_b` (a copy of `jobs` without status-dependent indexes) is updated HOT: a claim deletes
from the queue, inserts a lease and updates the job; a completion deletes the lease and updates
the job. Both sides drain the same `--jobs` no-op jobs with claim+complete loops of `--batch` on
1 and 2 connections; the figure is the PostgreSQL backends' CPU per job (from /proc: the server
must run on this host), with jobs/s beside it. Nothing here is product code: the B tables exist
only in the benchmark's throwaway database.

Run: `python -m benchmarks.queue_design` (embedded PostgreSQL 18 unless
CHRONOSCHED_BENCH_DATABASE_URL is set).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.common import admin_url, fresh_database, machine, median
from chronosched.db import queries, queue_repo

B_SCHEMA = """
CREATE TABLE jobs_b (LIKE jobs INCLUDING DEFAULTS) WITH (fillfactor = 70);
ALTER TABLE jobs_b ADD PRIMARY KEY (id);
CREATE INDEX jobs_b_def_runs ON jobs_b (def_id, id DESC);
CREATE INDEX jobs_b_dag ON jobs_b (dag_id, id) WHERE dag_id IS NOT NULL;
CREATE TABLE queue_b (job_id bigint PRIMARY KEY, priority integer NOT NULL,
                      due_at timestamptz NOT NULL, kind text NOT NULL) WITH (fillfactor = 70);
CREATE INDEX queue_b_claim ON queue_b (priority DESC, due_at, job_id);
CREATE TABLE leases_b (job_id bigint PRIMARY KEY, owner text NOT NULL, attempt integer NOT NULL,
                       lease_until timestamptz NOT NULL);
CREATE INDEX leases_b_until ON leases_b (lease_until);
"""
CLAIM_B = """
WITH picked AS (
    SELECT job_id FROM queue_b WHERE due_at <= now() AND kind = ANY (%(kinds)s::text[])
     ORDER BY priority DESC, due_at, job_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM queue_b q WHERE q.job_id = ANY (ARRAY(SELECT job_id FROM picked))
    RETURNING q.job_id
), upd AS (
    UPDATE jobs_b j SET status = 'running', attempt = j.attempt + 1, started_at = now()
      FROM job_definitions d
     WHERE j.id = ANY (ARRAY(SELECT job_id FROM gone)) AND d.id = j.def_id
       AND (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL
    RETURNING j.id, j.attempt, j.max_attempts, j.kind, j.payload, j.name, d.name AS def_name
), lease AS (
    INSERT INTO leases_b
    SELECT id, %(owner)s, attempt, now() + make_interval(secs => %(lease_seconds)s) FROM upd
)
SELECT id, attempt FROM upd
"""
COMPLETE_B = """
WITH u AS MATERIALIZED (
    SELECT u.*, %(owner)s::text AS owner
      FROM unnest(%(ids)s::bigint[], %(attempts)s::integer[], %(results)s::jsonb[])
           AS u(id, attempt, result)
), gone AS (
    DELETE FROM leases_b l USING u
     WHERE l.job_id = u.id AND l.attempt = u.attempt AND l.owner = u.owner
    RETURNING l.job_id
)
UPDATE jobs_b j SET status = 'succeeded', result = u.result, finished_at = now(), last_error = NULL
  FROM u, gone g WHERE j.id = g.job_id AND u.id = g.job_id
RETURNING j.id
"""

Drain = Callable[[psycopg.AsyncConnection[Any], str, int], Awaitable[None]]


def setup(url: str, jobs: int) -> None:
    """`jobs` queued no-op jobs in `jobs` and the same rows in `jobs_b` + `queue_b`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(B_SCHEMA)
        conn.execute(
            "INSERT INTO job_definitions (namespace_id, name, version, kind, payload_template)"
            " SELECT id, 'noop', 1, 'python', '{\"task\": \"noop\"}' FROM namespaces"
            " WHERE name = 'default'"
        )
        conn.execute(
            "INSERT INTO jobs (namespace_id, def_id, def_version, name, kind, payload)"
            " SELECT d.namespace_id, d.id, 1, d.name, d.kind, d.payload_template"
            " FROM job_definitions d, generate_series(1, %s)",
            (jobs,),
        )
        conn.execute("INSERT INTO jobs_b SELECT * FROM jobs")
        conn.execute("INSERT INTO queue_b SELECT id, priority, due_at, kind FROM jobs_b")
        conn.execute("VACUUM ANALYZE")


async def drain_current(conn: psycopg.AsyncConnection[Any], owner: str, batch: int) -> None:
    while claimed := await queue_repo.claim(
        conn, owner=owner, limit=batch, lease_seconds=30, kinds=["python"]
    ):
        await conn.execute(
            queries.get("complete_jobs"),
            {
                "owner": owner,
                "ids": [c.id for c in claimed],
                "attempts": [c.attempt for c in claimed],
                "results": [None] * len(claimed),
            },
        )


async def drain_queue_table(conn: psycopg.AsyncConnection[Any], owner: str, batch: int) -> None:
    while True:
        cur = await conn.execute(
            CLAIM_B, {"owner": owner, "limit": batch, "lease_seconds": 30, "kinds": ["python"]}
        )
        rows = await cur.fetchall()
        if not rows:
            return
        await conn.execute(
            COMPLETE_B,
            {
                "owner": owner,
                "ids": [r[0] for r in rows],
                "attempts": [r[1] for r in rows],
                "results": [None] * len(rows),
            },
        )


def backend_cpu(pid: int) -> float | None:
    """CPU seconds of a server process on this host, or None when it is not here."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    url: str, drain: Drain, connections: int, jobs: int, batch: int
) -> tuple[float, float | None]:
    """(jobs/s, backend CPU µs per job) for `connections` loops draining the queue."""
    conns = [
        await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(connections)
    ]
    try:
        pids = [conn.info.backend_pid for conn in conns]
        before = [backend_cpu(pid) for pid in pids]
        start = time.perf_counter()
        await asyncio.gather(*(drain(conn, f"w{n}", batch) for n, conn in enumerate(conns)))
        rate = jobs / (time.perf_counter() - start)
        after = [backend_cpu(pid) for pid in pids]
    finally:
        for conn in conns:
            await conn.close()
    if any(x is None for x in before + after):
        return rate, None
    used = sum(a - b for a, b in zip(after, before, strict=True) if a is not None and b is not None)
    return rate, used / jobs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    designs: dict[str, Drain] = {"current": drain_current, "queue table": drain_queue_table}
    rates: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    with admin_url() as admin:
        for run in range(args.runs):
            for connections in (1, 2):
                with fresh_database(admin) as url:
                    if run == 0 and connections == 1:
                        print(f"machine: {machine(url)}", flush=True)
                    setup(url, args.jobs)
                    order = list(designs.items())
                    if run % 2:  # alternate who goes first
                        order.reverse()
                    for name, drain in order:
                        rate, per_job = asyncio.run(
                            measure(url, drain, connections, args.jobs, args.batch)
                        )
                        rates.setdefault((name, connections), []).append(rate)
                        if per_job is not None:
                            cpu.setdefault((name, connections), []).append(per_job)
    print(f"{args.jobs:,} no-op jobs, claim + complete batches of {args.batch}, {args.runs} run(s)")
    for key, values in rates.items():
        name, connections = key
        spent = cpu.get(key)
        cpu_text = f"{median(spent):.0f} µs/job" if spent else "n/a (server on another host)"
        print(
            f"{name:>12}, {connections} connection(s): {median(values):,.0f} jobs/s, "
            f"PostgreSQL CPU {cpu_text}"
        )


if __name__ == "__main__":
    main()
