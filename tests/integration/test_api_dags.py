"""DAGs through the HTTP API: whole-graph creation, versions, status, jobs, delete."""

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


async def _graph(client: httpx.AsyncClient, name: str = "etl") -> dict[str, Any]:
    a = await definition(client, "Extract")
    b = await definition(client, "Load")
    response = await client.post(
        "/dags",
        json={
            "name": name,
            "jobs": [
                {"key": "e", "defId": a["id"]},
                {"key": "l1", "defId": b["id"]},
                {"key": "l2", "defId": b["id"], "priority": 5},
            ],
            "dependencies": [
                {"parent": "e", "child": "l1"},
                {"parent": "e", "child": "l2", "dependencyType": "order-only"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_dags__whole_graph_in_one_request(client: httpx.AsyncClient, pool: Pool) -> None:
    dag = await _graph(client)
    assert dag["version"] == 1 and dag["status"] == "pending"
    assert dag["jobCounts"]["total"] == 3 and dag["jobCounts"]["waiting"] == 2
    ids = dag["jobIds"]
    jobs = (await client.get(f"/dags/{dag['id']}/jobs")).json()["items"]
    assert [(j["name"], j["status"]) for j in jobs] == [
        ("Extract", "queued"),
        ("Load", "waiting"),
        ("Load-2", "waiting"),
    ]
    assert jobs[1]["unmetParents"] == [ids["e"]]
    edges = await fetch(pool, "SELECT dependency_type FROM job_dependencies ORDER BY child_job_id")
    assert [e["dependency_type"] for e in edges] == ["data", "order-only"]


async def test_dags__same_name_makes_next_version_and_old_jobs_keep_running(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    old = await _graph(client)
    new = await _graph(client)
    assert new["version"] == 2
    assert (await client.get(f"/dags/{old['id']}")).json()["deleted"] is True
    rows = await fetch(pool, "SELECT count(*) AS n FROM jobs WHERE status = 'queued'")
    assert rows[0]["n"] == 2
    listed = (await client.get("/dags")).json()["items"]
    assert [d["id"] for d in listed] == [new["id"]]


async def test_dags__cycle_in_one_request_is_409_naming_keys_and_creates_nothing(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    a = await definition(client, "A")
    body = {
        "name": "loop",
        "jobs": [{"key": k, "defId": a["id"]} for k in "xyz"],
        "dependencies": [
            {"parent": "x", "child": "y"},
            {"parent": "y", "child": "z"},
            {"parent": "z", "child": "x"},
        ],
    }
    problem = assert_problem(await client.post("/dags", json=body), 409)
    assert sorted(problem["cycle"]) == ["x", "y", "z"]
    assert (await fetch(pool, "SELECT count(*) AS n FROM dags"))[0]["n"] == 0
    assert (await fetch(pool, "SELECT count(*) AS n FROM jobs"))[0]["n"] == 0


@pytest.mark.parametrize(
    ("jobs", "deps", "index"),
    [
        ([{"key": "x"}, {"key": "x"}], [], 1),
        ([{"key": "x"}], [{"parent": "x", "child": "nope"}], 0),
        ([{"key": "x"}, {"key": "y"}], [{"parent": "x", "child": "y"}] * 2, 1),
    ],
)
async def test_dags__bad_graph_items_are_422_with_index(
    client: httpx.AsyncClient,
    pool: Pool,
    jobs: list[dict[str, str]],
    deps: list[dict[str, str]],
    index: int,
) -> None:
    a = await definition(client, "A")
    body = {
        "name": "bad",
        "jobs": [{**j, "defId": a["id"]} for j in jobs],
        "dependencies": deps,
    }
    problem = assert_problem(await client.post("/dags", json=body), 422)
    assert problem["index"] == index
    assert (await fetch(pool, "SELECT count(*) AS n FROM dags"))[0]["n"] == 0


async def test_dags__add_jobs_single_and_bulk(client: httpx.AsyncClient, pool: Pool) -> None:
    a = await definition(client, "Leaf")
    dag = (await client.post("/dags", json={"name": "d"})).json()
    one = await client.post(f"/dags/{dag['id']}/jobs", json={"defId": a["id"]})
    assert one.status_code == 201, one.text
    assert one.json()["name"] == "Leaf"
    bulk = await client.post(
        f"/dags/{dag['id']}/jobs/bulk",
        json={"items": [{"defId": a["id"]}, {"defId": a["id"], "name": "custom", "priority": 3}]},
    )
    assert bulk.status_code == 201, bulk.text
    assert [j["name"] for j in bulk.json()] == ["Leaf-2", "custom"]
    bad = await client.post(
        f"/dags/{dag['id']}/jobs/bulk",
        json=[{"defId": a["id"]}, {"defId": "00000000-0000-0000-0000-000000000000"}],
    )
    assert assert_problem(bad, 422)["index"] == 1
    dup = await client.post(f"/dags/{dag['id']}/jobs", json={"defId": a["id"], "name": "custom"})
    assert_problem(dup, 422)
    assert (await fetch(pool, "SELECT count(*) AS n FROM jobs"))[0]["n"] == 3


async def test_dags__retired_definition_cannot_make_jobs(client: httpx.AsyncClient) -> None:
    a = await definition(client, "A")
    await client.delete(f"/definitions/{a['id']}")
    dag = (await client.post("/dags", json={"name": "d"})).json()
    assert_problem(await client.post(f"/dags/{dag['id']}/jobs", json={"defId": a["id"]}), 422)


async def test_dags__status_follows_jobs_and_delete_cancels(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    dag = await _graph(client)
    ids = dag["jobIds"]
    await client.post(f"/jobs/{ids['e']}/complete")
    assert (await client.get(f"/dags/{dag['id']}")).json()["status"] == "running"
    await client.post(f"/jobs/{ids['l1']}/complete")
    await client.post(f"/jobs/{ids['l2']}/fail", json={"error": "boom"})
    got = (await client.get(f"/dags/{dag['id']}")).json()
    assert got["status"] == "failed"
    assert (await client.get("/dags", params={"status": "failed"})).json()["items"]
    assert not (await client.get("/dags", params={"status": "running"})).json()["items"]

    other = await _graph(client, "other")
    deleted = await client.delete(f"/dags/{other['id']}")
    assert deleted.json() == {"id": other["id"], "deleted": True, "cancelledJobs": 3}
    rows = await fetch(
        pool, "SELECT DISTINCT status, deleted FROM jobs WHERE dag_id = %s", other["id"]
    )
    assert rows == [{"status": "cancelled", "deleted": True}]
    again = await client.delete(f"/dags/{other['id']}")
    assert again.json()["cancelledJobs"] == 0
    assert_problem(
        await client.post(
            f"/dags/{other['id']}/jobs", json={"defId": dag["id"]}
        ),  # any body: the DAG is gone
        409,
    )
    assert_problem(await client.get("/dags/00000000-0000-0000-0000-000000000000"), 404)


async def test_dags__list_paginates(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.post("/dags", json={"name": f"d{i}"})
    first = (await client.get("/dags", params={"limit": 3})).json()
    second = (await client.get("/dags", params={"limit": 3, "cursor": first["nextCursor"]})).json()
    names = [d["name"] for d in first["items"] + second["items"]]
    assert names == ["d4", "d3", "d2", "d1", "d0"]
    assert second["nextCursor"] is None


async def test_dags__list_pages_newest_first_with_a_cursor(client: httpx.AsyncClient) -> None:
    for name in ("p1", "p2", "p3"):
        assert (await client.post("/dags", json={"name": name})).status_code == 201
    first = (await client.get("/dags", params={"limit": 2})).json()
    rest = (await client.get("/dags", params={"limit": 2, "cursor": first["nextCursor"]})).json()
    names = [d["name"] for d in first["items"] + rest["items"]]
    assert names == ["p3", "p2", "p1"]
    assert rest["nextCursor"] is None
