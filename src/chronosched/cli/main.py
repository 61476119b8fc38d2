"""The `chronosched` command: one Typer app; each service registers its own sub-command."""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.table import Table

from chronosched import logs
from chronosched.config import Settings
from chronosched.db import database, migrate

app = typer.Typer(
    help="Chronosched: a distributed job scheduler on PostgreSQL.", no_args_is_help=True
)
console = Console()

DatabaseUrlOption = typer.Option(
    None,
    "--database-url",
    envvar=["DATABASE_URL", "CHRONOSCHED_DATABASE_URL"],
    help="PostgreSQL URL; without it the embedded PostgreSQL 18 in --data-dir is used.",
)


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


@app.command("migrate")
def migrate_cmd(
    database_url: str | None = DatabaseUrlOption,
    show_status: bool = typer.Option(
        False, "--status", help="Only list applied and pending migrations."
    ),
) -> None:
    """Apply pending database migrations (safe to run concurrently)."""
    settings = Settings()
    with database.database_url(database_url or settings.database_url, settings.data_dir) as url:
        if show_status:
            table = Table("version", "name", "applied at")
            for st in migrate.status(url):
                table.add_row(f"{st.version:04d}", st.name, st.applied_at or "[yellow]pending[/]")
            console.print(table)
            return
        applied = migrate.apply(url)
        if applied:
            for m in applied:
                console.print(f"applied {m.version:04d}_{m.name}")
        else:
            console.print("database is up to date")


# Sub-commands register themselves on `app` when imported (hence the late, unused imports).
from chronosched.cli import client as _client  # noqa: E402,F401
from chronosched.cli import scheduler as _scheduler  # noqa: E402,F401
from chronosched.cli import server as _server  # noqa: E402,F401
from chronosched.cli import up as _up  # noqa: E402,F401
from chronosched.cli import worker as _worker  # noqa: E402,F401
