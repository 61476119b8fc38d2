"""Prometheus metrics: collectors every process shares, the API's `/metrics`, and `serve(port)`.

Counters and histograms live in the process that sees the event (workers count claims and
outcomes, schedulers cron lateness, any reaper lease expiries, the API request durations) and are
scraped from that process: the API at `/metrics`, workers and schedulers on `--metrics-port`
(`serve`). Job counts by state are different: no single process knows them, so the API reads them
from the database at scrape time (one GROUP BY, cached for `CACHE_SECONDS`). See
docs/operations.md, "Metrics", for the list and what each one means.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import operator
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import prometheus_client
import psycopg
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from chronosched.db import metrics_repo
from chronosched.db.pool import Pool

if TYPE_CHECKING:  # workers import this module: keep FastAPI and Starlette out of their start-up
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from chronosched.db.queue_repo import ClaimedJob

log = logging.getLogger(__name__)

CACHE_SECONDS = 2.0  # the UI polls every 2 s; scrapes within that window share one query
STATUSES = ("waiting", "queued", "running", "succeeded", "failed", "cancelled", "upstream_failed")
KINDS = ("cmd", "http", "binary", "python")

# Latency buckets from 5 ms to 10 min: claim and hop latency are milliseconds when idle and
# minutes under backlog; cron lateness is normally well under a second.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 600)

JOBS_CLAIMED = prometheus_client.Counter(
    "chronosched_jobs_claimed", "Jobs leased by this worker (one per attempt).", ["kind"]
)
JOBS_FINISHED = prometheus_client.Counter(
    "chronosched_jobs_finished",
    "Attempts this worker stored: outcome succeeded, failed (for good) or retried.",
    ["kind", "outcome"],
)
CLAIM_LATENCY = prometheus_client.Histogram(
    "chronosched_claim_latency_seconds",
    "How long due jobs waited in the queue before a worker claimed them (database clock); "
    "one observation per claimed batch: its longest wait.",
    buckets=_LATENCY_BUCKETS,
)
DAG_HOP_LATENCY = prometheus_client.Histogram(
    "chronosched_dag_hop_latency_seconds",
    "From a DAG job becoming ready (last parent done, plus its delay) to its claim.",
    buckets=_LATENCY_BUCKETS,
)
CRON_LATENESS = prometheus_client.Histogram(
    "chronosched_cron_lateness_seconds",
    "From a cron tick to the insertion of its job (database clock).",
    buckets=_LATENCY_BUCKETS,
)
LEASE_EXPIRIES = prometheus_client.Counter(
    "chronosched_lease_expiries", "Running jobs whose lease expired (found by a reaper)."
)
REAPER_RECOVERIES = prometheus_client.Counter(
    "chronosched_reaper_recoveries",
    "Jobs with an expired lease that a reaper put back in the queue (attempts left).",
)
LEASES_LOST = prometheus_client.Counter(
    "chronosched_leases_lost",
    "Leases a worker's heartbeat found gone (expired and re-leased, or cancelled).",
)
API_REQUEST_DURATION = prometheus_client.Histogram(
    "chronosched_api_request_duration_seconds",
    "API request durations by method, route template and status code.",
    ["method", "route", "status"],
)


# ---------------------------------------------------------------- hooks for workers/schedulers


_KIND = operator.attrgetter("kind")
_WAIT = operator.attrgetter("wait_seconds")
_HAS_PARENTS = operator.attrgetter("has_parents")


def record_claims(claimed: Sequence[ClaimedJob]) -> None:
    """A claimed batch.

    The hot path of a worker: one counter update per kind, and one claim-latency observation
    per batch (its longest wait), since a histogram observation per job cost ~5 µs of the
    ~40 µs a no-op job took. Counting and the maximum run in C (`map` over attrgetters): a
    Python loop over the batch cost ~1 µs per job. DAG children (rarer) are observed one by one.
    """
    if not claimed:
        return
    CLAIM_LATENCY.observe(max(max(map(_WAIT, claimed)), 0.0))
    for kind, count in collections.Counter(map(_KIND, claimed)).items():
        JOBS_CLAIMED.labels(kind).inc(count)
    for job in filter(_HAS_PARENTS, claimed):
        DAG_HOP_LATENCY.observe(max(job.wait_seconds, 0.0))


def record_outcomes(kinds: Iterable[str], outcome: str) -> None:
    """Stored attempts of a batch, counted per kind; `outcome` is 'succeeded', 'failed' (for good)
    or 'retried'."""
    for kind, count in collections.Counter(kinds).items():
        JOBS_FINISHED.labels(kind, outcome).inc(count)


def record_reaped(found: Mapping[int, str]) -> None:
    """What `queue_repo.reap` returned (job id -> 'queued' or 'failed')."""
    if found:
        LEASE_EXPIRIES.inc(len(found))
        recovered = sum(1 for status in found.values() if status == "queued")
        if recovered:
            REAPER_RECOVERIES.inc(recovered)


def record_cron_fired(ticks: Iterable[datetime], db_now: datetime) -> None:
    """Lateness of the ticks a scheduler just inserted, against the database's clock."""
    for tick in ticks:
        CRON_LATENESS.observe(max((db_now - tick).total_seconds(), 0.0))


