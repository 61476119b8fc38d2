"""Chronosched against its peers, side by side in the same run on the same PostgreSQL server:
draining 20,000 no-op jobs with 1 and with 2 worker processes.

- Chronosched: `python` jobs (`tests.tasks_for_tests.noop`) through `chronosched worker
  --until-empty`, exactly as `benchmarks.worker_throughput` (whose functions this reuses);
- PgQueuer 1.6, Procrastinate 3.10 (PyPI) and graphile-worker 0.17 (npm, when `node` is present),
  each at its best documented settings (see `benchmarks/peer_impls/`), installed on first use into
  `benchmarks/.peers-venv` and `benchmarks/.peers-node`, never into the project's environment.

Every system gets its own fresh database on the one server, the jobs are enqueued first in
batches (untimed), then the workers start. The rate is jobs / (last completion - first job start):
for Chronosched from its own `started_at` / `finished_at` (the database clock), for a peer from
stamps its worker process prints (first handler start, return of its drain). Both clocks are this
host's. "wall" adds process start-up and exit: spawn of the workers until the last has exited.
Runs are interleaved (each run measures every system) so the machine's noise hits them alike.
The table also says where the CPU went, per job: the worker processes (their start-up included)
and the PostgreSQL server when it runs on this host (`benchmarks.common.cpu_use`).

Run: `python -m benchmarks.peers` (embedded PostgreSQL 18 unless CHRONOSCHED_BENCH_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchmarks import worker_throughput
from benchmarks.common import CpuUse, admin_url, cpu_use, fresh_database, machine, median

BENCH = Path(__file__).resolve().parent
IMPLS = BENCH / "peer_impls"
VENV = BENCH / ".peers-venv"
NODE_DIR = BENCH / ".peers-node"
PIP_SPECS = ["pgqueuer==1.6.*", "procrastinate==3.10.*", "asyncpg", "uvloop"]
NPM_SPEC = "graphile-worker@0.17"
TIMEOUT = 900.0  # seconds one drain may take (Procrastinate: ~30 s for 20,000 here)


def ensure_python_peers() -> Path:
    """The peers' own venv (created and filled on first use); returns its python."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    wanted = " ".join(PIP_SPECS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PIP_SPECS],
        check=True,
    )
    stamp.write_text(wanted)
    return python


def ensure_node_peers() -> str | None:
    """graphile-worker installed into `.peers-node`; None (skip it) when node/npm are absent."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    if not (NODE_DIR / "node_modules" / "graphile-worker" / "package.json").exists():
        NODE_DIR.mkdir(exist_ok=True)
        # npm refuses the directory's own name (".peers-node") as a package name.
        (NODE_DIR / "package.json").write_text(
            '{"name": "chronosched-bench-peers", "private": true}\n'
        )
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", NPM_SPEC],
            cwd=NODE_DIR,
            check=True,
        )
    return node


@contextlib.contextmanager
def plain_database(admin: str) -> Iterator[str]:
    """A new empty database (a peer installs its own schema), dropped afterwards."""
    name = f"peer_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(admin, dbname=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def as_url(conninfo: str) -> str:
    """A postgresql:// URL for clients that take no key=value strings (node-postgres).
    The embedded server listens on a Unix socket: `host` is a directory, passed as a query
    parameter."""
    params = conninfo_to_dict(conninfo)
    host = str(params.get("host", ""))
    user = quote(str(params.get("user", "")))
    port = params.get("port", 5432)
    db = quote(str(params.get("dbname", "")))
    password = params.get("password")
    auth = f"{user}:{quote(str(password))}@" if password else (f"{user}@" if user else "")
    if host.startswith("/"):
        return f"postgresql://{auth}/{db}?host={quote(host)}&port={port}"
    return f"postgresql://{auth}{host}:{port}/{db}"


@dataclass
class Measurement:
    rate: float  # jobs / (last completion - first start)
    wall: float  # seconds from spawning the workers until the last exited
    cpu: CpuUse = field(default_factory=CpuUse)  # workers' and server's CPU during that time


@dataclass
class Peer:
    """How to set up and drain one peer: argv prefixes for its `setup` and `work` modes."""

    name: str
    setup: Callable[[str, int], list[str]]
    work: Callable[[str], list[str]]
    env: dict[str, str] = field(default_factory=dict)


def measure_peer(peer: Peer, admin: str, jobs: int, processes: int) -> Measurement:
    """Enqueue (untimed), then spawn `processes` workers and time the drain."""
    env = {**os.environ, **peer.env}
    with plain_database(admin) as url:
        subprocess.run(peer.setup(url, jobs), check=True, env=env, cwd=BENCH)
        with cpu_use() as cpu:
            start = time.perf_counter()
            procs = [
                subprocess.Popen(
                    peer.work(url), stdout=subprocess.PIPE, text=True, env=env, cwd=BENCH
                )
                for _ in range(processes)
            ]
            outputs = [proc.communicate(timeout=TIMEOUT)[0] for proc in procs]
            wall = time.perf_counter() - start
    for proc in procs:
        if proc.returncode != 0:
            raise RuntimeError(f"{peer.name} worker exited with {proc.returncode}")
    stamps = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    ran = sum(int(s["ran"]) for s in stamps)
    if ran != jobs:
        raise RuntimeError(f"{peer.name} ran {ran} of {jobs} jobs")
    first = min(float(s["first_start"]) for s in stamps if s["first_start"] is not None)
    end = max(float(s["end"]) for s in stamps)
    return Measurement(jobs / (end - first), wall, cpu)


def measure_chronosched(
    admin: str, jobs: int, processes: int, args: argparse.Namespace
) -> Measurement:
    """`benchmarks.worker_throughput`'s own enqueue, workers and rate, plus the wall time."""
    with fresh_database(admin) as url:
        asyncio.run(worker_throughput.enqueue(url, jobs))
        with cpu_use() as cpu:
            start = time.perf_counter()
            worker_throughput.run_workers(url, processes, args.concurrency, args.batch)
            wall = time.perf_counter() - start
        return Measurement(asyncio.run(worker_throughput.drain_rate(url, jobs)), wall, cpu)


