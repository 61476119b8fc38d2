"""The web UI's server side: page shells, static files, its two data endpoints, and the login
cookie (which the JSON API accepts too). What the pages *do* is tested in a real browser by
tests/acceptance/test_ui_browser.py."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from chronosched.api.app import create_app
from chronosched.api.auth import COOKIE_NAME
from chronosched.db import tokens_repo
from chronosched.db.pool import Pool

PAGES = ("/ui", "/ui/dags", "/ui/definitions", "/ui/jobs", "/ui/workers", "/ui/jobs/1")


@pytest.fixture
async def web(pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(pool))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_ui__root_redirects_to_ui(web: httpx.AsyncClient) -> None:
    response = await web.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/ui"


@pytest.mark.parametrize("path", PAGES)
async def test_ui__pages_render_their_shell(web: httpx.AsyncClient, path: str) -> None:
    response = await web.get(path, params={"namespace": "default"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "/ui/static/js/common.js" in response.text
    assert 'data-namespace="default"' in response.text


async def test_ui__dag_page_loads_the_vendored_graph_library(web: httpx.AsyncClient) -> None:
    page = await web.get("/ui/dags/8c0f4f7e-8a51-4bb4-9d59-1f0f52a0a0b1")
    assert page.status_code == 200
    for script in ("vendor/cytoscape.min.js", "vendor/cytoscape-dagre.min.js", "js/dag.js"):
        assert f"/ui/static/{script}" in page.text
        asset = await web.get(f"/ui/static/{script}")
        assert asset.status_code == 200 and len(asset.content) > 1000
    assert (await web.get("/ui/dags/not-a-uuid")).status_code == 422


async def test_ui__vendored_files_carry_their_licences(web: httpx.AsyncClient) -> None:
    for name in ("LICENSE.cytoscape", "LICENSE.cytoscape-dagre", "LICENSE.dagre", "README.md"):
        response = await web.get(f"/ui/static/vendor/{name}")
        assert response.status_code == 200
    assert "3.35.0" in (await web.get("/ui/static/vendor/README.md")).text


async def test_ui__summary_counts_jobs_by_state(web: httpx.AsyncClient) -> None:
    api = "/api/v1"
    a = (
        await web.post(
            f"{api}/definitions", json={"name": "A", "kind": "cmd", "payloadTemplate": {}}
        )
    ).json()
    dag = await web.post(
        f"{api}/dags",
        json={
            "name": "d",
            "jobs": [{"key": k, "defId": a["id"]} for k in ("p", "c")],
            "dependencies": [{"parent": "p", "child": "c"}],
        },
    )
    ids = dag.json()["jobIds"]
    await web.post(f"{api}/jobs/{ids['p']}/fail", json={"error": "x"})
    summary = (await web.get("/ui/data/summary")).json()
    assert summary["byStatus"]["failed"] == 1
    assert summary["byStatus"]["upstream_failed"] == 1
    assert summary["byStatus"]["queued"] == 0
    assert summary["byKind"]["cmd"] == {"failed": 1, "upstream_failed": 1}
    assert summary["workers"] == {"alive": 0, "silent": 0}


async def test_ui__next_fire_times_follow_the_cron_spec(web: httpx.AsyncClient) -> None:
    body = {
        "items": [
            {"id": "a", "cronSpec": "*/5 * * * *", "timezone": "UTC"},
            {"id": "b", "cronSpec": "not a spec", "timezone": "UTC"},
        ]
    }
    response = await web.post("/ui/data/next-fires", json=body)
    assert response.status_code == 200, response.text
    fires = response.json()["fires"]
    times = [datetime.fromisoformat(t) for t in fires["a"]]
    assert len(times) == 5
    assert all(t.minute % 5 == 0 and t.second == 0 for t in times)
    assert all((b - a).total_seconds() == 300 for a, b in itertools.pairwise(times))
    assert fires["b"].startswith("invalid")


async def test_ui__with_tokens_pages_need_the_login_cookie(
    web: httpx.AsyncClient, pool: Pool
) -> None:
    async with pool.connection() as conn:
        token, _ = await tokens_repo.create(conn, "ui")
    page = await web.get("/ui/dags", params={"namespace": "default"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login?next=/ui/dags")
    assert (await web.get("/ui/data/summary")).status_code == 401
    assert (await web.get("/api/v1/jobs")).status_code == 401

    bad = await web.post("/ui/login", data={"token": "nope", "next": "/ui/dags"})
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    good = await web.post("/ui/login", data={"token": token, "next": "/ui/dags"})
    assert good.status_code == 303 and good.headers["location"] == "/ui/dags"
    cookie = good.headers["set-cookie"]
    assert f"{COOKIE_NAME}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie

    web.cookies.clear()
    cookie_header = {"Cookie": f"{COOKIE_NAME}={token}"}
    assert (await web.get("/ui/dags", headers=cookie_header)).status_code == 200
    assert (await web.get("/api/v1/jobs", headers=cookie_header)).status_code == 200
    assert (await web.get("/ui/data/summary", headers=cookie_header)).status_code == 200
    wrong = {"Cookie": f"{COOKIE_NAME}=chs_wrong"}
    assert (await web.get("/api/v1/jobs", headers=wrong)).status_code == 401

    out = await web.post("/ui/logout")
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]


async def test_ui__login_never_redirects_off_site(web: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example/ui", "/api/v1/jobs"):
        response = await web.post("/ui/login", data={"token": "x", "next": target})
        assert response.headers["location"] == "/ui"
