"""Shared benchmark plumbing: a throwaway migrated database and the machine's description."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import resource
import statistics
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from chronosched.db import database, migrate


@contextlib.contextmanager
def admin_url() -> Iterator[str]:
    """CHRONOSCHED_BENCH_DATABASE_URL (admin) when set, else a temporary embedded PostgreSQL 18."""
    external = os.environ.get("CHRONOSCHED_BENCH_DATABASE_URL")
    if external:
        yield external
        return
    with database.temporary_server("chronosched-bench-") as url:
        yield url


@contextlib.contextmanager
def fresh_database(admin: str) -> Iterator[str]:
    """A new, migrated database, dropped afterwards."""
    name = f"chronosched_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(admin, dbname=name)
    try:
        migrate.apply(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def machine(url: str) -> str:
    """One line naming the machine and the PostgreSQL server the figures come from."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    version = row[0] if row else "?"
    return (
        f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, PostgreSQL {version}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclasses.dataclass
class CpuUse:
    """CPU seconds spent while a `cpu_use()` block ran."""

    children: float = 0.0  # child processes reaped meanwhile (the workers), start-up included
    server: float | None = None  # this host's PostgreSQL processes; None when none is visible


def _server_cpu_seconds() -> float | None:
    """CPU time of every `postgres` process on this host, exited backends included (their time
    moves to the postmaster's children's total when it reaps them). None without /proc or a
    local server: a remote server's CPU cannot be seen from here."""
    total = 0
    found = False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            if not Path(f"/proc/{entry}/comm").read_text().startswith("postgres"):
                continue
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        found = True
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK") if found else None


@contextlib.contextmanager
def cpu_use() -> Iterator[CpuUse]:
    """Measure the CPU of the child processes reaped and of the local PostgreSQL server during
    the block: with two cores both busy, a queue's rate is set by its total CPU per job, and
    this shows which side spends it."""
    use = CpuUse()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = _server_cpu_seconds()
    yield use
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    use.children = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    server_after = _server_cpu_seconds()
    if server is not None and server_after is not None:
        use.server = server_after - server
