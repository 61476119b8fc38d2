"""PgQueuer 1.6 side of `benchmarks.peers` (runs in `benchmarks/.peers-venv`).

Settings are PgQueuer's best documented ones: the asyncpg driver ("roughly double the throughput
of psycopg", docs/development/benchmark.md), uvloop (its `tools/benchmark.py` runs on it), one
QueueManager per process (its benchmark tool defaults to 5 per process, each on its own connection:
measured here, 5 gave 7.9k jobs/s against 12.2k for 1, so `--managers 1`), and a dequeue batch of
100 (10 -> 100 doubled its rate on our machines). Durability stays at its default (`durable`), as
ours.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

import asyncpg
import uvloop
from pgqueuer import AsyncpgDriver, QueueManager
from pgqueuer.models import Job
from pgqueuer.queries import Queries
from pgqueuer.types import QueueExecutionMode

CHUNK = 5000


async def setup(dsn: str, jobs: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(conn))
        await queries.install()
        for start in range(0, jobs, CHUNK):
            n = min(CHUNK, jobs - start)
            await queries.enqueue(["noop"] * n, [None] * n, [0] * n)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def work(dsn: str, managers: int, batch: int) -> None:
    stamps: list[float] = []
    ran = 0

    async def noop(job: Job) -> None:
        nonlocal ran
        if not stamps:
            stamps.append(time.time())
        ran += 1

    qms = [
        QueueManager(Queries(AsyncpgDriver(await asyncpg.connect(dsn)))) for _ in range(managers)
    ]
    for qm in qms:
        qm.entrypoint("noop")(noop)
    await asyncio.gather(*(qm.run(batch_size=batch, mode=QueueExecutionMode.drain) for qm in qms))
    end = time.time()
    print(json.dumps({"first_start": stamps[0] if stamps else None, "end": end, "ran": ran}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["setup", "work"])
    parser.add_argument("dsn")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--managers", type=int, default=1, help="QueueManagers per process")
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pgqueuer").setLevel(logging.WARNING)
    if args.mode == "setup":
        uvloop.run(setup(args.dsn, args.jobs))
    else:
        uvloop.run(work(args.dsn, args.managers, args.batch))


if __name__ == "__main__":
    main()
