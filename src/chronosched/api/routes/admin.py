"""Operations: prune into history, scheduler reload, workers."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, status

from chronosched.api import schemas
from chronosched.api.deps import Conn, Limit
from chronosched.db import definitions_repo, prune_repo, queue_repo

router = APIRouter(tags=["admin"])


@router.post("/admin/prune")
async def prune(conn: Conn, body: schemas.PruneIn | None = None) -> schemas.PruneOut:
    """Move finished jobs older than `olderThan` (default 0) with their edges and logs, then
    retired definitions and DAGs nothing references, into the history tables. A job with edges
    stays until every job of its DAG finished before the cutoff. Idempotent."""
    counts = await prune_repo.prune(conn, (body or schemas.PruneIn()).interval())
    return schemas.PruneOut.model_validate(dataclasses.asdict(counts))


async def reload_scheduler(conn: Conn) -> schemas.Message:
    """Ask every scheduler replica to reload all cron definitions now."""
    await definitions_repo.notify_reload(conn)
    return schemas.Message(status="accepted", detail="schedulers will reload their definitions")


for _method in ("GET", "POST"):
    router.add_api_route(
        "/scheduler/reload",
        reload_scheduler,
        methods=[_method],
        status_code=status.HTTP_202_ACCEPTED,
        operation_id=f"reload_scheduler_{_method.lower()}",
    )


@router.get("/workers")
async def list_workers(conn: Conn, limit: Limit = 200) -> list[schemas.WorkerOut]:
    """Registered workers, newest first (`alive`: heartbeat within the last minute)."""
    return [
        schemas.WorkerOut.model_validate(row)
        for row in await queue_repo.list_workers(conn, limit=limit)
    ]
