"""Bad input of every kind is a 4xx problem and changes nothing; auth; health; metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from chronosched.api.auth import is_loopback
from chronosched.cli.server import refuse_reason
from chronosched.db import tokens_repo
from chronosched.db.pool import Pool
from tests.integration.api_support import api_client, assert_problem, fetch

LIMIT = 64 * 1024


@pytest.fixture
async def client(pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pool, max_body_bytes=LIMIT) as c:
        yield c


async def _nothing_created(pool: Pool) -> None:
    rows = await fetch(
        pool,
        "SELECT (SELECT count(*) FROM job_definitions) + (SELECT count(*) FROM dags)"
        " + (SELECT count(*) FROM jobs) AS n",
    )
    assert rows[0]["n"] == 0


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"name": "A", "kind": ', b"not json", b'{"name": "A",}', b"\xff\xfe"],
)
async def test_errors__malformed_json_is_400(
    client: httpx.AsyncClient, pool: Pool, raw: bytes
) -> None:
    response = await client.post(
        "/definitions", content=raw, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)
    await _nothing_created(pool)


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"name": 5, "kind": "cmd"},
        {"name": "A", "kind": "cmd", "maxAttempts": "many"},
        {"name": "A", "kind": "cmd", "timeoutSeconds": "NaN"},
        {"name": "A", "kind": "cmd", "payloadTemplate": "x"},
    ],
)
async def test_errors__wrong_types_are_422(
    client: httpx.AsyncClient, pool: Pool, body: object
) -> None:
    assert_problem(await client.post("/definitions", json=body), 422)
    await _nothing_created(pool)


async def test_errors__huge_bodies_are_413(client: httpx.AsyncClient, pool: Pool) -> None:
    big = b'{"name": "A", "kind": "cmd", "description": "' + b"x" * LIMIT + b'"}'
    response = await client.post(
        "/definitions", content=big, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: checked while streaming
        yield big[: LIMIT // 2]
        yield big[LIMIT // 2 :]

    streamed = await client.post(
        "/definitions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(streamed, 413)
    await _nothing_created(pool)


async def test_errors__bulk_over_the_item_limit_is_422(client: httpx.AsyncClient) -> None:
    from chronosched.api.schemas import MAX_BULK_ITEMS

    items = [{"parentJobId": 1, "childJobId": 2}] * (MAX_BULK_ITEMS + 1)
    dag = (await client.post("/dags", json={"name": "d"})).json()
    response = await client.post(f"/dags/{dag['id']}/dependencies/bulk", json=items)
    assert response.status_code in (413, 422)


async def test_errors__unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nope"), 404)
    assert_problem(await client.put("/definitions"), 405)


async def test_auth__tokens_switch_auth_on(client: httpx.AsyncClient, pool: Pool) -> None:
    assert (await client.get("/namespaces")).status_code == 200
    async with pool.connection() as conn:
        token, _ = await tokens_repo.create(conn, "ci")
    await asyncio.sleep(1.1)  # the token cache refreshes every second
    denied = await client.get("/namespaces")
    assert_problem(denied, 401)
    assert denied.headers["www-authenticate"] == "Bearer"
    assert_problem(await client.get("/namespaces", headers={"Authorization": "Bearer wrong"}), 401)
    ok = await client.get("/namespaces", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    health = await client.get("http://test/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok", "database": "ok"}
    assert (await client.get("http://test/api/v1/healthz")).status_code == 200
    assert (await client.get("http://test/metrics")).status_code == 200
    rows = await fetch(pool, "SELECT token_hash FROM api_tokens")
    assert rows[0]["token_hash"] == tokens_repo.hash_token(token) != token


def test_auth__non_loopback_without_token_refuses_to_start() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert refuse_reason("127.0.0.1", 0, False) is None
    assert refuse_reason("0.0.0.0", 1, False) is None
    assert refuse_reason("0.0.0.0", 0, True) is None
    reason = refuse_reason("0.0.0.0", 0, False)
    assert reason is not None and "token create" in reason


async def test_health__database_down_is_503(pool: Pool) -> None:
    async with api_client(pool) as client:
        await pool.close()
        response = await client.get("http://test/healthz")
    assert_problem(response, 503)
