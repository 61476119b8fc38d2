"""Jobs through the HTTP API: list filters, transitions, conflicts, logs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from chronosched.db.pool import Pool
from tests.integration.api_support import api_client, assert_problem, definition, fetch


@pytest.fixture
async def client(pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pool) as c:
        yield c


async def _chain(client: httpx.AsyncClient) -> dict[str, Any]:
    a = await definition(client, "A")
    dag = await client.post(
        "/dags",
        json={
            "name": "chain",
            "jobs": [{"key": k, "defId": a["id"]} for k in ("p", "c", "g")],
            "dependencies": [{"parent": "p", "child": "c"}, {"parent": "c", "child": "g"}],
        },
    )
    return dict(dag.json())


async def test_jobs__complete_makes_child_queued_with_result(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    ids = (await _chain(client))["jobIds"]
    done = await client.post(f"/jobs/{ids['p']}/complete", json={"result": {"rows": 3}})
    assert done.status_code == 200, done.text
    job = done.json()
    assert job["status"] == "succeeded" and job["result"] == {"rows": 3}
    assert job["finishedAt"] is not None and job["startedAt"] is not None
    child = (await client.get(f"/jobs/{ids['c']}")).json()
    assert child["status"] == "queued" and child["unmetParents"] == []
    again = await client.post(f"/jobs/{ids['p']}/complete")
    assert again.status_code == 200


async def test_jobs__completing_a_waiting_job_is_409_and_changes_nothing(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    ids = (await _chain(client))["jobIds"]
    problem = assert_problem(await client.post(f"/jobs/{ids['g']}/complete"), 409)
    assert "waiting" in problem["detail"]
    rows = await fetch(pool, "SELECT status FROM jobs WHERE id = %s", ids["g"])
    assert rows == [{"status": "waiting"}]


async def test_jobs__fail_blocks_descendants_and_retry_restores_them(
    client: httpx.AsyncClient,
) -> None:
    ids = (await _chain(client))["jobIds"]
    failed = await client.post(f"/jobs/{ids['p']}/fail", json={"error": "boom"})
    assert failed.json()["lastError"] == "boom"
    child = (await client.get(f"/jobs/{ids['g']}")).json()
    assert child["status"] == "upstream_failed" and child["upstreamFailedFrom"] == ids["p"]
    assert_problem(await client.post(f"/jobs/{ids['p']}/complete"), 409)
    assert_problem(await client.post(f"/jobs/{ids['c']}/retry"), 409)
    retried = await client.post(f"/jobs/{ids['p']}/retry")
    assert retried.json()["status"] == "queued"
    assert (await client.get(f"/jobs/{ids['c']}")).json()["status"] == "waiting"


async def test_jobs__cancel_and_delete(client: httpx.AsyncClient, pool: Pool) -> None:
    ids = (await _chain(client))["jobIds"]
    cancelled = await client.post(f"/jobs/{ids['p']}/cancel", json={"reason": "no"})
    assert cancelled.json()["status"] == "cancelled"
    deleted = await client.delete(f"/jobs/{ids['g']}")
    assert deleted.json()["deleted"] is True
    rows = await fetch(pool, "SELECT status, deleted FROM jobs WHERE id = %s", ids["g"])
    assert rows == [{"status": "upstream_failed", "deleted": True}]


async def test_jobs__list_filters_and_paginates(client: httpx.AsyncClient) -> None:
    dag = await _chain(client)
    d = await definition(client, "Solo")
    for _ in range(3):
        await client.post(f"/definitions/{d['id']}/trigger")
    waiting = (await client.get("/jobs", params={"status": "waiting"})).json()["items"]
    assert len(waiting) == 2
    by_def = (await client.get("/jobs", params={"defId": d["id"], "limit": 2})).json()
    rest = (
        await client.get("/jobs", params={"defId": d["id"], "cursor": by_def["nextCursor"]})
    ).json()
    all_ids = [j["id"] for j in by_def["items"] + rest["items"]]
    assert all_ids == sorted(all_ids, reverse=True) and len(all_ids) == 3
    in_dag = (await client.get("/jobs", params={"dagId": dag["id"]})).json()["items"]
    assert {j["id"] for j in in_dag} == set(dag["jobIds"].values())
    assert_problem(await client.get("/jobs", params={"status": "bogus"}), 422)


async def test_jobs__unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/jobs/999999"), 404)
    assert_problem(await client.get("/jobs/abc"), 422)
    assert_problem(await client.get("/jobs/0"), 422)
    assert_problem(await client.get(f"/jobs/{2**70}"), 422)
    assert_problem(await client.post("/jobs/999999/complete"), 404)
    assert (await client.get("/jobs/1/logs")).status_code == 404


async def test_jobs__namespaced_routes_check_the_namespace(client: httpx.AsyncClient) -> None:
    ids = (await _chain(client))["jobIds"]
    await client.post("/namespaces", json={"name": "other"})
    assert_problem(await client.post(f"/namespaces/other/jobs/{ids['p']}/complete"), 404)
    ok = await client.post(f"/namespaces/default/jobs/{ids['p']}/complete")
    assert ok.status_code == 200
