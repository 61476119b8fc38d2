"""Every error becomes an RFC 9457 `application/problem+json` response, mapped here only.

Domain errors (`chronosched.errors`) carry their own status; request validation is 422 (400 when
the JSON itself is malformed); database errors caused by client input are translated by
SQLSTATE so no client input can produce a 500.
"""

from __future__ import annotations

import http
import logging
from typing import Any

import psycopg
import psycopg_pool
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chronosched import errors
from chronosched.api.schemas import Problem

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

# SQLSTATE (or class prefix) -> (status, title). Constraint and data errors come from values the
# API let through; they mean "bad input", never "server broken".
_SQLSTATES: dict[str, tuple[int, str]] = {
    "23505": (409, "Conflict"),  # unique_violation
    "23503": (422, "Invalid reference"),  # foreign_key_violation
    "23514": (422, "Invalid value"),  # check_violation
    "23502": (422, "Invalid value"),  # not_null_violation
    "23P01": (409, "Conflict"),  # exclusion_violation
    "55000": (409, "Conflict"),  # object_not_in_prerequisite_state
    "40001": (409, "Concurrent change, retry"),  # serialization_failure
    "40P01": (409, "Concurrent change, retry"),  # deadlock_detected
    "57014": (503, "Database timeout"),  # query_canceled (statement timeout)
    "22": (422, "Invalid value"),  # data exceptions: out of range, bad text, NUL in JSON…
    "08": (503, "Database unavailable"),  # connection exceptions
    "57P": (503, "Database unavailable"),  # admin/crash shutdown
}


def problem(status: int, detail: str, *, title: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ChronoschedError)
    return problem(
        exc.status,
        exc.detail,
        title=exc.title,
        index=exc.index,
        cycle=getattr(exc, "cycle", None),
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p != "body" or len(loc) == 1]
    return ".".join(parts) or "body"


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errs):
        first = next(e for e in errs if e.get("type") == "json_invalid")
        reason = (first.get("ctx") or {}).get("error", "malformed JSON")
        return problem(400, f"the request body is not valid JSON: {reason}", title="Bad Request")
    first = errs[0] if errs else {"loc": ("body",), "msg": "invalid request"}
    loc = list(first.get("loc", ()))
    index = next((p for p in loc[1:2] if isinstance(p, int)), None) if loc[:1] == ["body"] else None
    cleaned = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
        for e in errs[:20]
    ]
    return problem(
        422,
        f"{_location(loc)}: {first.get('msg')}",
        title="Invalid request",
        index=index,
        errors=cleaned,
    )


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def translate(exc: psycopg.Error) -> tuple[int, str] | None:
    """(status, title) for a database error caused by the request, else None."""
    state = exc.sqlstate or ""
    for prefix in (state, state[:3], state[:2]):
        if prefix in _SQLSTATES:
            return _SQLSTATES[prefix]
    if isinstance(exc, psycopg.DataError):  # raised client-side, e.g. NUL in a text value
        return 422, "Invalid value"
    if isinstance(exc, psycopg.OperationalError):
        return 503, "Database unavailable"
    return None


def _database(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, psycopg.Error)
    mapped = translate(exc)
    if mapped is None:
        log.exception("unexpected database error", exc_info=exc)
        return problem(500, "unexpected database error")
    status, title = mapped
    detail = (exc.diag.message_primary if exc.diag else None) or str(exc).splitlines()[0]
    if status == 503:
        log.warning("database unavailable: %s", detail)
    return problem(status, detail, title=title)


def _pool(_: Request, exc: Exception) -> JSONResponse:
    log.warning("no database connection: %s", exc)
    return problem(503, "the database is unavailable", title="Database unavailable")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ChronoschedError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(psycopg.Error, _database)
    app.add_exception_handler(psycopg_pool.PoolTimeout, _pool)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "description": http.HTTPStatus(status).phrase,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for status in (400, 401, 404, 409, 413, 422, 503)
}
