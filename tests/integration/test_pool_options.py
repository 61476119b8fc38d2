"""Pooled connections: the session settings every process relies on, and a user's own
`options` (in the URL, or PGOPTIONS) still applied on top of them."""

from __future__ import annotations

import pytest
from psycopg.conninfo import make_conninfo

from chronosched.db.pool import open_pool

SETTINGS = ("statement_timeout", "TimeZone", "jit", "work_mem")


async def _settings(url: str, statement_timeout_ms: int = 30_000) -> dict[str, str]:
    pool = await open_pool(url, max_size=1, statement_timeout_ms=statement_timeout_ms)
    try:
        async with pool.connection() as conn:
            shown = {}
            for name in SETTINGS:
                cur = await conn.execute(f"SHOW {name}")
                row = await cur.fetchone()
                assert row is not None
                shown[name] = next(iter(row.values()))
            return shown
    finally:
        await pool.close()


async def test_pool__timeout_utc_and_no_jit(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGOPTIONS", raising=False)
    shown = await _settings(db_url, statement_timeout_ms=1234)
    assert (shown["statement_timeout"], shown["TimeZone"], shown["jit"]) == ("1234ms", "UTC", "off")


async def test_pool__the_urls_own_options_win(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=5MB")  # libpq's fallback: the URL's come first
    url = make_conninfo(db_url, options="-c statement_timeout=4321 -c work_mem=7MB")
    shown = await _settings(url)
    assert shown == {
        "statement_timeout": "4321ms",
        "TimeZone": "UTC",
        "jit": "off",
        "work_mem": "7MB",
    }


async def test_pool__pgoptions_apply_without_url_options(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=5MB -c jit=on")
    shown = await _settings(db_url)
    assert (shown["work_mem"], shown["jit"], shown["TimeZone"]) == ("5MB", "on", "UTC")
