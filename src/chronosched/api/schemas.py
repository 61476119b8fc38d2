"""Request and response bodies.

JSON is camelCase both ways; requests may also use the snake_case names. Unknown fields are
refused (a typo must not be silently ignored), and every bound the database enforces is also
declared here so a bad value is a 422 naming the field, not a database error.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from chronosched import cron, durations

MAX_BULK_ITEMS = 50_000
MAX_GRAPH_EDGES = 100_000
INT32 = 2**31 - 1
INT64 = 2**63 - 1

T = TypeVar("T")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


def _utc(value: datetime) -> datetime:
    """Naive timestamps are read as UTC (all time in Chronosched is the database's UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


Text = Annotated[str, Field(max_length=10_000), AfterValidator(_no_nul)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]
Int32 = Annotated[int, Field(ge=-INT32 - 1, le=INT32)]
Timestamp = Annotated[datetime, AfterValidator(_utc)]
JobId = Annotated[int, Field(ge=1, le=INT64)]
Kind = Literal["cmd", "http", "binary", "python"]
DependencyType = Literal["data", "order-only"]
JobStatus = Literal[
    "waiting", "queued", "running", "succeeded", "failed", "cancelled", "upstream_failed"
]
DagStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]
NAMESPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class In(BaseModel):
    """Base of request bodies: camelCase or snake_case, nothing unknown, no NaN/Infinity."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        allow_inf_nan=False,
    )


class Out(BaseModel):
    """Base of response bodies: camelCase."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


def _items(value: Any) -> Any:
    """Bulk bodies are a JSON array or `{"items": [...]}`."""
    if isinstance(value, dict) and set(value) == {"items"}:
        return value["items"]
    return value


class Page(Out, Generic[T]):
    """One page of a list; pass `nextCursor` as `cursor` to get the next one (null: no more)."""

    items: list[T]
    next_cursor: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem: every error response has this shape."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    index: int | None = Field(None, description="Offending item of a bulk request.")
    cycle: list[int | str] | None = Field(None, description="The cycle an edge would close.")
    errors: list[dict[str, Any]] | None = Field(None, description="Validation errors.")


# ---------------------------------------------------------------- namespaces


def _not_uuid(value: str) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        return value
    raise ValueError("a namespace name must not look like an id")


NamespaceName = Annotated[
    str, Field(pattern=NAMESPACE_PATTERN, examples=["demo"]), AfterValidator(_not_uuid)
]


class NamespaceIn(In):
    name: NamespaceName
    description: Text = ""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "demo", "description": "Demo namespace"}]}
    )


class NamespacePatch(In):
    name: NamespaceName | None = None
    description: Text | None = None


class NamespaceOut(Out):
    id: uuid.UUID
    name: str
    description: str
    created_at: datetime


# ---------------------------------------------------------------- definitions


def _interval(value: Any) -> timedelta:
    try:
        return durations.parse_interval(value)
    except durations.DurationError as exc:
        raise ValueError(str(exc)) from None


Interval = Annotated[
    str | float,
    Field(
        description="PostgreSQL interval text ('5 minutes'), ISO 8601 ('PT5M'), Go-style ('5m') "
        "or a number of seconds.",
        examples=["5 minutes"],
    ),
]


_NULLABLE = frozenset({"cron_spec", "timeout_seconds"})


