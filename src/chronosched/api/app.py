"""The FastAPI application: `create_app` wires routes, errors, auth and the connection pool.

`create_app(pool)` uses a pool the caller owns (tests); `create_app(settings)` or
`create_app("postgresql://…")` opens one in the lifespan and closes it at shutdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from psycopg_pool import AsyncConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chronosched import __version__ as version
from chronosched import metrics
from chronosched.api import auth, deps, problems
from chronosched.api.routes import admin, dags, definitions, dependencies, health, jobs, namespaces
from chronosched.api.settings import ApiSettings
from chronosched.db.pool import Pool, open_pool
from chronosched.ui import routes as ui_routes

API_PREFIX = "/api/v1"
# Hot routes first: FastAPI matches included routes in order (GET /jobs/{id} is the hottest).
_RESOURCES = (jobs, dags, dependencies, definitions)


class BodyLimit:
    """413 for bodies over the limit: by Content-Length up front, else while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await problems.problem(400, "invalid Content-Length header")(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than {self.max_bytes} bytes"
        await problems.problem(413, detail)(scope, receive, send)


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def create_app(
    source: ApiSettings | Pool | str | None = None, *, settings: ApiSettings | None = None
) -> FastAPI:
    """The API app; see the module docstring for what `source` may be."""
    if isinstance(source, ApiSettings):
        settings = source
    settings = settings or ApiSettings()
    given_pool = source if isinstance(source, AsyncConnectionPool) else None
    url = source if isinstance(source, str) else settings.database_url

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if given_pool is not None:
            yield
            return
        if url is None:
            raise RuntimeError("create_app needs a database URL (DATABASE_URL) or a pool")
        pool = await open_pool(
            url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            statement_timeout_ms=settings.statement_timeout_ms,
            name="chronosched-api",
        )
        _attach(app, pool)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="Chronosched",
        version=version,
        description="Distributed job scheduler: definitions, DAGs, jobs, dependencies.",
        lifespan=lifespan,
        responses={
            k: v for k, v in problems.PROBLEM_RESPONSES.items() if k in (400, 401, 413, 422, 503)
        },
    )
    if given_pool is not None:
        _attach(app, given_pool)
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(_api_router(), prefix=API_PREFIX, dependencies=[Depends(auth.require_token)])
    metrics.install(app)  # /metrics and the request-duration middleware (chronosched.metrics)
    ui_routes.install(app)  # the web UI under /ui, its static files, and / -> /ui
    return app


def app_from_env() -> FastAPI:
    """The app configured from the environment: the factory `chronosched server --workers N`
    hands to uvicorn, which imports it in each of its processes."""
    return create_app(ApiSettings())


def _attach(app: FastAPI, pool: Pool) -> None:
    app.state.pool = pool
    app.state.tokens = auth.TokenCache(pool)


def _api_router() -> APIRouter:
    errors_by_id: dict[int | str, dict[str, Any]] = {
        k: v for k, v in problems.PROBLEM_RESPONSES.items() if k in (404, 409)
    }
    api = APIRouter(responses=errors_by_id)
    api.include_router(namespaces.router)
    api.include_router(admin.router)
    for module in _RESOURCES:
        api.include_router(module.router(deps.query_namespace, deps.query_scope))
    for module in _RESOURCES:
        api.include_router(
            module.router(deps.path_namespace, deps.path_scope),
            prefix="/namespaces/{namespaceId}",
        )
    return api
