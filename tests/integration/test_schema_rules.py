"""Invariants the schema itself enforces: immutable, versioned definitions and a job state
machine whose impossible states cannot be stored."""

from __future__ import annotations

import psycopg
import pytest

from chronosched.db.pool import Pool
from tests import factories as f


async def test_definition__content_update_is_refused(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "immutable")
        with pytest.raises(psycopg.errors.CheckViolation, match="immutable"):
            await conn.execute(
                "UPDATE job_definitions SET payload_template = '{\"x\": 1}' WHERE id = %s", (d,)
            )


async def test_definition__soft_delete_and_pause_are_allowed(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "lifecycle")
        await conn.execute("UPDATE job_definitions SET paused = true WHERE id = %s", (d,))
        await conn.execute(
            "UPDATE job_definitions SET deleted = true, deleted_at = now() WHERE id = %s", (d,)
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="revived"):
            await conn.execute(
                "UPDATE job_definitions SET deleted = false, deleted_at = NULL WHERE id = %s", (d,)
            )


async def test_definition__live_names_unique_per_namespace(pool: Pool) -> None:
    async with pool.connection() as conn:
        await f.definition(conn, "dup")
        ns = await f.default_namespace(conn)
        with pytest.raises(psycopg.errors.UniqueViolation):
            await conn.execute(
                """INSERT INTO job_definitions (namespace_id, name, version, kind)
                   VALUES (%s, 'dup', 2, 'cmd')""",
                (ns,),
            )


async def test_definition__versions_never_reused_even_after_prune(pool: Pool) -> None:
    async with pool.connection() as conn:
        ns = await f.default_namespace(conn)
        d = await f.definition(conn, "versioned")
        # Simulate prune: the row leaves for the history table.
        await conn.execute(
            "UPDATE job_definitions SET deleted = true, deleted_at = now() WHERE id = %s", (d,)
        )
        await conn.execute(
            """WITH gone AS (DELETE FROM job_definitions WHERE id = %s RETURNING *)
               INSERT INTO job_definitions_history SELECT * FROM gone""",
            (d,),
        )
        with pytest.raises(psycopg.errors.UniqueViolation, match="already issued"):
            await conn.execute(
                """INSERT INTO job_definitions (namespace_id, name, version, kind)
                   VALUES (%s, 'versioned', 1, 'cmd')""",
                (ns,),
            )
        await conn.execute(
            """INSERT INTO job_definitions (namespace_id, name, version, kind)
               VALUES (%s, 'versioned', 2, 'cmd')""",
            (ns,),
        )


@pytest.mark.parametrize(
    ("assignment", "constraint"),
    [
        ("status = 'running'", "jobs_lease_only_while_running"),
        ("lease_owner = 'w', lease_until = now()", "jobs_lease_only_while_running"),
        ("status = 'succeeded'", "jobs_finished_only_when_terminal"),
        ("finished_at = now()", "jobs_finished_only_when_terminal"),
        ("status = 'waiting'", "jobs_waiting_means_unmet"),
        ("status = 'upstream_failed', finished_at = now()", "jobs_upstream_failed_names_ancestor"),
        ("status = 'bogus'", "jobs_status_check"),
    ],
)
async def test_jobs__impossible_states_are_refused(
    pool: Pool, assignment: str, constraint: str
) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        [job] = await f.jobs(conn, d)
        with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
            await conn.execute(f"UPDATE jobs SET {assignment} WHERE id = %s", (job,))


async def test_dependencies__both_ends_must_share_the_dag(pool: Pool) -> None:
    async with pool.connection() as conn:
        d = await f.definition(conn, "s")
        dag1, dag2 = await f.dag(conn, "one"), await f.dag(conn, "two")
        [a] = await f.jobs(conn, d, dag_id=dag1)
        [b] = await f.jobs(conn, d, dag_id=dag2)
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="outside DAG"):
            await conn.execute(
                """INSERT INTO job_dependencies (dag_id, parent_job_id, child_job_id)
                   VALUES (%s, %s, %s)""",
                (dag1, a, b),
            )
