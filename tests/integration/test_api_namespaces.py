"""Namespaces through the HTTP API, and namespaced forms of the other routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chronosched.db.pool import Pool
from tests.integration.api_support import api_client, assert_problem, fetch


@pytest.fixture
async def client(pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pool) as c:
        yield c


async def test_namespaces__create_list_get_by_id_and_name(client: httpx.AsyncClient) -> None:
    created = await client.post("/namespaces", json={"name": "demo", "description": "Demo"})
    assert created.status_code == 201, created.text
    ns = created.json()
    assert set(ns) == {"id", "name", "description", "createdAt"}
    listed = (await client.get("/namespaces")).json()["items"]
    assert [n["name"] for n in listed] == ["default", "demo"]
    assert (await client.get(f"/namespaces/{ns['id']}")).json()["name"] == "demo"
    assert (await client.get("/namespaces/demo")).json()["id"] == ns["id"]
    assert_problem(await client.get("/namespaces/nope"), 404)


async def test_namespaces__duplicate_and_invalid_names_are_refused(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    await client.post("/namespaces", json={"name": "demo"})
    assert_problem(await client.post("/namespaces", json={"name": "demo"}), 409)
    assert_problem(await client.post("/namespaces", json={"name": "bad name!"}), 422)
    assert_problem(
        await client.post("/namespaces", json={"name": "123e4567-e89b-12d3-a456-426614174000"}),
        422,
    )
    rows = await fetch(pool, "SELECT count(*) AS n FROM namespaces")
    assert rows[0]["n"] == 2


async def test_namespaces__rename_and_delete_rules(client: httpx.AsyncClient) -> None:
    ns = (await client.post("/namespaces", json={"name": "demo"})).json()
    renamed = await client.patch(f"/namespaces/{ns['id']}", json={"name": "demo2"})
    assert renamed.json()["name"] == "demo2"
    assert_problem(await client.patch("/namespaces/default", json={"name": "x"}), 409)
    assert_problem(await client.delete("/namespaces/default"), 409)
    await client.post("/namespaces/demo2/definitions", json={"name": "A", "kind": "cmd"})
    assert_problem(await client.delete("/namespaces/demo2"), 409)
    d = (await client.get("/namespaces/demo2/definitions")).json()["items"][0]
    await client.delete(f"/namespaces/demo2/definitions/{d['id']}")
    assert (await client.delete("/namespaces/demo2")).status_code == 204
    assert_problem(await client.get(f"/namespaces/{ns['id']}"), 404)


async def test_namespaces__objects_are_invisible_through_another_namespace(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/namespaces", json={"name": "a"})
    await client.post("/namespaces", json={"name": "b"})
    d = (await client.post("/namespaces/a/definitions", json={"name": "X", "kind": "cmd"})).json()
    assert (await client.get(f"/namespaces/a/definitions/{d['id']}")).status_code == 200
    assert_problem(await client.get(f"/namespaces/b/definitions/{d['id']}"), 404)
    assert (await client.get(f"/definitions/{d['id']}")).status_code == 200
    assert (await client.get("/definitions", params={"namespace": "a"})).json()["items"]
    assert not (await client.get("/definitions")).json()["items"]
    dag = await client.post(
        "/namespaces/b/dags", json={"name": "d", "jobs": [{"key": "x", "defId": d["id"]}]}
    )
    problem = assert_problem(dag, 422)
    assert problem["index"] == 0
