"""Health (checks the database); open without a token. `/metrics` is `chronosched.metrics`."""

from __future__ import annotations

from fastapi import APIRouter

from chronosched.api import problems, schemas
from chronosched.api.deps import Conn
from chronosched.db import queries

router = APIRouter(tags=["health"])


async def _check(conn: Conn) -> schemas.Health:
    await conn.execute(queries.get("health_check"))
    return schemas.Health(status="ok", database="ok")


router.add_api_route(
    "/healthz",
    _check,
    methods=["GET"],
    summary="Health",
    description="200 when the database answers; 503 otherwise.",
    responses={503: problems.PROBLEM_RESPONSES[503]},
    operation_id="healthz",
)
router.add_api_route(
    "/api/v1/healthz",
    _check,
    methods=["GET"],
    summary="Health (API prefix)",
    responses={503: problems.PROBLEM_RESPONSES[503]},
    operation_id="healthz_v1",
)