def serve(port: int, addr: str = "0.0.0.0") -> None:
    """Expose this process's metrics on `addr:port` (a daemon thread; workers, schedulers)."""
    prometheus_client.start_http_server(port, addr=addr)
    log.info("metrics on http://%s:%d/metrics", addr, port)


# ---------------------------------------------------------------- database gauges (API)


class _SnapshotCollector(Collector):
    """Gauges from one database snapshot; every (status, kind) pair is present, zero or not."""

    def __init__(self, snap: metrics_repo.Snapshot | None) -> None:
        self._snap = snap

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "chronosched_metrics_database_up", "1 when the scrape could read the database."
        )
        up.add_metric([], 0 if self._snap is None else 1)
        yield up
        if self._snap is None:
            return
        jobs = GaugeMetricFamily(
            "chronosched_jobs", "Live jobs by state and kind (database).", labels=["status", "kind"]
        )
        kinds = sorted(set(KINDS) | {kind for _, kind in self._snap.jobs})
        for status in STATUSES:
            for kind in kinds:
                jobs.add_metric([status, kind], self._snap.jobs.get((status, kind), 0))
        yield jobs
        workers = GaugeMetricFamily(
            "chronosched_workers", "Registered workers by liveness (database).", labels=["state"]
        )
        workers.add_metric(["alive"], self._snap.workers_alive)
        workers.add_metric(["silent"], self._snap.workers_silent)
        yield workers


class SnapshotCache:
    """One database snapshot per CACHE_SECONDS, shared by `/metrics` and the UI overview."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._value: metrics_repo.Snapshot | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self) -> metrics_repo.Snapshot:
        async with self._lock:
            if self._value is None or time.monotonic() - self._at >= CACHE_SECONDS:
                async with self._pool.connection(timeout=5) as conn:
                    self._value = await metrics_repo.snapshot(conn)
                self._at = time.monotonic()
            return self._value


def snapshot_cache(app: Any) -> SnapshotCache:
    """The app's cache, made on first use (the pool is attached in the lifespan)."""
    state = app.state
    cache: SnapshotCache | None = getattr(state, "metrics_snapshot", None)
    if cache is None or getattr(cache, "_pool", None) is not state.pool:
        cache = SnapshotCache(state.pool)
        state.metrics_snapshot = cache
    return cache


async def scrape(app: Any) -> bytes:
    """This process's collectors plus `app`'s database gauges, in Prometheus text format."""
    try:
        snap: metrics_repo.Snapshot | None = await snapshot_cache(app).get()
    except psycopg.Error as exc:  # pool timeouts too: a scrape must still answer (database_up 0)
        log.warning("metrics: cannot read the database: %s", exc)
        snap = None
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snap))
    return prometheus_client.generate_latest() + prometheus_client.generate_latest(registry)


# ---------------------------------------------------------------- API request durations


class RequestTimer:
    """ASGI middleware: observes every HTTP request's duration by route *template*.

    The template (`/api/v1/jobs/{jobId}`), not the path, keeps the label set bounded; requests
    no route matched are labelled `unmatched`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            API_REQUEST_DURATION.labels(
                scope["method"], route_template(scope), str(status)
            ).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """`/api/v1/jobs/{jobId}` for `/api/v1/jobs/42`: the path with each path parameter's value
    put back as `{name}`, left to right (the route object alone lacks its routers' prefixes)."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    path: str = scope.get("path", "")
    params: Mapping[str, Any] = scope.get("path_params") or {}
    out, pos = [], 0
    for name, value in params.items():
        text = str(value)
        at = path.find("/" + text, pos)
        end = at + 1 + len(text)
        if at < 0 or (end < len(path) and path[end] != "/"):
            return str(getattr(route, "path", "unmatched"))  # e.g. /jobs/007: keep it bounded
        out.append(path[pos : at + 1] + "{" + name + "}")
        pos = end
    return "".join(out) + path[pos:]


def install(app: FastAPI) -> None:
    """Mount `/metrics` (open without a token, like `/healthz`) and the request timer."""
    from starlette.responses import Response

    async def metrics_endpoint() -> Response:
        body = await scrape(app)
        return Response(body, media_type=prometheus_client.CONTENT_TYPE_LATEST)

    app.add_middleware(RequestTimer)
    # response_model=None, or FastAPI would look the return annotation up in the module globals.
    app.add_api_route(
        "/metrics",
        metrics_endpoint,
        methods=["GET"],
        include_in_schema=False,
        response_model=None,
    )
