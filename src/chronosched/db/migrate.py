"""Numbered, forward-only SQL migrations recorded in `schema_migrations`.

An advisory lock serialises concurrent runners, so any number of processes may start at once.
"""

from __future__ import annotations

import dataclasses
import re
from importlib import resources

import psycopg

# Arbitrary constant: the advisory lock every migrating process queues on.
MIGRATION_LOCK_KEY = 0x6368726F6E6F  # "chrono"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@dataclasses.dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    applied_at: str | None


def explain(exc: BaseException) -> str:
    """An error for a log line; one that means the schema is missing (a process started before
    `chronosched migrate`, or pointed at the wrong database) says so and what to run."""
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedFunction):
        return f"{exc}; the database has no Chronosched schema yet: run `chronosched migrate`"
    return str(exc)


def available() -> list[Migration]:
    """All migration files shipped with the package, in order."""
    found = []
    for entry in resources.files("chronosched.db").joinpath("migrations").iterdir():
        match = _FILE_RE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


def _ensure_table(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )


def apply(url: str) -> list[Migration]:
    """Apply pending migrations; returns the ones this call applied."""
    applied: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            _ensure_table(conn)
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in available():
                if migration.version in done:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied


def status(url: str) -> list[MigrationStatus]:
    """Every known migration with its applied time (None when pending)."""
    with psycopg.connect(url, autocommit=True) as conn:
        _ensure_table(conn)
        rows = conn.execute("SELECT version, applied_at::text FROM schema_migrations").fetchall()
    applied_at = {int(str(v)): str(a) for v, a in rows}
    return [MigrationStatus(m.version, m.name, applied_at.get(m.version)) for m in available()]
