"""Database fixtures in two tiers: a template database migrated once per session, and a fresh
clone of it for every test that needs one (`CREATE DATABASE … TEMPLATE`). Real PostgreSQL always:
the embedded PostgreSQL 18 by default, or the server named by CHRONOSCHED_TEST_DATABASE_URL."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from chronosched.db import database, migrate
from chronosched.db.pool import Pool, open_pool


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, autocommit=True)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Admin connection string of the server the suite runs against."""
    external = os.environ.get("CHRONOSCHED_TEST_DATABASE_URL")
    if external:
        yield external
        return
    with database.temporary_server("chronosched-test-pg-") as url:
        yield url


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    """Name of a database migrated once for the whole session."""
    name = f"chronosched_tpl_{uuid.uuid4().hex[:10]}"
    with _admin(pg_admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate.apply(make_conninfo(pg_admin_url, dbname=name))
    yield name
    with _admin(pg_admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test (cloned from the template)."""
    name = f"chronosched_t_{uuid.uuid4().hex[:12]}"
    with _admin(pg_admin_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    yield make_conninfo(pg_admin_url, dbname=name)
    with _admin(pg_admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = f"chronosched_e_{uuid.uuid4().hex[:12]}"
    with _admin(pg_admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(pg_admin_url, dbname=name)
    with _admin(pg_admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.asynccontextmanager
async def _pool_on(url: str, max_size: int) -> AsyncIterator[Pool]:
    p = await open_pool(url, min_size=1, max_size=max_size)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[Pool]:
    """An async pool on the test's own database."""
    async with _pool_on(db_url, 8) as p:
        yield p


@pytest.fixture
async def empty_pool(empty_db_url: str) -> AsyncIterator[Pool]:
    """An async pool on a database without the schema (a process started before `migrate`)."""
    async with _pool_on(empty_db_url, 4) as p:
        yield p
