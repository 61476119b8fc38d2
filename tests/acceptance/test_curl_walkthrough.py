"""The spec's curl walk-through, step by step, against a real `chronosched server` process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import psycopg
import pytest

from tests.integration.api_support import serve

DELAY = timedelta(seconds=2)


@pytest.fixture
def server(db_url: str) -> Iterator[str]:
    with serve(db_url) as base:
        yield base


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server}/api/v1", timeout=10) as client:
        yield client


def test_curl_walkthrough__delayed_child_is_queued_parent_finish_plus_delay(
    api: httpx.Client, db_url: str
) -> None:
    # 1. namespace
    created = api.post("/namespaces", json={"name": "demo", "description": "Demo namespace"})
    assert created.status_code == 201
    ns = created.json()["id"]
    # 2. look it up
    listed = api.get("/namespaces").json()["items"]
    assert ns in [n["id"] for n in listed]
    # 3-4. parent and delayed child definitions
    parent_def = api.post(
        f"/namespaces/{ns}/definitions",
        json={
            "name": "ParentJob",
            "version": 1,
            "kind": "cmd",
            "payloadTemplate": {"cmd": "echo Parent && sleep 1 && echo Done Parent"},
        },
    )
    child_def = api.post(
        f"/namespaces/{ns}/definitions",
        json={
            "name": "DelayedChild",
            "version": 1,
            "kind": "cmd",
            "payloadTemplate": {"cmd": "echo Delayed Child && date"},
            "delayInterval": f"{DELAY.seconds} seconds",
        },
    )
    assert parent_def.status_code == child_def.status_code == 201
    assert child_def.json()["delayInterval"] == "00:00:02"
    # 5. DAG
    dag = api.post(f"/namespaces/{ns}/dags", json={"name": "delayed_run"})
    assert dag.status_code == 201
    assert dag.json()["namespaceId"] == ns
    dag_id = dag.json()["id"]
    # 6. jobs
    parent = api.post(
        f"/namespaces/{ns}/dags/{dag_id}/jobs", json={"defId": parent_def.json()["defId"]}
    )
    child = api.post(
        f"/namespaces/{ns}/dags/{dag_id}/jobs", json={"defId": child_def.json()["defId"]}
    )
    assert parent.status_code == child.status_code == 201
    parent_id, child_id = parent.json()["id"], child.json()["id"]
    # 7. dependency
    edge = api.post(
        f"/namespaces/{ns}/dags/{dag_id}/dependencies",
        json={"parentJobId": parent_id, "childJobId": child_id},
    )
    assert edge.status_code == 201
    assert api.get(f"/jobs/{child_id}").json()["status"] == "waiting"
    # 8. complete the parent (no body, as curl sends it)
    done = api.post(f"/namespaces/{ns}/jobs/{parent_id}/complete")
    assert done.status_code == 200
    assert done.json()["status"] == "succeeded"

    result = api.get(f"/jobs/{child_id}").json()
    assert result["status"] == "queued"
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT c.due_at, p.finished_at FROM jobs c, jobs p WHERE c.id = %s AND p.id = %s",
            (child_id, parent_id),
        ).fetchone()
    assert row is not None
    due_at, parent_finished = row
    assert due_at == parent_finished + DELAY
    assert datetime.fromisoformat(result["dueAt"]) == due_at