def peers(args: argparse.Namespace) -> list[Peer]:
    """The peers asked for, installing their environments when missing."""
    out: list[Peer] = []
    wanted = set(args.systems)
    if wanted & {"pgqueuer", "procrastinate"}:
        python = str(ensure_python_peers())
        pgq = [python, str(IMPLS / "pgqueuer_runner.py")]
        proc = [python, str(IMPLS / "procrastinate_runner.py")]
        if "pgqueuer" in wanted:
            out.append(
                Peer(
                    "pgqueuer",
                    lambda url, n: [*pgq, "setup", as_url(url), "--jobs", str(n)],
                    lambda url: [*pgq, "work", as_url(url), "--batch", str(args.pgqueuer_batch),
                                 "--managers", str(args.pgqueuer_managers)],
                )
            )  # fmt: skip
        if "procrastinate" in wanted:
            out.append(
                Peer(
                    "procrastinate",
                    lambda url, n: [*proc, "setup", as_url(url), "--jobs", str(n)],
                    lambda url: [*proc, "work", as_url(url), "--concurrency",
                                 str(args.procrastinate_concurrency)],
                )
            )  # fmt: skip
    if "graphile" in wanted:
        node = ensure_node_peers()
        if node is None:
            print("graphile-worker skipped: node/npm not found", flush=True)
        else:
            js = [node, str(IMPLS / "graphile_runner.js")]
            out.append(
                Peer(
                    "graphile-worker",
                    lambda url, n: [*js, "setup", as_url(url), "--jobs", str(n)],
                    lambda url: [*js, "work", as_url(url), "--concurrency",
                                 str(args.graphile_concurrency), "--local-queue",
                                 str(args.graphile_local_queue)],
                    env={"NODE_PATH": str(NODE_DIR / "node_modules"), "NO_LOG_SUCCESS": "1"},
                )
            )  # fmt: skip
    return out


def _per_job(seconds: list[float | None], jobs: int) -> str:
    known = [s for s in seconds if s is not None]
    return f"{median(known) / jobs * 1e6:.1f}" if known else "n/a"


def report(
    results: dict[tuple[str, int], list[Measurement]], processes: list[int], jobs: int
) -> None:
    """The table: medians per system and process count, Chronosched / peer, and where the CPU
    went (µs per job: the worker processes, start-up included, and this host's PostgreSQL)."""
    print()
    print("| system | processes | jobs/s (median) | runs | wall s (median) | Chronosched / it "
          "| worker CPU µs/job | PostgreSQL CPU µs/job |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for n in processes:
        ours = results.get(("chronosched", n))
        ours_median = median([m.rate for m in ours]) if ours else None
        for (system, count), ms in results.items():
            if count != n:
                continue
            rate = median([m.rate for m in ms])
            ratio = f"{ours_median / rate:.2f}x" if ours_median and system != "chronosched" else "–"
            runs = ", ".join(f"{m.rate:,.0f}" for m in ms)
            wall = median([m.wall for m in ms])
            worker = _per_job([m.cpu.children for m in ms], jobs)
            server = _per_job([m.cpu.server for m in ms], jobs)
            print(f"| {system} | {n} | {rate:,.0f} | {runs} | {wall:.2f} | {ratio} | {worker} "
                  f"| {server} |")  # fmt: skip
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--systems",
        nargs="+",
        default=["chronosched", "pgqueuer", "procrastinate", "graphile"],
        choices=["chronosched", "pgqueuer", "procrastinate", "graphile"],
    )
    parser.add_argument("--concurrency", type=int, default=1000, help="chronosched worker")
    parser.add_argument("--batch", type=int, default=500, help="chronosched worker")
    parser.add_argument("--pgqueuer-batch", type=int, default=100)
    parser.add_argument("--pgqueuer-managers", type=int, default=1, help="QueueManagers/process")
    parser.add_argument("--procrastinate-concurrency", type=int, default=30)
    parser.add_argument("--graphile-concurrency", type=int, default=24)
    parser.add_argument("--graphile-local-queue", type=int, default=500)
    args = parser.parse_args()
    others = peers(args)
    results: dict[tuple[str, int], list[Measurement]] = {}
    with admin_url() as admin:
        with fresh_database(admin) as url:
            print(f"machine: {machine(url)}", flush=True)
        for run in range(1, args.runs + 1):
            for n in args.processes:
                if "chronosched" in args.systems:
                    m = measure_chronosched(admin, args.jobs, n, args)
                    results.setdefault(("chronosched", n), []).append(m)
                    print(f"run {run}: chronosched x{n}: {m.rate:,.0f} jobs/s, wall {m.wall:.2f} s",
                          flush=True)  # fmt: skip
                for peer in others:
                    m = measure_peer(peer, admin, args.jobs, n)
                    results.setdefault((peer.name, n), []).append(m)
                    print(f"run {run}: {peer.name} x{n}: {m.rate:,.0f} jobs/s, wall {m.wall:.2f} s",
                          flush=True)  # fmt: skip
    print(f"{args.jobs:,} no-op jobs per drain, {args.runs} run(s); Chronosched --concurrency "
          f"{args.concurrency} --batch {args.batch}")  # fmt: skip
    report(results, args.processes, args.jobs)


if __name__ == "__main__":
    main()