class DefinitionFields(In):
    """Content fields shared by a new definition and a new version (all optional here)."""

    kind: Kind | None = None
    payload_template: dict[str, Any] | None = None
    cron_spec: Annotated[str, Field(max_length=200)] | None = None
    timezone: Annotated[str, Field(max_length=100)] | None = None
    delay_interval: Interval | None = None
    priority: Int32 | None = None
    max_attempts: Annotated[int, Field(ge=1, le=1000)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=10**9)] | None = None
    backoff_base_seconds: Annotated[float, Field(ge=0, le=10**9)] | None = None
    backoff_max_seconds: Annotated[float, Field(ge=0, le=10**9)] | None = None
    catchup: Literal["latest", "none", "all"] | None = None
    catchup_limit: Annotated[int, Field(ge=1, le=10_000)] | None = None
    overlap: Literal["allow", "skip"] | None = None
    description: Text | None = None
    paused: bool | None = None
    version: Annotated[int, Field(ge=1, le=INT32)] | None = None

    @field_validator("delay_interval")
    @classmethod
    def _check_interval(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            _interval(value)
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client set, as database values (`delay_interval` as a timedelta)."""
        out = {f: getattr(self, f) for f in self.model_fields_set}
        if out.get("delay_interval") is not None:
            out["delay_interval"] = _interval(out["delay_interval"])
        # null means "the default" (or "unchanged") except where the column itself is nullable
        return {k: v for k, v in out.items() if v is not None or k in _NULLABLE}


def validate_schedule(cron_spec: str | None, timezone: str) -> None:
    """The scheduler's own parser: a bad spec or zone is refused now, never at fire time."""
    try:
        cron.parse_cron(cron_spec or "@hourly", timezone)
    except cron.CronSpecError as exc:
        raise ValueError(str(exc)) from None


class DefinitionIn(DefinitionFields):
    name: Name
    kind: Kind

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "DelayedChild",
                    "kind": "cmd",
                    "payloadTemplate": {"cmd": "echo Delayed Child && date"},
                    "delayInterval": "5 minutes",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _check_schedule(self) -> DefinitionIn:
        validate_schedule(self.cron_spec, self.timezone or "UTC")
        return self


class DefinitionOut(Out):
    id: uuid.UUID
    def_id: uuid.UUID
    namespace_id: uuid.UUID
    name: str
    version: int
    kind: str
    payload_template: dict[str, Any]
    cron_spec: str | None
    timezone: str
    delay_interval: timedelta = Field(json_schema_extra={"type": "string"})
    priority: int
    max_attempts: int
    timeout_seconds: float | None
    backoff_base_seconds: float
    backoff_max_seconds: float
    catchup: str
    catchup_limit: int
    overlap: str
    description: str
    paused: bool
    created_at: datetime
    deleted: bool
    deleted_at: datetime | None

    @field_serializer("delay_interval")
    def _canonical(self, value: timedelta) -> str:
        return durations.format_interval(value)


class TriggerIn(In):
    """Optional overrides for a job triggered by hand."""

    payload: dict[str, Any] | None = None
    priority: Int32 | None = None
    due_at: Timestamp | None = None
    max_attempts: Annotated[int, Field(ge=1, le=1000)] | None = None


# ---------------------------------------------------------------- jobs


class JobIn(TriggerIn):
    def_id: uuid.UUID
    name: Name | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"defId": "8c0f4f7e-8a51-4bb4-9d59-1f0f52a0a0b1"}]}
    )


class JobOut(Out):
    id: int
    namespace_id: uuid.UUID
    dag_id: uuid.UUID | None
    def_id: uuid.UUID
    def_version: int
    def_name: str
    name: str
    kind: str
    version: int
    status: JobStatus
    priority: int
    due_at: datetime
    delay_interval: timedelta = Field(json_schema_extra={"type": "string"})
    payload: dict[str, Any]
    result: Any = None
    attempt: int
    max_attempts: int
    lease_owner: str | None
    lease_until: datetime | None
    enqueued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    scheduled_for: datetime | None
    deleted: bool
    unmet_parents: list[int] = Field(
        default_factory=list, description="Parents a waiting job still waits for."
    )
    upstream_failed_from: int | None = Field(
        None, description="The ancestor whose failure made this job upstream_failed."
    )

    @field_serializer("delay_interval")
    def _canonical(self, value: timedelta) -> str:
        return durations.format_interval(value)


class JobEditIn(In):
    """What may change while a job is waiting or queued; fields left out keep their value."""

    payload: dict[str, Any] | None = Field(
        None, description="Merged over the definition's payloadTemplate, as at creation."
    )
    priority: Int32 | None = None
    due_at: Timestamp | None = None
    version: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Apply only if the job is still at this version (else 409)."
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"priority": 10, "version": 1}]})


