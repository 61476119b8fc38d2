"""Test data written straight to the database (real rows, no mocks), for tests that need a
definition or a DAG without going through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from chronosched.db import dependencies_repo, jobs_repo
from chronosched.db.pool import AsyncConn


async def default_namespace(conn: AsyncConn) -> str:
    cur = await conn.execute("SELECT id FROM namespaces WHERE name = 'default'")
    row = await cur.fetchone()
    assert row is not None
    return str(row["id"])


async def definition(
    conn: AsyncConn,
    name: str,
    *,
    kind: str = "python",
    payload_template: dict[str, Any] | None = None,
    cron_spec: str | None = None,
    timezone: str = "UTC",
    delay: timedelta = timedelta(0),
    max_attempts: int = 3,
    timeout_seconds: float | None = None,
    backoff_base_seconds: float = 0.0,
    catchup: str = "latest",
    overlap: str = "allow",
    namespace_id: str | None = None,
) -> str:
    """Insert a definition (version 1) and return its id."""
    ns = namespace_id or await default_namespace(conn)
    cur = await conn.execute(
        """INSERT INTO job_definitions (namespace_id, name, version, kind, payload_template,
               cron_spec, timezone, delay_interval, max_attempts, timeout_seconds,
               backoff_base_seconds, catchup, overlap)
           VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            ns,
            name,
            kind,
            Jsonb(payload_template or {}),
            cron_spec,
            timezone,
            delay,
            max_attempts,
            timeout_seconds,
            backoff_base_seconds,
            catchup,
            overlap,
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row["id"])


async def dag(conn: AsyncConn, name: str = "dag", namespace_id: str | None = None) -> str:
    ns = namespace_id or await default_namespace(conn)
    cur = await conn.execute(
        "INSERT INTO dags (namespace_id, name) VALUES (%s, %s) RETURNING id", (ns, name)
    )
    row = await cur.fetchone()
    assert row is not None
    return str(row["id"])


async def jobs(
    conn: AsyncConn, def_id: str, n: int = 1, *, dag_id: str | None = None, **fields: Any
) -> list[int]:
    ids = await jobs_repo.insert_jobs(
        conn, [jobs_repo.NewJob(def_id=def_id, **fields) for _ in range(n)], dag_id=dag_id
    )
    return [i for i in ids if i is not None]


async def edge(
    conn: AsyncConn, dag_id: str, parent: int, child: int, dependency_type: str = "data"
) -> None:
    await dependencies_repo.add_edges(
        conn, dag_id, [dependencies_repo.Edge(parent, child, dependency_type)]
    )


async def status(conn: AsyncConn, job_id: int) -> str:
    cur = await conn.execute("SELECT status FROM jobs WHERE id = %s", (job_id,))
    row = await cur.fetchone()
    assert row is not None
    return str(row["status"])
