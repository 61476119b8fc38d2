"""Pool connections decode json and jsonb with the fast decoder, with json.loads' results."""

from __future__ import annotations

from typing import Any

import pytest

from chronosched.db import jsonb
from chronosched.db.pool import Pool


async def test_pool_connections__decode_jsonb_and_json_exactly(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned: list[str] = []
    scan = jsonb._scan

    def counting_scan(text: str, index: int) -> Any:
        scanned.append(text)
        return scan(text, index)

    monkeypatch.setattr(jsonb, "_scan", counting_scan)
    async with pool.connection() as conn:
        for binary in (False, True):
            async with conn.cursor(binary=binary) as cur:
                await cur.execute(
                    'SELECT \'{"n": 123456789012345678901234567890, "s": "caf\u00e9"}\'::jsonb'
                    " AS b, ' [1, {\"x\": null}] '::json AS j"
                )
                row = await cur.fetchone()
            assert row == {
                "b": {"n": 123456789012345678901234567890, "s": "caf\u00e9"},
                "j": [1, {"x": None}],
            }
    assert len(scanned) == 4  # both columns, text and binary: the fast path decoded them all
