"""Job definitions: create/upsert (single and bulk), read, list, new version, delete, pause,
resume, trigger, and the runs of a definition."""

# No `from __future__ import annotations`: FastAPI must see the closure-local `Depends` aliases.

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response, status

from chronosched import errors
from chronosched.api import deps, schemas
from chronosched.api.routes import jobs as job_routes
from chronosched.db import definitions_repo, jobs_repo, scheduler_repo
from chronosched.db.pool import AsyncConn


def to_out(row: dict[str, Any]) -> schemas.DefinitionOut:
    return schemas.DefinitionOut.model_validate({**row, "def_id": row["id"]})


def to_spec(body: schemas.DefinitionIn) -> definitions_repo.DefinitionSpec:
    changes = body.changes()
    changes.pop("name", None)
    changes.pop("kind", None)
    return definitions_repo.DefinitionSpec(name=body.name, kind=body.kind, **changes)


async def _get(conn: AsyncConn, def_id: Any, scope: deps.Namespace | None) -> dict[str, Any]:
    row = await definitions_repo.get(conn, str(def_id))
    deps.check_scope(scope, row["namespace_id"], f"definition {def_id}")
    return row


def router(namespace: deps.NamespaceDep, scope: deps.ScopeDep) -> APIRouter:
    r = APIRouter(tags=["definitions"])
    Ns = Annotated[deps.Namespace, Depends(namespace)]
    Scope = Annotated[deps.Namespace | None, Depends(scope)]

    @r.post(
        "/definitions",
        status_code=status.HTTP_201_CREATED,
        responses={200: {"model": schemas.DefinitionOut, "description": "Identical content."}},
    )
    async def create_definition(
        body: schemas.DefinitionIn, conn: deps.Conn, ns: Ns, response: Response
    ) -> schemas.DefinitionOut:
        """Create a definition, or return the live one when the content is identical (200).

        Changed content without `version` becomes the next version; an explicit `version` that
        was already issued with other content is a 409.
        """
        row, created = await definitions_repo.upsert(conn, str(ns["id"]), to_spec(body))
        if not created:
            response.status_code = status.HTTP_200_OK
        return to_out(row)

    @r.post("/definitions/bulk", status_code=status.HTTP_201_CREATED)
    async def create_definitions_bulk(
        body: Annotated[schemas.DefinitionsBulkIn, Body()], conn: deps.Conn, ns: Ns
    ) -> list[schemas.DefinitionOut]:
        """Create or upsert many definitions atomically (array or `{"items": [...]}`)."""
        rows = await definitions_repo.upsert_many(
            conn, str(ns["id"]), [to_spec(item) for item in body]
        )
        return [to_out(row) for row, _ in rows]

    @r.get("/definitions")
    async def list_definitions(
        conn: deps.Conn,
        ns: Ns,
        limit: deps.Limit = 100,
        cursor: deps.Cursor = None,
        name: str | None = None,
        include_deleted: Annotated[bool, Query(alias="includeDeleted")] = False,
        cron: bool | None = None,
    ) -> schemas.Page[schemas.DefinitionOut]:
        """Definitions of the namespace by name and version (live ones unless includeDeleted)."""
        last = deps.cursor_values(cursor, str, int)
        after = (last[0], last[1]) if last else ("", 0)
        rows = await definitions_repo.list_definitions(
            conn,
            str(ns["id"]),
            name=name,
            include_deleted=include_deleted,
            cron=cron,
            after=after,
            limit=limit,
        )
        nxt = deps.next_cursor(rows, limit, "name", "version")
        return schemas.Page(items=[to_out(row) for row in rows], next_cursor=nxt)

    @r.get("/definitions/{defId}")
    async def get_definition(
        def_id: deps.DefId,
        conn: deps.Conn,
        sc: Scope,
    ) -> schemas.DefinitionOut:
        """One version, live or retired."""
        return to_out(await _get(conn, def_id, sc))

    @r.post(
        "/definitions/{defId}/versions",
        status_code=status.HTTP_201_CREATED,
        responses={200: {"model": schemas.DefinitionOut, "description": "Nothing changed."}},
    )
    async def new_definition_version(
        def_id: deps.DefId,
        body: schemas.DefinitionFields,
        conn: deps.Conn,
        sc: Scope,
        response: Response,
    ) -> schemas.DefinitionOut:
        """A new version of the live definition `defId`: its content with these changes."""
        current = await _get(conn, def_id, sc)
        changes = body.changes()
        try:
            schemas.validate_schedule(
                changes.get("cron_spec", current["cron_spec"]),
                changes.get("timezone", current["timezone"]),
            )
        except ValueError as exc:
            raise errors.Invalid(str(exc)) from None
        row, created = await definitions_repo.new_version(conn, str(def_id), changes)
        if not created:
            response.status_code = status.HTTP_200_OK
        return to_out(row)

    @r.delete("/definitions/{defId}")
    async def delete_definition(
        def_id: deps.DefId,
        conn: deps.Conn,
        sc: Scope,
    ) -> schemas.DefinitionOut:
        """Retire the definition (soft delete): its jobs keep running, cron firing stops."""
        await _get(conn, def_id, sc)
        return to_out(await definitions_repo.delete(conn, str(def_id)))

    r.include_router(_actions(scope))
    return r


