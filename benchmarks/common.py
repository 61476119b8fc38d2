"""Shared benchmark plumbing: a throwaway migrated database and the machine's description."""

from __future__ import annotations

import contextlib
import os
import platform
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