class CompleteIn(In):
    result: Any = None


class FailIn(In):
    error: Text | None = None
    result: Any = None


class CancelIn(In):
    reason: Text | None = None


class SchedulerEventOut(Out):
    """A scheduler decision about a cron tick: missed_skipped, caught_up, overlap_skipped,
    paused or resumed."""

    id: int
    def_id: uuid.UUID
    scheduled_for: datetime | None
    event: str
    detail: str
    created_at: datetime


class JobLogOut(Out):
    attempt: int
    worker_id: str | None
    stdout: str
    stderr: str
    error: str | None
    exit_code: int | None
    created_at: datetime


JobsBulkIn = Annotated[
    list[JobIn], Field(min_length=1, max_length=MAX_BULK_ITEMS), BeforeValidator(_items)
]

# ---------------------------------------------------------------- DAGs


class GraphJobIn(JobIn):
    key: Name


class GraphDependencyIn(In):
    parent: Name
    child: Name
    dependency_type: DependencyType = "data"


class DagIn(In):
    """A DAG, optionally with its whole graph (jobs by key, dependencies between keys)."""

    name: Name
    description: Text = ""
    jobs: list[GraphJobIn] = Field(default_factory=list, max_length=MAX_BULK_ITEMS)
    dependencies: list[GraphDependencyIn] = Field(default_factory=list, max_length=MAX_GRAPH_EDGES)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "etl",
                    "jobs": [
                        {"key": "extract", "defId": "8c0f4f7e-8a51-4bb4-9d59-1f0f52a0a0b1"},
                        {"key": "load", "defId": "0b5e0c0e-6f43-4a8e-a1f6-9f8a2a3c9d10"},
                    ],
                    "dependencies": [{"parent": "extract", "child": "load"}],
                }
            ]
        }
    )


class JobCounts(Out):
    total: int
    waiting: int
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    upstream_failed: int


class DagOut(Out):
    id: uuid.UUID
    namespace_id: uuid.UUID
    name: str
    version: int
    description: str
    status: DagStatus
    created_at: datetime
    deleted: bool
    deleted_at: datetime | None
    job_counts: JobCounts


class DagCreated(DagOut):
    job_ids: dict[str, int] = Field(default_factory=dict, description="Job ids by key.")


class DagDeleted(Out):
    id: uuid.UUID
    deleted: bool
    cancelled_jobs: int


# ---------------------------------------------------------------- dependencies


class DependencyIn(In):
    parent_job_id: JobId
    child_job_id: JobId
    dependency_type: DependencyType = "data"

    model_config = ConfigDict(json_schema_extra={"examples": [{"parentJobId": 1, "childJobId": 2}]})


DependenciesBulkIn = Annotated[
    list[DependencyIn], Field(min_length=1, max_length=MAX_BULK_ITEMS), BeforeValidator(_items)
]


class DependencyOut(Out):
    dag_id: uuid.UUID
    parent_job_id: int
    child_job_id: int
    dependency_type: DependencyType
    met: bool
    created_at: datetime


class EdgesAdded(Out):
    added: int


DefinitionsBulkIn = Annotated[
    list[DefinitionIn], Field(min_length=1, max_length=MAX_BULK_ITEMS), BeforeValidator(_items)
]

# ---------------------------------------------------------------- admin


class PruneIn(In):
    older_than: Interval = "0"

    @field_validator("older_than")
    @classmethod
    def _check(cls, value: str | float) -> str | float:
        _interval(value)
        return value

    def interval(self) -> timedelta:
        return _interval(self.older_than)


class PruneOut(Out):
    jobs: int
    job_dependencies: int
    job_logs: int
    job_definitions: int
    dags: int
    scheduler_events: int


class WorkerOut(Out):
    id: str
    host: str
    pid: int
    kinds: list[str]
    concurrency: int
    started_at: datetime
    last_heartbeat: datetime
    running: int
    stopped_at: datetime | None
    alive: bool


class Message(Out):
    status: str
    detail: str


class Health(Out):
    status: Literal["ok"]
    database: Literal["ok"]
