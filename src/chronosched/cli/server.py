"""`chronosched server` (the API under uvicorn) and `chronosched token …` (bearer tokens).

FastAPI, uvicorn, psycopg and the API settings are imported inside the commands, so that loading
the CLI for another command (a worker) does not pay for them (see `cli.main`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from chronosched import errors
from chronosched.cli.main import DatabaseUrlOption, app, console, setup_logging
from chronosched.db import database

if TYPE_CHECKING:
    from chronosched.db.pool import AsyncConn

T = TypeVar("T")

token_app = typer.Typer(help="Manage API bearer tokens (stored hashed).", no_args_is_help=True)
app.add_typer(token_app, name="token")


async def _live_token_count(url: str) -> int:
    from chronosched.db import tokens_repo
    from chronosched.db.pool import open_pool

    pool = await open_pool(url, min_size=1, max_size=1)
    try:
        async with pool.connection() as conn:
            return len(await tokens_repo.live_hashes(conn))
    finally:
        await pool.close()


def refuse_reason(host: str, tokens: int, allow_insecure: bool) -> str | None:
    """Why the server must not start on `host`, or None (DESIGN §6)."""
    from chronosched.api import auth

    if auth.is_loopback(host) or tokens > 0 or allow_insecure:
        return None
    return (
        f"refusing to serve the API on {host} without authentication: create a token first "
        "(`chronosched token create NAME`), bind 127.0.0.1, or set CHRONOSCHED_ALLOW_INSECURE=1 "
        "on a private network"
    )


@app.command("server")
def server(
    host: str = typer.Option("127.0.0.1", envvar="CHRONOSCHED_HOST", help="Bind address."),
    port: int = typer.Option(8080, envvar="CHRONOSCHED_PORT", help="Port."),
    database_url: str | None = DatabaseUrlOption,
    allow_insecure: bool = typer.Option(
        False,
        "--allow-insecure",
        envvar="CHRONOSCHED_ALLOW_INSECURE",
        help="Serve a non-loopback address with no token configured.",
    ),
    log_level: str = typer.Option("info", envvar="CHRONOSCHED_LOG_LEVEL"),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        envvar="CHRONOSCHED_API_WORKERS",
        help="Server processes sharing the port (one event loop each; use about one per core).",
    ),
) -> None:
    """Run the REST API (several may run behind a load balancer)."""
    import uvicorn

    from chronosched.api.app import create_app
    from chronosched.api.settings import ApiSettings
    from chronosched.db import migrate

    setup_logging(log_level)
    settings = ApiSettings()
    with database.database_url(database_url or settings.database_url, settings.data_dir) as url:
        migrate.apply(url)
        reason = refuse_reason(host, asyncio.run(_live_token_count(url)), allow_insecure)
        if reason:
            console().print(f"[red]{reason}[/]")
            sys.exit(2)
        settings = settings.model_copy(update={"database_url": url})
        console().print(f"Chronosched API on http://{host}:{port}/api/v1 (docs /docs)")
        if workers == 1:
            uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level.lower())
            return
        # Worker processes build their own app from the environment (uvicorn imports a factory).
        os.environ["DATABASE_URL"] = url
        uvicorn.run(
            "chronosched.api.app:app_from_env",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level.lower(),
        )


def _with_conn(database_url: str | None, action: Callable[[AsyncConn], Awaitable[T]]) -> T:
    """Run `action` on one connection to the configured database (migrated first)."""
    from chronosched.api.settings import ApiSettings
    from chronosched.db import migrate
    from chronosched.db.pool import open_pool

    settings = ApiSettings()

    async def run(url: str) -> T:
        pool = await open_pool(url, min_size=1, max_size=1)
        try:
            async with pool.connection() as conn:
                return await action(conn)
        finally:
            await pool.close()

    with database.database_url(database_url or settings.database_url, settings.data_dir) as url:
        migrate.apply(url)
        try:
            return asyncio.run(run(url))
        except errors.ChronoschedError as exc:
            console().print(f"[red]{exc.detail}[/]")
            raise typer.Exit(1) from None


@token_app.command("create")
def token_create(name: str, database_url: str | None = DatabaseUrlOption) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from chronosched.db import tokens_repo

    async def create(conn: AsyncConn) -> str:
        token, _ = await tokens_repo.create(conn, name)
        return token

    token = _with_conn(database_url, create)
    console().print("Token created; it is shown only now. Use it as `Authorization: Bearer …`:")
    print(token)


@token_app.command("list")
def token_list(database_url: str | None = DatabaseUrlOption) -> None:
    """List tokens (names and dates, never the tokens)."""
    from rich.table import Table

    from chronosched.db import tokens_repo

    rows = _with_conn(database_url, tokens_repo.list_tokens)
    table = Table("name", "created", "revoked")
    for row in rows:
        table.add_row(str(row["name"]), str(row["created_at"]), str(row["revoked_at"] or ""))
    console().print(table)


@token_app.command("revoke")
def token_revoke(name: str, database_url: str | None = DatabaseUrlOption) -> None:
    """Revoke a token (takes effect within a second on every API server)."""
    from chronosched.db import tokens_repo

    async def revoke(conn: AsyncConn) -> None:
        await tokens_repo.revoke(conn, name)

    _with_conn(database_url, revoke)
    console().print(f"revoked {name}")
