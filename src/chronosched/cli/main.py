"""The `chronosched` command: one Typer app; each service registers its own sub-command.

Start-up time matters (workers are started in numbers, next to the work they compete with for
CPU), so the modules here import only typer and light helpers at the top. What one command alone
needs (rich, pydantic-settings, psycopg, httpx, FastAPI, the services) is imported inside that
command; `tests/unit/test_cli_imports.py` guards this.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import TYPE_CHECKING

import typer

from chronosched import logs
from chronosched.db import database

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="Chronosched: a distributed job scheduler on PostgreSQL.", no_args_is_help=True
)

DatabaseUrlOption = typer.Option(
    None,
    "--database-url",
    envvar=["DATABASE_URL", "CHRONOSCHED_DATABASE_URL"],
    help="PostgreSQL URL; without it the embedded PostgreSQL 18 in --data-dir is used.",
)


@functools.cache
def console() -> Console:
    """The console every command prints to (made on first use)."""
    from rich.console import Console

    return Console()


@app.callback()
def main(
    log_format: str = typer.Option(
        "text",
        "--log-format",
        envvar="CHRONOSCHED_LOG_FORMAT",
        help="Log lines as readable 'text' or as 'json' objects (one per line).",
    ),
) -> None:
    """Chronosched: a distributed job scheduler on PostgreSQL."""
    if log_format.lower() not in logs.FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(logs.FORMATS)}", param_hint="--log-format")
    # Exported so that `up` passes the choice on to the processes it starts.
    os.environ["CHRONOSCHED_LOG_FORMAT"] = log_format.lower()


MetricsPortOption = typer.Option(
    None,
    "--metrics-port",
    envvar="CHRONOSCHED_METRICS_PORT",
    help="Serve this process's Prometheus metrics on this port.",
)


def setup_logging(level: str = "info") -> None:
    """Every command's logging (format from --log-format / CHRONOSCHED_LOG_FORMAT)."""
    logs.setup(level)


def open_database(database_url: str | None) -> contextlib.AbstractContextManager[str]:
    """`--database-url` (or its environment twins) as given; else the URL in the settings, else
    the embedded PostgreSQL in the settings' data folder (started, and stopped on exit).

    `Settings` (pydantic-settings) is only loaded when no URL was given.
    """
    if database_url:
        return contextlib.nullcontext(database_url)
    from chronosched.config import Settings

    settings = Settings()
    return database.database_url(settings.database_url, settings.data_dir)


@app.command("migrate")
def migrate_cmd(
    database_url: str | None = DatabaseUrlOption,
    show_status: bool = typer.Option(
        False, "--status", help="Only list applied and pending migrations."
    ),
) -> None:
    """Apply pending database migrations (safe to run concurrently)."""
    from rich.table import Table

    from chronosched.db import migrate

    with open_database(database_url) as url:
        if show_status:
            table = Table("version", "name", "applied at")
            for st in migrate.status(url):
                table.add_row(f"{st.version:04d}", st.name, st.applied_at or "[yellow]pending[/]")
            console().print(table)
            return
        applied = migrate.apply(url)
        if applied:
            for m in applied:
                console().print(f"applied {m.version:04d}_{m.name}")
        else:
            console().print("database is up to date")


# Sub-commands register themselves on `app` when imported (hence the late, unused imports).
from chronosched.cli import client as _client  # noqa: E402,F401
from chronosched.cli import scheduler as _scheduler  # noqa: E402,F401
from chronosched.cli import server as _server  # noqa: E402,F401
from chronosched.cli import up as _up  # noqa: E402,F401
from chronosched.cli import worker as _worker  # noqa: E402,F401
