"""Shared helpers of the API tests: an httpx client on the app, bound to the test's database."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from chronosched.api.app import create_app
from chronosched.api.settings import ApiSettings
from chronosched.db.pool import Pool

PROBLEM = "application/problem+json"


@contextlib.asynccontextmanager
async def api_client(pool: Pool, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pool, settings=ApiSettings(**settings))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


async def fetch(pool: Pool, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows straight from the database, to check the state an API call left."""
    async with pool.connection() as conn:
        cur = await conn.execute(sql.encode(), params)
        return list(await cur.fetchall())


async def definition(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "kind": "cmd", "payloadTemplate": {"cmd": f"echo {name}"}, **fields}
    response = await client.post("/definitions", json=body)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(db_url: str) -> Iterator[str]:
    """A real `chronosched server` process on a free loopback port; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "chronosched", "server", "--port", str(port)),
            *("--database-url", db_url, "--log-level", "warning"),
        ],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            assert proc.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
