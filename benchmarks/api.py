"""API benchmarks (issue: REST API) against one real `chronosched server` process.

* requests/s and p50/p99 latency of `GET /api/v1/jobs/{id}` and `POST /api/v1/dags/{id}/jobs`
  with 50 concurrent clients (goal: GET p99 under 20 ms);
* a 10,000-job, 10,000-edge DAG created in one request (goal: under 1.5 s) and through the
  bulk endpoints (jobs/bulk, then dependencies/bulk);
* `--definitions` (50,000) definitions in one `POST /definitions/bulk`, then the same request
  again (every item unchanged: the idempotent path).

Run: `python -m benchmarks.api [--seconds 5] [--clients 50] [--definitions 50000]` (embedded
PostgreSQL 18 unless CHRONOSCHED_BENCH_DATABASE_URL). The client shares the machine with the
server and PostgreSQL, so the figures are a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from tests.integration.api_support import serve

from benchmarks.common import admin_url, fresh_database, machine

JOBS = 10_000


def _graph(n: int) -> list[tuple[int, int]]:
    """n edges over n jobs: every job but the first hangs off an earlier one, plus one extra."""
    rng = random.Random(7)
    edges = {(rng.randrange(i), i) for i in range(1, n)}
    while len(edges) < n:
        a, b = sorted(rng.sample(range(n), 2))
        edges.add((a, b))
    return sorted(edges)


async def load(
    clients: int, seconds: float, request: Callable[[httpx.AsyncClient], Awaitable[Any]], api: str
) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) of `request` run by `clients` loops for `seconds`."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=api, limits=limits, timeout=30) as client:

        async def loop() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await request(client)
                response.raise_for_status()
                latencies.append((time.perf_counter() - start) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return len(latencies) / elapsed, q[49], q[98]


async def run(base: str, clients: int, seconds: float, definitions_count: int) -> None:
    api = f"{base}/api/v1"
    async with httpx.AsyncClient(base_url=api, timeout=120) as c:
        d = (await c.post("/definitions", json={"name": "node", "kind": "cmd"})).json()
        edges = _graph(JOBS)

        body = {
            "name": "one-request",
            "jobs": [{"key": str(i), "defId": d["id"]} for i in range(JOBS)],
            "dependencies": [{"parent": str(p), "child": str(ch)} for p, ch in edges],
        }
        start = time.perf_counter()
        created = await c.post("/dags", json=body)
        one_request = time.perf_counter() - start
        created.raise_for_status()

        dag = (await c.post("/dags", json={"name": "bulk"})).json()
        start = time.perf_counter()
        jobs = await c.post(f"/dags/{dag['id']}/jobs/bulk", json=[{"defId": d["id"]}] * JOBS)
        ids = [j["id"] for j in jobs.json()]
        deps = [{"parentJobId": ids[p], "childJobId": ids[ch]} for p, ch in edges]
        added = await c.post(f"/dags/{dag['id']}/dependencies/bulk", json=deps)
        bulk = time.perf_counter() - start
        added.raise_for_status()

        target = (await c.post("/dags", json={"name": "target"})).json()

        definitions = [
            {"name": f"bulk-{i}", "kind": "cmd", "payloadTemplate": {"cmd": f"echo {i}"}}
            for i in range(definitions_count)
        ]
        start = time.perf_counter()
        (await c.post("/definitions/bulk", json=definitions)).raise_for_status()
        defs_new = time.perf_counter() - start
        start = time.perf_counter()
        (await c.post("/definitions/bulk", json=definitions)).raise_for_status()
        defs_again = time.perf_counter() - start
    print(f"10,000 jobs + {len(edges):,} edges in one request: {one_request:.2f} s (goal < 1.5 s)")
    print(f"same graph through jobs/bulk + dependencies/bulk: {bulk:.2f} s")
    print(
        f"{definitions_count:,} definitions in one POST /definitions/bulk: {defs_new:.2f} s new, "
        f"{defs_again:.2f} s again (all unchanged)"
    )

    sample = ids[:1000]
    rps, p50, p99 = await load(
        clients, seconds, lambda cl: cl.get(f"/jobs/{random.choice(sample)}"), api
    )
    print(
        f"GET /jobs/{{id}}, {clients} clients: {rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    rps, p50, p99 = await load(
        clients,
        seconds,
        lambda cl: cl.post(f"/dags/{target['id']}/jobs", json={"defId": d["id"]}),
        api,
    )
    print(
        f"POST /dags/{{id}}/jobs, {clients} clients: {rps:,.0f} req/s, "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--definitions", type=int, default=50_000)
    args = parser.parse_args()
    with admin_url() as admin, fresh_database(admin) as url, serve(url) as base:
        print(machine(url))
        asyncio.run(run(base, args.clients, args.seconds, args.definitions))


if __name__ == "__main__":
    main()
