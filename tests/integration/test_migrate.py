"""Migrations: apply, re-apply (no-op), concurrent runners, and status."""

from __future__ import annotations

import concurrent.futures

import psycopg

from chronosched.db import migrate


def test_migrate__applies_all_then_nothing(empty_db_url: str) -> None:
    first = migrate.apply(empty_db_url)
    assert [m.version for m in first] == [m.version for m in migrate.available()]
    assert migrate.apply(empty_db_url) == []
    assert all(s.applied_at is not None for s in migrate.status(empty_db_url))


def test_migrate__concurrent_runners_apply_each_once(empty_db_url: str) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(lambda _: migrate.apply(empty_db_url), range(4)))
    applied = [m.version for r in results for m in r]
    assert sorted(applied) == [m.version for m in migrate.available()]
    with psycopg.connect(empty_db_url) as conn:
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count is not None and count[0] == len(migrate.available())


def test_migrate__status_lists_pending_before_apply(empty_db_url: str) -> None:
    pending = migrate.status(empty_db_url)
    assert pending and all(s.applied_at is None for s in pending)


def test_migrate__default_namespace_exists(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT name FROM namespaces WHERE name = 'default'").fetchone()
    assert row == ("default",)
