"""Editing jobs through the HTTP API (DESIGN §2): priority, dueAt and payload change while a job
is waiting or queued, each change bumps `version`, and a job that runs or finished is not
editable; what a worker claims next follows the edit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from chronosched.db import queue_repo
from chronosched.db.pool import Pool
from tests.integration.api_support import api_client, assert_problem, definition, fetch


@pytest.fixture
async def client(pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pool) as c:
        yield c


async def _queued_job(client: httpx.AsyncClient, name: str = "Edit", **job: Any) -> dict[str, Any]:
    d = await definition(client, name, payloadTemplate={"cmd": "echo hi", "timeout": 5})
    response = await client.post(f"/definitions/{d['id']}/trigger", json=job)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "queued" and body["version"] == 1
    return body


async def _row(pool: Pool, job_id: int) -> dict[str, Any]:
    (row,) = await fetch(
        pool, "SELECT version, priority, due_at, payload, status FROM jobs WHERE id = %s", job_id
    )
    return row


async def test_edit__changes_priority_due_and_payload_and_bumps_the_version(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    job = await _queued_job(client)
    due = datetime.now(UTC) + timedelta(hours=1)
    edited = await client.patch(
        f"/jobs/{job['id']}",
        json={"priority": 7, "dueAt": due.isoformat(), "payload": {"cmd": "echo bye"}},
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["version"], body["priority"], body["status"]) == (2, 7, "queued")
    assert datetime.fromisoformat(body["dueAt"]) == due
    # Merged over the definition's template, as at creation: `timeout` is kept.
    assert body["payload"] == {"cmd": "echo bye", "timeout": 5}
    row = await _row(pool, job["id"])
    assert (row["version"], row["priority"], row["due_at"]) == (2, 7, due)
    assert row["payload"] == {"cmd": "echo bye", "timeout": 5}
    # Fields left out keep their value; the next change is the next version.
    again = (await client.patch(f"/jobs/{job['id']}", json={"priority": 8})).json()
    assert (again["version"], again["priority"], again["payload"]) == (3, 8, body["payload"])


async def test_edit__to_the_same_values_or_nothing_keeps_the_version(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    job = await _queued_job(client, priority=3)
    for body in ({}, {"priority": 3}, {"payload": {"cmd": "echo hi"}}, {"version": 1}):
        response = await client.patch(f"/jobs/{job['id']}", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["version"] == 1
    assert (await _row(pool, job["id"]))["version"] == 1


async def test_edit__a_stale_version_is_409_and_changes_nothing(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    job = await _queued_job(client)
    first = await client.patch(f"/jobs/{job['id']}", json={"priority": 1, "version": 1})
    assert first.json()["version"] == 2
    # A second client that read version 1 cannot overwrite the first one's edit.
    problem = assert_problem(
        await client.patch(f"/jobs/{job['id']}", json={"priority": 9, "version": 1}), 409
    )
    assert "version 2, not 1" in problem["detail"]
    row = await _row(pool, job["id"])
    assert (row["version"], row["priority"]) == (2, 1)
    ok = await client.patch(f"/jobs/{job['id']}", json={"priority": 9, "version": 2})
    assert (ok.json()["version"], ok.json()["priority"]) == (3, 9)


async def test_edit__running_finished_and_deleted_jobs_are_409(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    running = await _queued_job(client, "Running")
    async with pool.connection() as conn:
        claimed = await queue_repo.claim(
            conn, owner="test-worker", limit=10, lease_seconds=30, kinds=["cmd"]
        )
    assert [c.id for c in claimed] == [running["id"]]
    problem = assert_problem(
        await client.patch(f"/jobs/{running['id']}", json={"priority": 5}), 409
    )
    assert "running" in problem["detail"]

    finished = await _queued_job(client, "Finished")
    await client.post(f"/jobs/{finished['id']}/complete")
    problem = assert_problem(
        await client.patch(f"/jobs/{finished['id']}", json={"priority": 5}), 409
    )
    assert "succeeded" in problem["detail"]

    deleted = await _queued_job(client, "Deleted")
    await client.delete(f"/jobs/{deleted['id']}")
    problem = assert_problem(
        await client.patch(f"/jobs/{deleted['id']}", json={"priority": 5}), 409
    )
    assert "deleted" in problem["detail"]

    rows = await fetch(
        pool,
        "SELECT version, priority FROM jobs WHERE id = ANY(%s) ORDER BY id",
        [running["id"], finished["id"], deleted["id"]],
    )
    assert rows == [{"version": 1, "priority": 0}] * 3


async def test_edit__a_waiting_job_keeps_its_due_time_once_its_parent_succeeds(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    a = await definition(client, "A")
    dag = await client.post(
        "/dags",
        json={
            "name": "edit-chain",
            "jobs": [{"key": "p", "defId": a["id"]}, {"key": "c", "defId": a["id"]}],
            "dependencies": [{"parent": "p", "child": "c"}],
        },
    )
    ids = dag.json()["jobIds"]
    later = datetime.now(UTC) + timedelta(minutes=30)
    edited = await client.patch(
        f"/jobs/{ids['c']}", json={"dueAt": later.isoformat(), "payload": {"cmd": "echo child"}}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["status"], edited.json()["version"]) == ("waiting", 2)
    await client.post(f"/jobs/{ids['p']}/complete")
    row = await _row(pool, ids["c"])
    assert (row["status"], row["due_at"], row["payload"]) == (
        "queued",
        later,
        {"cmd": "echo child"},
    )


async def test_edit__workers_claim_by_the_edited_priority_and_due_time(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    first = await _queued_job(client, "First")
    second = await _queued_job(client, "Second")
    await client.patch(f"/jobs/{second['id']}", json={"priority": 5})
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    await client.patch(f"/jobs/{first['id']}", json={"dueAt": future})
    async with pool.connection() as conn:
        claimed = await queue_repo.claim(
            conn, owner="test-worker", limit=10, lease_seconds=30, kinds=["cmd"]
        )
    # `second` outranks by priority; `first` is no longer due.
    assert [c.id for c in claimed] == [second["id"]]


async def test_edit__of_a_queued_job_wakes_listening_workers(
    client: httpx.AsyncClient, pool: Pool, db_url: str
) -> None:
    job = await _queued_job(client, dueAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as listener:
        await listener.execute("LISTEN chronosched_jobs")
        edited = await client.patch(
            f"/jobs/{job['id']}", json={"dueAt": datetime.now(UTC).isoformat()}
        )
        assert edited.status_code == 200, edited.text
        notify = await asyncio.wait_for(anext(listener.notifies()), timeout=5)
    assert notify.payload == ""  # "due now": a worker claims at once instead of at the old time


async def test_edit__bad_input_is_4xx_and_changes_nothing(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    job = await _queued_job(client)
    url = f"/jobs/{job['id']}"
    for body in (
        {"priority": 2**31},
        {"payload": ["not", "an", "object"]},
        {"version": 0},
        {"dueAt": "tomorrow"},
        {"status": "succeeded"},  # not an editable field
    ):
        assert_problem(await client.patch(url, json=body), 422)
    assert_problem(
        await client.patch(url, content=b"{", headers={"content-type": "application/json"}), 400
    )
    assert_problem(await client.patch("/jobs/999999", json={"priority": 1}), 404)
    row = await _row(pool, job["id"])
    assert (row["version"], row["priority"], row["status"]) == (1, 0, "queued")


async def test_edit__namespaced_route_checks_the_namespace(client: httpx.AsyncClient) -> None:
    job = await _queued_job(client)
    await client.post("/namespaces", json={"name": "elsewhere"})
    assert_problem(
        await client.patch(f"/namespaces/elsewhere/jobs/{job['id']}", json={"priority": 1}), 404
    )
    ok = await client.patch(f"/namespaces/default/jobs/{job['id']}", json={"priority": 1})
    assert (ok.status_code, ok.json()["version"]) == (200, 2)
