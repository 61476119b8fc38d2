"""Job definitions: idempotent create/upsert into immutable versions, pause, soft delete.

Rules (DESIGN §2): content identical to the live version returns it; changed content without a
`version` becomes the next version and retires the old one; an explicit `version` that was
already issued with other content is a Conflict. Versions never repeat, even after prune (the
`definition_versions` table of migration 0001 remembers the last one issued).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from psycopg.types.json import Jsonb

from chronosched import errors
from chronosched.db import queries
from chronosched.db.pool import AsyncConn

# Everything that makes two versions different; `paused` is state, not content.
CONTENT_FIELDS = (
    "kind",
    "payload_template",
    "cron_spec",
    "timezone",
    "delay_interval",
    "priority",
    "max_attempts",
    "timeout_seconds",
    "backoff_base_seconds",
    "backoff_max_seconds",
    "catchup",
    "catchup_limit",
    "overlap",
    "description",
)


@dataclasses.dataclass(frozen=True, slots=True)
class DefinitionSpec:
    """A validated definition as the client wants it (defaults are the schema's)."""

    name: str
    kind: str
    version: int | None = None
    payload_template: dict[str, Any] = dataclasses.field(default_factory=dict)
    cron_spec: str | None = None
    timezone: str = "UTC"
    delay_interval: timedelta = timedelta(0)
    priority: int = 0
    max_attempts: int = 3
    timeout_seconds: float | None = None
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    catchup: str = "latest"
    catchup_limit: int = 100
    overlap: str = "allow"
    description: str = ""
    paused: bool | None = None


def spec_from_row(row: dict[str, Any], **changes: Any) -> DefinitionSpec:
    """The spec of an existing version, with `changes` applied (for "new version" requests)."""
    fields = {f: row[f] for f in CONTENT_FIELDS}
    fields.update(changes)
    return DefinitionSpec(name=row["name"], **fields)


def _same_content(row: dict[str, Any], spec: DefinitionSpec) -> bool:
    return all(row[f] == getattr(spec, f) for f in CONTENT_FIELDS)


async def _one(conn: AsyncConn, query: str, params: dict[str, Any]) -> dict[str, Any] | None:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def get(conn: AsyncConn, def_id: str) -> dict[str, Any]:
    """Any version, live or deleted (old jobs still reference deleted ones)."""
    row = await _one(conn, queries.get("get_definition"), {"id": def_id})
    if row is None:
        raise errors.NotFound(f"definition {def_id} does not exist")
    return row


async def upsert(
    conn: AsyncConn, namespace_id: str, spec: DefinitionSpec
) -> tuple[dict[str, Any], bool]:
    """Create or reuse a version; returns (row, created)."""
    async with conn.transaction():
        await conn.execute(
            queries.get("lock_definitions_namespace"), {"namespace_id": namespace_id}
        )
        (result,) = await _upsert_locked(conn, namespace_id, [spec], bulk=False)
        return result


async def upsert_many(
    conn: AsyncConn, namespace_id: str, specs: Sequence[DefinitionSpec]
) -> list[tuple[dict[str, Any], bool]]:
    """All or nothing; an error names the index of the first offending item."""
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        if spec.name in seen:
            raise errors.Invalid(
                f"name {spec.name!r} also appears at item {seen[spec.name]}", index=index
            )
        seen[spec.name] = index
    async with conn.transaction():
        await conn.execute(
            queries.get("lock_definitions_namespace"), {"namespace_id": namespace_id}
        )
        return await _upsert_locked(conn, namespace_id, specs, bulk=True)


async def _upsert_locked(
    conn: AsyncConn, namespace_id: str, specs: Sequence[DefinitionSpec], *, bulk: bool
) -> list[tuple[dict[str, Any], bool]]:
    """Decide every item from the live versions and last issued versions of all the names
    (two queries), then write: one UPDATE retires the replaced versions and one INSERT adds
    the new ones. Names are unique among `specs` (upsert_many checks), so each
    decision sees the state before the call, as one-by-one upserts would. A bulk upsert of
    20,000 definitions took ~22 s as ~3 round trips per item."""
    key = {"namespace_id": namespace_id, "names": [spec.name for spec in specs]}
    cur = await conn.execute(queries.get("live_definitions_by_names"), key)
    live = {row["name"]: row for row in await cur.fetchall()}
    cur = await conn.execute(queries.get("last_definition_versions"), key)
    last = {row["name"]: int(row["last_version"]) for row in await cur.fetchall()}
    versions: list[int | None] = []
    for index, spec in enumerate(specs):
        try:
            versions.append(_new_version_number(spec, live.get(spec.name), last.get(spec.name, 0)))
        except errors.ChronoschedError as exc:
            if bulk:
                exc.detail = f"item {index}: {exc.detail}"
                exc.index = index
            raise
    changed = [spec for spec, version in zip(specs, versions, strict=True) if version is not None]
    retired = [live[spec.name]["id"] for spec in changed if spec.name in live]
    if retired:
        await conn.execute(queries.get("retire_definitions"), {"ids": retired})
    inserted = await _insert_versions(conn, namespace_id, specs, versions)
    out = []
    for spec, version in zip(specs, versions, strict=True):
        if version is None:
            out.append((await _apply_paused(conn, live[spec.name], spec.paused), False))
        else:
            out.append((inserted[spec.name], True))
    return out


def _new_version_number(spec: DefinitionSpec, live: dict[str, Any] | None, last: int) -> int | None:
    """The version `spec` becomes, or None when the live version already is it (DESIGN §2)."""
    if live is not None and spec.version in (None, live["version"]):
        if _same_content(live, spec):
            return None
        if spec.version is not None:
            raise errors.Conflict(
                f"definition {spec.name!r} version {spec.version} already exists with different "
                f"content; omit `version` to create version {last + 1}"
            )
    if spec.version is not None and spec.version <= last:
        raise errors.Conflict(
            f"definition {spec.name!r} version {spec.version} was already issued (latest is "
            f"{last}); versions are never reused"
        )
    return spec.version if spec.version is not None else last + 1


async def _insert_versions(
    conn: AsyncConn,
    namespace_id: str,
    specs: Sequence[DefinitionSpec],
    versions: Sequence[int | None],
) -> dict[str, dict[str, Any]]:
    """Insert the specs that have a version number, in one statement; rows by name."""
    new = [(s, v) for s, v in zip(specs, versions, strict=True) if v is not None]
    if not new:
        return {}
    columns: dict[str, list[Any]] = {
        "names": [s.name for s, _ in new],
        "versions": [v for _, v in new],
        "payload_templates": [Jsonb(s.payload_template) for s, _ in new],
        "paused": [bool(s.paused) for s, _ in new],
    }
    for field, column in _ARRAY_COLUMNS.items():
        columns[column] = [getattr(s, field) for s, _ in new]
    cur = await conn.execute(
        queries.get("insert_definitions"), {"namespace_id": namespace_id, **columns}
    )
    return {row["name"]: row for row in await cur.fetchall()}


# Content fields passed as they are, by the array parameter of insert_definitions they fill.
_ARRAY_COLUMNS = {
    "kind": "kinds",
    "cron_spec": "cron_specs",
    "timezone": "timezones",
    "delay_interval": "delay_intervals",
    "priority": "priorities",
    "max_attempts": "max_attempts",
    "timeout_seconds": "timeout_seconds",
    "backoff_base_seconds": "backoff_base_seconds",
    "backoff_max_seconds": "backoff_max_seconds",
    "catchup": "catchups",
    "catchup_limit": "catchup_limits",
    "overlap": "overlaps",
    "description": "descriptions",
}


async def _apply_paused(
    conn: AsyncConn, row: dict[str, Any], paused: bool | None
) -> dict[str, Any]:
    if paused is None or paused == row["paused"]:
        return row
    updated = await _one(
        conn, queries.get("set_definition_paused"), {"id": row["id"], "paused": paused}
    )
    return updated or row


async def new_version(conn: AsyncConn, def_id: str, changes: dict[str, Any]) -> tuple[Any, bool]:
    """A new version of a live definition: its content with `changes` applied."""
    current = await get(conn, def_id)
    if current["deleted"]:
        raise errors.Conflict(
            f"definition {def_id} is a retired version; post the new version from the live one"
        )
    spec = spec_from_row(current, **changes)
    return await upsert(conn, str(current["namespace_id"]), spec)


async def delete(conn: AsyncConn, def_id: str) -> dict[str, Any]:
    """Soft delete (idempotent): running jobs keep their version; cron firing stops."""
    await get(conn, def_id)
    await conn.execute(queries.get("retire_definition"), {"id": def_id})
    return await get(conn, def_id)


async def set_paused(conn: AsyncConn, def_id: str, paused: bool) -> dict[str, Any]:
    row = await _one(conn, queries.get("set_definition_paused"), {"id": def_id, "paused": paused})
    if row is None:
        await get(conn, def_id)
        raise errors.Conflict(f"definition {def_id} is deleted; it cannot be paused or resumed")
    return row


async def list_definitions(
    conn: AsyncConn,
    namespace_id: str,
    *,
    name: str | None = None,
    include_deleted: bool = False,
    cron: bool | None = None,
    after: tuple[str, int] = ("", 0),
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Ordered by (name, version); `after` is the keyset cursor."""
    cur = await conn.execute(
        queries.get("list_definitions"),
        {
            "namespace_id": namespace_id,
            "name": name,
            "include_deleted": include_deleted,
            "cron": cron,
            "after_name": after[0],
            "after_version": after[1],
            "limit": limit,
        },
    )
    return list(await cur.fetchall())


async def live_in_namespace(
    conn: AsyncConn, namespace_id: str, def_ids: Sequence[str]
) -> dict[str, str]:
    """{id: name} of those ids that are live definitions of the namespace."""
    cur = await conn.execute(
        queries.get("live_definitions_in_namespace"),
        {"namespace_id": namespace_id, "ids": list(set(def_ids))},
    )
    return {str(row["id"]): row["name"] for row in await cur.fetchall()}


async def notify_reload(conn: AsyncConn) -> None:
    """Ask every scheduler to reload all definitions (LISTEN chronosched_definitions)."""
    await conn.execute(queries.get("notify_reload"))
