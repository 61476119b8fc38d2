"""`/metrics`: the database gauges move with the jobs, the API times its requests by route
template, and the hooks workers and schedulers call move their counters; `metrics.serve` exposes
them on a port of their own."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chronosched import metrics
from chronosched.api.app import create_app
from chronosched.db import queue_repo
from chronosched.db.pool import Pool
from tests.integration.api_support import definition, fetch

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def clients(
    pool: Pool, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(root client for /metrics, API client for /api/v1), on one app with no scrape cache."""
    monkeypatch.setattr(metrics, "CACHE_SECONDS", 0.0)
    transport = httpx.ASGITransport(app=create_app(pool))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as web,
        httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as api,
    ):
        yield web, api


async def scrape(web: httpx.AsyncClient) -> Samples:
    response = await web.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_metrics__job_gauges_and_request_durations_move(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    web, api = clients
    a = await definition(api, "A")
    before = await scrape(web)
    assert value(before, "chronosched_metrics_database_up") == 1
    assert value(before, "chronosched_jobs", status="queued", kind="cmd") == 0

    dag = await api.post(
        "/dags",
        json={"name": "m", "jobs": [{"key": k, "defId": a["id"]} for k in ("x", "y", "z")]},
    )
    ids = dag.json()["jobIds"]
    await api.post(f"/jobs/{ids['x']}/complete", json={"result": 1})
    await api.post(f"/jobs/{ids['y']}/fail", json={"error": "boom"})
    after = await scrape(web)
    assert value(after, "chronosched_jobs", status="succeeded", kind="cmd") == 1
    assert value(after, "chronosched_jobs", status="failed", kind="cmd") == 1
    assert value(after, "chronosched_jobs", status="queued", kind="cmd") == 1
    assert value(after, "chronosched_jobs", status="running", kind="python") == 0

    route = "/api/v1/jobs/{jobId}/complete"
    key = {"method": "POST", "route": route, "status": "200"}
    count = "chronosched_api_request_duration_seconds_count"
    assert value(after, count, **key) >= value(before, count, **key) + 1


async def test_metrics__worker_and_reaper_hooks_count_claims_and_expiries(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], pool: Pool
) -> None:
    web, api = clients
    a = await definition(api, "B", maxAttempts=2)
    for _ in range(3):
        await api.post(f"/definitions/{a['id']}/trigger")
    before = await scrape(web)
    async with pool.connection() as conn:
        claimed = await queue_repo.claim(conn, owner="w1", limit=3, lease_seconds=30, kinds=["cmd"])
        metrics.record_claims(claimed)  # the worker's own hooks, as it calls them
        done = await queue_repo.complete(
            conn, owner="w1", done=[(claimed[0].id, claimed[0].attempt, None)]
        )
        metrics.record_outcomes((claimed[0].kind for _ in done), "succeeded")
        # the two others lose their worker: their leases expire and a reaper recovers them
        await conn.execute(
            "UPDATE jobs SET lease_until = now() - interval '1 second' WHERE status = 'running'"
        )
        metrics.record_reaped(await queue_repo.reap(conn))
    tick = datetime(2030, 1, 1, tzinfo=UTC)
    metrics.record_cron_fired([tick], tick + timedelta(seconds=1))
    after = await scrape(web)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("chronosched_jobs_claimed_total", kind="cmd") == 3
    assert moved("chronosched_jobs_finished_total", kind="cmd", outcome="succeeded") == 1
    assert moved("chronosched_claim_latency_seconds_count") == 1  # one per claimed batch
    assert moved("chronosched_lease_expiries_total") == 2
    assert moved("chronosched_reaper_recoveries_total") == 2
    assert moved("chronosched_cron_lateness_seconds_count") == 1
    assert moved("chronosched_cron_lateness_seconds_sum") == pytest.approx(1.0)
    assert value(after, "chronosched_jobs", status="queued", kind="cmd") == 2
    rows = await fetch(pool, "SELECT count(*) AS n FROM jobs WHERE status = 'succeeded'")
    assert rows == [{"n": 1}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_metrics__serve_exposes_process_metrics_on_a_port() -> None:
    port = _free_port()
    metrics.serve(port, addr="127.0.0.1")
    metrics.JOBS_CLAIMED.labels("http").inc()
    metrics.CLAIM_LATENCY.observe(0.5)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    samples = parse(response.text)
    assert value(samples, "chronosched_jobs_claimed_total", kind="http") >= 1
    assert value(samples, "chronosched_claim_latency_seconds_count") >= 1


@pytest.mark.parametrize(
    ("path", "params", "template"),
    [
        ("/api/v1/jobs/42", {"jobId": 42}, "/api/v1/jobs/{jobId}"),
        (
            "/api/v1/namespaces/jobs/jobs/7/logs",
            {"namespaceId": "jobs", "jobId": 7},
            "/api/v1/namespaces/{namespaceId}/jobs/{jobId}/logs",
        ),
        ("/ui/static/js/common.js", {"path": "js/common.js"}, "/ui/static/{path}"),
        ("/api/v1/jobs/007", {"jobId": 7}, "/jobs/{jobId}"),  # falls back to the route's path
        ("/healthz", {}, "/healthz"),
    ],
)
def test_metrics__request_label_is_the_route_template(
    path: str, params: dict[str, object], template: str
) -> None:
    class Route:
        path = "/jobs/{jobId}"

    scope = {"type": "http", "path": path, "path_params": params, "route": Route()}
    assert metrics.route_template(scope) == template
    assert metrics.route_template({"type": "http", "path": path}) == "unmatched"
