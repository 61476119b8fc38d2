"""Definitions through the HTTP API: create/upsert rules, bulk, versions, pause, trigger."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from chronosched.db.pool import Pool
from tests.integration.api_support import api_client, assert_problem, definition, fetch


@pytest.fixture
async def client(pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(pool) as c:
        yield c


async def test_definitions__create_returns_201_with_canonical_fields(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    response = await client.post(
        "/definitions",
        json={
            "name": "Child",
            "kind": "cmd",
            "payload_template": {"cmd": "echo hi"},
            "delayInterval": "PT5M",
            "cronSpec": "*/5 * * * *",
            "timezone": "Europe/Berlin",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["defId"] == body["id"]
    assert body["version"] == 1
    assert body["delayInterval"] == "00:05:00"
    assert body["payloadTemplate"] == {"cmd": "echo hi"}
    assert body["maxAttempts"] == 3
    assert body["paused"] is False
    rows = await fetch(
        pool, "SELECT delay_interval, timezone FROM job_definitions WHERE id = %s", body["id"]
    )
    assert str(rows[0]["delay_interval"]) == "0:05:00"
    assert rows[0]["timezone"] == "Europe/Berlin"


async def test_definitions__identical_content_returns_live_one_with_200(
    client: httpx.AsyncClient,
) -> None:
    first = await client.post("/definitions", json={"name": "A", "kind": "cmd", "version": 1})
    again = await client.post("/definitions", json={"name": "A", "kind": "cmd", "version": 1})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


async def test_definitions__changed_content_makes_next_version_and_retires_old(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    v1 = await definition(client, "A")
    response = await client.post(
        "/definitions", json={"name": "A", "kind": "cmd", "payloadTemplate": {"cmd": "new"}}
    )
    assert response.status_code == 201
    assert response.json()["version"] == 2
    rows = await fetch(pool, "SELECT version, deleted FROM job_definitions ORDER BY version")
    assert [(r["version"], r["deleted"]) for r in rows] == [(1, True), (2, False)]
    old = await client.get(f"/definitions/{v1['id']}")
    assert old.json()["deleted"] is True


async def test_definitions__explicit_existing_version_with_other_content_is_409(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    await definition(client, "A", version=1)
    response = await client.post("/definitions", json={"name": "A", "kind": "http", "version": 1})
    assert_problem(response, 409)
    rows = await fetch(pool, "SELECT count(*) AS n FROM job_definitions")
    assert rows[0]["n"] == 1


async def test_definitions__versions_are_never_reused_after_prune(
    client: httpx.AsyncClient,
) -> None:
    await definition(client, "A")
    v2 = await definition(client, "A", description="two")
    await client.delete(f"/definitions/{v2['id']}")
    pruned = await client.post("/admin/prune", json={})
    assert pruned.json()["jobDefinitions"] == 2
    again = await client.post("/definitions", json={"name": "A", "kind": "cmd", "version": 2})
    assert_problem(again, 409)
    fresh = await definition(client, "A")
    assert fresh["version"] == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cronSpec", "61 * * * *"),
        ("cronSpec", "@fortnightly"),
        ("timezone", "Mars/Olympus"),
        ("delayInterval", "5 fortnights"),
        ("delayInterval", "-5m"),
        ("kind", "shell"),
        ("maxAttempts", 0),
        ("priority", 2**40),
        ("unknownField", 1),
        ("name", ""),
        ("name", "a\u0000b"),
        ("description", "nul\u0000"),
        ("payloadTemplate", []),
    ],
)
async def test_definitions__invalid_values_are_422_and_change_nothing(
    client: httpx.AsyncClient, pool: Pool, field: str, value: object
) -> None:
    body = {"name": "A", "kind": "cmd", field: value}
    body_problem = assert_problem(await client.post("/definitions", json=body), 422)
    assert body_problem["detail"]
    rows = await fetch(pool, "SELECT count(*) AS n FROM job_definitions")
    assert rows[0]["n"] == 0


async def test_definitions__nul_inside_payload_template_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/definitions", json={"name": "A", "kind": "cmd", "payloadTemplate": {"cmd": "a\u0000"}}
    )
    assert_problem(response, 422)


async def test_definitions__bulk_is_atomic_and_names_the_bad_index(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    items = [
        {"name": "A", "kind": "cmd"},
        {"name": "B", "kind": "cmd", "cronSpec": "@every 5s"},
        {"name": "C", "kind": "cmd", "cronSpec": "not a cron"},
    ]
    problem = assert_problem(await client.post("/definitions/bulk", json=items), 422)
    assert problem["index"] == 2
    assert (await fetch(pool, "SELECT count(*) AS n FROM job_definitions"))[0]["n"] == 0

    ok = await client.post("/definitions/bulk", json={"items": items[:2]})
    assert ok.status_code == 201, ok.text
    assert [d["name"] for d in ok.json()] == ["A", "B"]


async def test_definitions__bulk_conflict_names_its_index(client: httpx.AsyncClient) -> None:
    await definition(client, "B", version=1)
    items = [{"name": "A", "kind": "cmd"}, {"name": "B", "kind": "http", "version": 1}]
    problem = assert_problem(await client.post("/definitions/bulk", json=items), 409)
    assert problem["index"] == 1
    listed = await client.get("/definitions")
    assert [d["name"] for d in listed.json()["items"]] == ["B"]


async def test_definitions__bulk_upsert_decides_each_item_as_a_single_upsert_would(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    same = await definition(client, "Same", payloadTemplate={"cmd": "echo same"})
    changed = await definition(client, "Changed", payloadTemplate={"cmd": "echo v1"})
    gone = await definition(client, "Gone", payloadTemplate={"cmd": "echo gone"})
    assert (await client.delete(f"/definitions/{gone['id']}")).is_success
    items = [
        {"name": "New", "kind": "cmd", "payloadTemplate": {"cmd": "echo new"}},
        {"name": "Changed", "kind": "cmd", "payloadTemplate": {"cmd": "echo v2"}},
        {"name": "Same", "kind": "cmd", "payloadTemplate": {"cmd": "echo same"}, "paused": True},
        {"name": "Gone", "kind": "cmd", "payloadTemplate": {"cmd": "echo back"}},
    ]
    response = await client.post("/definitions/bulk", json=items)
    assert response.status_code == 201, response.text
    out = response.json()
    assert [(d["name"], d["version"]) for d in out] == [
        ("New", 1),
        ("Changed", 2),
        ("Same", 1),  # identical content: the live version itself, now paused
        ("Gone", 2),  # versions are never reused, even after a delete
    ]
    assert out[2]["id"] == same["id"] and out[2]["paused"] is True
    rows = await fetch(
        pool, "SELECT name, version, deleted FROM job_definitions ORDER BY name, version"
    )
    assert [(r["name"], r["version"], r["deleted"]) for r in rows] == [
        ("Changed", 1, True),
        ("Changed", 2, False),
        ("Gone", 1, True),
        ("Gone", 2, False),
        ("New", 1, False),
        ("Same", 1, False),
    ]
    assert changed["id"] not in {d["id"] for d in out}
    # The same request again changes nothing: every item is its live version.
    again = (await client.post("/definitions/bulk", json=items)).json()
    assert [d["id"] for d in again] == [d["id"] for d in out]
    assert (await fetch(pool, "SELECT count(*) AS n FROM job_definitions"))[0]["n"] == 6


async def test_definitions__new_version_endpoint_applies_changes(
    client: httpx.AsyncClient,
) -> None:
    v1 = await definition(client, "A", delayInterval="5m")
    response = await client.post(f"/definitions/{v1['id']}/versions", json={"priority": 7})
    assert response.status_code == 201, response.text
    v2 = response.json()
    assert (v2["version"], v2["priority"], v2["delayInterval"]) == (2, 7, "00:05:00")
    stale = await client.post(f"/definitions/{v1['id']}/versions", json={"priority": 8})
    assert_problem(stale, 409)
    same = await client.post(f"/definitions/{v2['id']}/versions", json={"priority": 7})
    assert same.status_code == 200


async def test_definitions__pause_resume_trigger_and_runs(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    d = await definition(client, "A", cronSpec="@every 1h")
    paused = await client.post(f"/definitions/{d['id']}/pause")
    assert paused.json()["paused"] is True
    resumed = await client.post(f"/definitions/{d['id']}/resume")
    assert resumed.json()["paused"] is False
    triggered = await client.post(f"/definitions/{d['id']}/trigger", json={"payload": {"x": 1}})
    assert triggered.status_code == 201, triggered.text
    job = triggered.json()
    assert job["dagId"] is None and job["status"] == "queued"
    assert job["payload"] == {"cmd": "echo A", "x": 1}
    runs = await client.get(f"/definitions/{d['id']}/runs")
    assert [r["id"] for r in runs.json()["items"]] == [job["id"]]
    await client.delete(f"/definitions/{d['id']}")
    assert_problem(await client.post(f"/definitions/{d['id']}/pause"), 409)
    assert_problem(await client.post(f"/definitions/{d['id']}/trigger"), 409)


async def test_definitions__changes_notify_the_scheduler_channel(
    client: httpx.AsyncClient, db_url: str
) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as listener:
        await listener.execute("LISTEN chronosched_definitions")
        d = await definition(client, "A")
        await client.post(f"/definitions/{d['id']}/pause")
        await client.get("/scheduler/reload")
        payloads = []
        gen = listener.notifies(timeout=2.0, stop_after=3)
        async for note in gen:
            payloads.append(note.payload)
    assert payloads == [d["id"], d["id"], "reload"]


async def test_definitions__list_paginates_and_unknown_ids_are_404(
    client: httpx.AsyncClient,
) -> None:
    for name in "ABCDE":
        await definition(client, name)
    page1 = (await client.get("/definitions", params={"limit": 2})).json()
    page2 = (
        await client.get("/definitions", params={"limit": 2, "cursor": page1["nextCursor"]})
    ).json()
    assert [d["name"] for d in page1["items"] + page2["items"]] == ["A", "B", "C", "D"]
    assert_problem(await client.get("/definitions/00000000-0000-0000-0000-000000000000"), 404)
    assert_problem(await client.get("/definitions/not-a-uuid"), 422)
    assert_problem(await client.get("/definitions", params={"cursor": "garbage"}), 422)


async def test_definitions__events_show_pauses_and_skipped_ticks_newest_first(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    d = await definition(client, "Ev", cronSpec="@every 1h")
    await client.post(f"/definitions/{d['id']}/pause")
    await client.post(f"/definitions/{d['id']}/resume")
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO scheduler_events (def_id, scheduled_for, event, detail)
               VALUES (%s, now(), 'overlap_skipped', 'previous run still running')""",
            (d["id"],),
        )
    page = await client.get(f"/definitions/{d['id']}/events", params={"limit": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [e["event"] for e in body["items"]] == ["overlap_skipped", "resumed"]
    assert body["items"][0]["defId"] == d["id"]
    rest = await client.get(f"/definitions/{d['id']}/events", params={"cursor": body["nextCursor"]})
    assert [e["event"] for e in rest.json()["items"]] == ["paused"]
    assert_problem(await client.get(f"/definitions/{uuid.uuid4()}/events"), 404)
