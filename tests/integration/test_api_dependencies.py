"""Dependencies through the HTTP API: add, bulk, list, delete; cycles and cross-DAG edges."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chronosched.db.pool import Pool
from tests.integration.api_support import api_client, assert_problem, definition, fetch


@pytest.fixture
async def client(pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pool) as c:
        yield c


async def _dag(client: httpx.AsyncClient, name: str, n: int) -> tuple[str, list[int]]:
    a = await definition(client, "A")
    dag = (await client.post("/dags", json={"name": name})).json()
    jobs = await client.post(f"/dags/{dag['id']}/jobs/bulk", json=[{"defId": a["id"]}] * n)
    return dag["id"], [j["id"] for j in jobs.json()]


async def test_dependencies__add_single_then_repeat_is_200(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    dag, (p, c) = await _dag(client, "d", 2)
    first = await client.post(f"/dags/{dag}/dependencies", json={"parentJobId": p, "childJobId": c})
    assert first.status_code == 201, first.text
    assert first.json()["dependencyType"] == "data" and first.json()["met"] is False
    again = await client.post(
        f"/dags/{dag}/dependencies", json={"parent_job_id": p, "child_job_id": c}
    )
    assert again.status_code == 200
    assert (await client.get(f"/jobs/{c}")).json()["status"] == "waiting"
    other_type = await client.post(
        f"/dags/{dag}/dependencies",
        json={"parentJobId": p, "childJobId": c, "dependencyType": "order-only"},
    )
    assert_problem(other_type, 409)


async def test_dependencies__bulk_cycle_is_409_naming_it_and_changes_nothing(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    dag, (a, b, c) = await _dag(client, "d", 3)
    body = [
        {"parentJobId": a, "childJobId": b},
        {"parentJobId": b, "childJobId": c},
        {"parentJobId": c, "childJobId": a},
    ]
    problem = assert_problem(await client.post(f"/dags/{dag}/dependencies/bulk", json=body), 409)
    assert sorted(problem["cycle"]) == [a, b, c]
    assert (await fetch(pool, "SELECT count(*) AS n FROM job_dependencies"))[0]["n"] == 0
    ok = await client.post(f"/dags/{dag}/dependencies/bulk", json={"items": body[:2]})
    assert ok.json() == {"added": 2}


async def test_dependencies__cross_dag_edges_are_422(client: httpx.AsyncClient, pool: Pool) -> None:
    dag1, (a,) = await _dag(client, "one", 1)
    _, (b,) = await _dag(client, "two", 1)
    problem = assert_problem(
        await client.post(f"/dags/{dag1}/dependencies", json={"parentJobId": a, "childJobId": b}),
        422,
    )
    assert problem["index"] == 0
    assert (await fetch(pool, "SELECT count(*) AS n FROM job_dependencies"))[0]["n"] == 0


async def test_dependencies__list_and_delete(client: httpx.AsyncClient) -> None:
    dag, (a, b, c) = await _dag(client, "d", 3)
    await client.post(
        f"/dags/{dag}/dependencies/bulk",
        json=[{"parentJobId": a, "childJobId": b}, {"parentJobId": a, "childJobId": c}],
    )
    page = (await client.get(f"/dags/{dag}/dependencies", params={"limit": 1})).json()
    rest = (
        await client.get(f"/dags/{dag}/dependencies", params={"cursor": page["nextCursor"]})
    ).json()
    assert [(e["parentJobId"], e["childJobId"]) for e in page["items"] + rest["items"]] == [
        (a, b),
        (a, c),
    ]
    gone = await client.delete(f"/dags/{dag}/dependencies/{a}/{b}")
    assert gone.status_code == 204
    assert (await client.get(f"/jobs/{b}")).json()["status"] == "queued"
    assert_problem(await client.delete(f"/dags/{dag}/dependencies/{a}/{b}"), 404)


async def test_dependencies__self_edge_and_started_child_are_refused(
    client: httpx.AsyncClient,
) -> None:
    dag, (a, b) = await _dag(client, "d", 2)
    assert_problem(
        await client.post(f"/dags/{dag}/dependencies", json={"parentJobId": a, "childJobId": a}),
        409,
    )
    await client.post(f"/jobs/{b}/complete")
    assert_problem(
        await client.post(f"/dags/{dag}/dependencies", json={"parentJobId": a, "childJobId": b}),
        409,
    )


async def test_dependencies__delete_through_another_dag_is_404_and_keeps_the_edge(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    dag, (a, b) = await _dag(client, "mine", 2)
    other, _ = await _dag(client, "other", 1)
    await client.post(f"/dags/{dag}/dependencies", json={"parentJobId": a, "childJobId": b})
    assert_problem(await client.delete(f"/dags/{other}/dependencies/{a}/{b}"), 404)
    assert (await fetch(pool, "SELECT count(*) AS n FROM job_dependencies"))[0]["n"] == 1
    assert (await client.get(f"/jobs/{b}")).json()["status"] == "waiting"
