"""Procrastinate 3.10 side of `benchmarks.peers` (runs in `benchmarks/.peers-venv`).

Procrastinate has no batching; its documented lever for throughput is `concurrency` (async
sub-workers per process, docs "Execute multiple jobs at the same time": `concurrency=30`), with a
pool large enough for every sub-worker plus the listener. `wait=False` drains and returns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

import procrastinate
import psycopg

CHUNK = 5000


def make_app(dsn: str, pool_size: int) -> procrastinate.App:
    connector = procrastinate.PsycopgConnector(conninfo=dsn, min_size=1, max_size=pool_size)
    return procrastinate.App(connector=connector)


async def setup(dsn: str, jobs: int) -> None:
    app = make_app(dsn, 2)

    @app.task(name="noop")
    async def noop() -> None:
        return None

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        for start in range(0, jobs, CHUNK):
            await noop.batch_defer_async(*[{} for _ in range(min(CHUNK, jobs - start))])
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("VACUUM ANALYZE")


async def work(dsn: str, concurrency: int) -> None:
    stamps: list[float] = []
    ran = 0
    app = make_app(dsn, concurrency + 2)

    @app.task(name="noop")
    async def noop() -> None:
        nonlocal ran
        if not stamps:
            stamps.append(time.time())
        ran += 1

    async with app.open_async():
        await app.run_worker_async(
            concurrency=concurrency, wait=False, install_signal_handlers=False
        )
    end = time.time()
    print(json.dumps({"first_start": stamps[0] if stamps else None, "end": end, "ran": ran}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["setup", "work"])
    parser.add_argument("dsn")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=30)
    args = parser.parse_args()
    # It warns that the App lives in `__main__`; harmless for a one-file benchmark worker.
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
    if args.mode == "setup":
        asyncio.run(setup(args.dsn, args.jobs))
    else:
        asyncio.run(work(args.dsn, args.concurrency))


if __name__ == "__main__":
    main()