def _actions(scope: deps.ScopeDep) -> APIRouter:
    """Pause, resume, trigger and runs: what the scheduler and operators do with a definition."""
    r = APIRouter()
    Scope = Annotated[deps.Namespace | None, Depends(scope)]

    @r.post("/definitions/{defId}/pause")
    async def pause_definition(
        def_id: deps.DefId,
        conn: deps.Conn,
        sc: Scope,
    ) -> schemas.DefinitionOut:
        """Stop cron firing for this definition until resumed."""
        await _get(conn, def_id, sc)
        return to_out(await definitions_repo.set_paused(conn, str(def_id), True))

    @r.post("/definitions/{defId}/resume")
    async def resume_definition(
        def_id: deps.DefId,
        conn: deps.Conn,
        sc: Scope,
    ) -> schemas.DefinitionOut:
        await _get(conn, def_id, sc)
        return to_out(await definitions_repo.set_paused(conn, str(def_id), False))

    @r.post("/definitions/{defId}/trigger", status_code=status.HTTP_201_CREATED)
    async def trigger_definition(
        def_id: deps.DefId,
        conn: deps.Conn,
        sc: Scope,
        body: schemas.TriggerIn | None = None,
    ) -> schemas.JobOut:
        """Run the definition once now, as a standalone job (no DAG)."""
        row = await _get(conn, def_id, sc)
        if row["deleted"]:
            raise errors.Conflict(f"definition {def_id} is deleted; it cannot be triggered")
        extra = body or schemas.TriggerIn()
        ids = await jobs_repo.insert_jobs(
            conn,
            [
                jobs_repo.NewJob(
                    def_id=str(def_id),
                    payload=extra.payload,
                    priority=extra.priority,
                    due_at=extra.due_at,
                    max_attempts=extra.max_attempts,
                )
            ],
        )
        assert ids[0] is not None
        return schemas.JobOut.model_validate(await jobs_repo.get_job(conn, ids[0]))

    @r.get("/definitions/{defId}/runs")
    async def definition_runs(
        def_id: deps.DefId,
        conn: deps.Conn,
        sc: Scope,
        limit: deps.Limit = 100,
        cursor: deps.Cursor = None,
        status_: deps.JobStatusQuery = None,
    ) -> schemas.Page[schemas.JobOut]:
        """Jobs made from this definition version (cron runs included), newest first."""
        await _get(conn, def_id, sc)
        last = deps.cursor_values(cursor, int)
        before = last[0] if last else None
        rows = await jobs_repo.list_jobs(
            conn, def_id=str(def_id), status=status_, before_id=before, limit=limit
        )
        return job_routes.page(rows, limit)

    @r.get("/definitions/{defId}/events")
    async def definition_events(
        def_id: deps.DefId,
        conn: deps.Conn,
        sc: Scope,
        limit: deps.Limit = 100,
        cursor: deps.Cursor = None,
    ) -> schemas.Page[schemas.SchedulerEventOut]:
        """What the scheduler decided about this definition's ticks (skipped or caught-up
        ticks, pauses), for every version of it, newest first."""
        await _get(conn, def_id, sc)
        last = deps.cursor_values(cursor, int)
        rows = await scheduler_repo.list_events(
            conn, str(def_id), before_id=last[0] if last else None, limit=limit
        )
        items = [schemas.SchedulerEventOut.model_validate(x) for x in rows]
        return schemas.Page(items=items, next_cursor=deps.next_cursor(rows, limit, "id"))

    return r
