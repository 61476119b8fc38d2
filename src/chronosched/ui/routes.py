"""The web UI: server-rendered page shells under `/ui`, whose scripts call the JSON API.

Pages carry no data of their own: the browser fetches `/api/v1/...` (the same endpoints, auth
and errors as every other client) and polls it for live updates. The only UI-specific data are
two small read-only endpoints under `/ui/data/` for what the API does not offer: the job counts
by state (the same cached query as `/metrics`) and the next fire times of cron definitions
(computed with `chronosched.cron` on the database's clock). When tokens are configured the
login form stores the token in an HttpOnly, SameSite=Strict cookie, which the API also accepts.
"""

from __future__ import annotations

import urllib.parse
import uuid
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from chronosched import __version__, cron, metrics
from chronosched.api import auth
from chronosched.db import metrics_repo, tokens_repo
from chronosched.db.pool import Pool

UI_PREFIX = "/ui"
NEXT_FIRES = 5  # the definitions page shows the next 5 fire times of each cron definition
COOKIE_MAX_AGE = 30 * 24 * 3600  # seconds; a revoked token stops working at once anyway

_HERE = Path(str(resources.files("chronosched.ui")))
templates = Jinja2Templates(directory=_HERE / "templates")
router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)

# page name -> (template, title); the nav shows them in this order
PAGES = {
    "overview": ("overview.html", "Overview"),
    "dags": ("dags.html", "DAGs"),
    "definitions": ("definitions.html", "Definitions"),
    "jobs": ("jobs.html", "Jobs"),
    "workers": ("workers.html", "Workers"),
}


async def _auth_required(request: Request) -> bool:
    """True when tokens exist and the request carries no live one (cookie or bearer)."""
    live = await request.app.state.tokens.hashes()
    if not live:
        return False
    token = auth.presented_token(request, None)
    return token is None or tokens_repo.hash_token(token) not in live


async def _page(request: Request, page: str, **context: Any) -> Response:
    """Render a page shell, or send the browser to the login form first."""
    if await _auth_required(request):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = urllib.parse.quote(here)
        return RedirectResponse(f"{UI_PREFIX}/login?next={target}", status_code=303)
    template, title = PAGES.get(page, (f"{page}.html", page.title()))
    namespace = request.query_params.get("namespace") or "default"
    return templates.TemplateResponse(
        request,
        template,
        {
            "page": page,
            "title": title,
            "pages": PAGES,
            "namespace": namespace,
            "version": __version__,
            "auth_on": bool(await request.app.state.tokens.hashes()),
            **context,
        },
    )


@router.get("")
async def overview(request: Request) -> Response:
    return await _page(request, "overview")


@router.get("/dags")
async def dags(request: Request) -> Response:
    return await _page(request, "dags")


@router.get("/dags/{dag_id}")
async def dag(request: Request, dag_id: uuid.UUID) -> Response:
    return await _page(request, "dag", dag_id=str(dag_id))


@router.get("/definitions")
async def definitions(request: Request) -> Response:
    return await _page(request, "definitions")


@router.get("/jobs")
async def jobs(request: Request) -> Response:
    return await _page(request, "jobs")


@router.get("/jobs/{job_id}")
async def job(request: Request, job_id: int) -> Response:
    return await _page(request, "job", job_id=job_id)


@router.get("/workers")
async def workers(request: Request) -> Response:
    return await _page(request, "workers")


# ---------------------------------------------------------------- login


def _safe_next(value: str | None) -> str:
    """Only a path inside the UI: never an open redirect to another site."""
    if value and value.startswith(UI_PREFIX) and not value.startswith("//"):
        return value
    return UI_PREFIX


def _login_page(request: Request, target: str, error: str | None = None) -> Response:
    context = {
        "page": "login",
        "title": "Log in",
        "pages": {},
        "namespace": "default",
        "version": __version__,
        "auth_on": False,
        "next": target,
        "error": error,
    }
    status = 401 if error else 200
    return templates.TemplateResponse(request, "login.html", context, status_code=status)


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request, _safe_next(request.query_params.get("next")))


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the token, then keep it in an HttpOnly cookie (JS never sees it)."""
    form = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _safe_next((form.get("next") or [""])[0])
    live = await request.app.state.tokens.hashes()
    if live and tokens_repo.hash_token(token) not in live:
        return _login_page(request, target, "That token is unknown or revoked.")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.COOKIE_NAME,
        token,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse(f"{UI_PREFIX}/login", status_code=303)
    response.delete_cookie(auth.COOKIE_NAME, path="/")
    return response


# ---------------------------------------------------------------- UI data the API lacks

data = APIRouter(
    prefix=f"{UI_PREFIX}/data", include_in_schema=False, dependencies=[Depends(auth.require_token)]
)


@data.get("/summary")
async def summary(request: Request) -> dict[str, Any]:
    """Live jobs by state (and by state and kind), workers by liveness: the overview's tiles."""
    snap = await metrics.snapshot_cache(request.app).get()
    by_status = dict.fromkeys(metrics.STATUSES, 0)
    by_kind: dict[str, dict[str, int]] = {}
    for (status, kind), n in snap.jobs.items():
        by_status[status] = by_status.get(status, 0) + n
        by_kind.setdefault(kind, {})[status] = n
    return {
        "byStatus": by_status,
        "byKind": by_kind,
        "workers": {"alive": snap.workers_alive, "silent": snap.workers_silent},
    }


class CronItem(BaseModel):
    id: str = Field(max_length=100)
    cron_spec: str = Field(alias="cronSpec", max_length=200)
    timezone: str = Field("UTC", max_length=100)


class NextFiresIn(BaseModel):
    items: list[CronItem] = Field(max_length=1000)


@data.post("/next-fires")
async def next_fires(request: Request, body: NextFiresIn) -> dict[str, Any]:
    """The next fire times of each cron spec, after the database's now (ISO 8601, UTC)."""
    pool: Pool = request.app.state.pool
    async with pool.connection(timeout=5) as conn:
        now: datetime = await metrics_repo.database_now(conn)
    out: dict[str, list[str] | str] = {}
    for item in body.items:
        try:
            times = cron.next_fire_times(item.cron_spec, now, NEXT_FIRES, timezone=item.timezone)
        except (cron.CronSpecError, ValueError) as exc:
            out[item.id] = f"invalid: {exc}"
            continue
        out[item.id] = [t.isoformat() for t in times]
    return {"now": now.isoformat(), "fires": out}


def install(app: FastAPI) -> None:
    """Mount the UI pages, its data endpoints, its static files, and `/` -> `/ui`."""
    app.include_router(router)
    app.include_router(data)
    app.mount(f"{UI_PREFIX}/static", StaticFiles(directory=_HERE / "static"), name="ui-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(UI_PREFIX, status_code=307)
