"""`chronosched worker`: one worker process (run as many as you like, on any host).

The worker itself is imported when the command runs, not when the CLI loads (see `cli.main`);
with `--database-url` (or DATABASE_URL) given, pydantic-settings is not loaded at all.
"""

from __future__ import annotations

import asyncio

import typer

from chronosched.cli.main import (
    DatabaseUrlOption,
    MetricsPortOption,
    app,
    open_database,
    setup_logging,
)
from chronosched.executors import EXECUTOR_KINDS


@app.command("worker")
def worker_cmd(
    database_url: str | None = DatabaseUrlOption,
    concurrency: int = typer.Option(
        32,
        "--concurrency",
        "-c",
        envvar="CHRONOSCHED_WORKER_CONCURRENCY",
        help="Jobs running at once.",
    ),
    kinds: str = typer.Option(
        ",".join(EXECUTOR_KINDS),
        "--kinds",
        envvar="CHRONOSCHED_WORKER_KINDS",
        help="Job kinds to run.",
    ),
    lease: float = typer.Option(
        30.0,
        "--lease",
        envvar="CHRONOSCHED_WORKER_LEASE",
        help="Lease seconds (heartbeat every lease/3).",
    ),
    batch: int = typer.Option(
        100, "--batch", envvar="CHRONOSCHED_WORKER_BATCH", help="Jobs per claim."
    ),
    poll: float = typer.Option(
        2.0,
        "--poll",
        envvar="CHRONOSCHED_WORKER_POLL",
        help="Fallback poll seconds (LISTEN wakes sooner).",
    ),
    grace: float = typer.Option(
        30.0,
        "--grace",
        envvar="CHRONOSCHED_WORKER_GRACE",
        help="Seconds running jobs get at shutdown.",
    ),
    app_modules: list[str] = typer.Option(
        [],
        "--app",
        envvar="CHRONOSCHED_WORKER_APP",
        help="Module defining @chronosched.task functions.",
    ),
    until_empty: bool = typer.Option(
        False, "--until-empty", help="Exit once nothing is due and nothing is running."
    ),
    worker_id: str | None = typer.Option(
        None, "--id", envvar="CHRONOSCHED_WORKER_ID", help="Worker id."
    ),
    db_timeout: float = typer.Option(
        10.0,
        "--db-timeout",
        envvar="CHRONOSCHED_WORKER_DB_TIMEOUT",
        help="Bound of each database call.",
    ),
    allow_link_local: bool = typer.Option(
        False,
        "--allow-link-local",
        envvar="CHRONOSCHED_WORKER_ALLOW_LINK_LOCAL",
        help="Let http jobs reach link-local/metadata addresses.",
    ),
    log_level: str = typer.Option("info", "--log-level", envvar="CHRONOSCHED_LOG_LEVEL"),
    metrics_port: int | None = MetricsPortOption,
) -> None:
    """Run a worker: claim due jobs, run them, report results, until SIGTERM/SIGINT."""
    from chronosched import metrics
    from chronosched.worker.runner import serve
    from chronosched.worker.settings import WorkerSettings

    setup_logging(log_level)
    if metrics_port:
        metrics.serve(metrics_port)
    fields: dict[str, object] = {
        "concurrency": concurrency,
        "kinds": kinds,
        "lease_seconds": lease,
        "batch": batch,
        "poll_seconds": poll,
        "grace_seconds": grace,
        "until_empty": until_empty,
        "db_timeout_seconds": db_timeout,
        "allow_link_local": allow_link_local,
    }
    if worker_id:
        fields["worker_id"] = worker_id
    try:
        settings = WorkerSettings.model_validate(fields)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with open_database(database_url) as url:
        asyncio.run(serve(url, settings, app_modules))
