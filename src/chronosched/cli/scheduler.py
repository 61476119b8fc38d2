"""`chronosched scheduler`: the cron scheduler (run as many replicas as you like).

The scheduler is imported when the command runs, not when the CLI loads (see `cli.main`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import typer

from chronosched.cli.main import DatabaseUrlOption, MetricsPortOption, app, setup_logging
from chronosched.db import database


@app.command("scheduler")
def scheduler_cmd(
    database_url: str | None = DatabaseUrlOption,
    misfire_grace: float = typer.Option(
        5.0,
        "--misfire-grace",
        envvar="CHRONOSCHED_SCHEDULER_MISFIRE_GRACE",
        help="Seconds after which a tick counts as missed (then `catchup` decides).",
    ),
    max_sleep: float = typer.Option(
        2.0,
        "--max-sleep",
        envvar="CHRONOSCHED_SCHEDULER_MAX_SLEEP",
        help="Longest sleep between rounds (LISTEN and the next tick wake sooner).",
    ),
    reap_interval: float = typer.Option(
        5.0,
        "--reap-interval",
        envvar="CHRONOSCHED_SCHEDULER_REAP_INTERVAL",
        help="Seconds between runs of the expired-lease reaper.",
    ),
    log_level: str = typer.Option("info", "--log-level", envvar="CHRONOSCHED_LOG_LEVEL"),
    metrics_port: int | None = MetricsPortOption,
) -> None:
    """Fire cron ticks as jobs and reap expired leases, until SIGTERM/SIGINT."""
    from chronosched import metrics
    from chronosched.config import Settings
    from chronosched.scheduler.runner import serve
    from chronosched.scheduler.service import SchedulerSettings

    setup_logging(log_level)
    if metrics_port:
        metrics.serve(metrics_port)
    if not 0 < max_sleep < misfire_grace:
        raise typer.BadParameter("--max-sleep must be positive and below --misfire-grace")
    if reap_interval <= 0:
        raise typer.BadParameter("--reap-interval must be positive")
    settings = SchedulerSettings(
        grace=timedelta(seconds=misfire_grace), max_sleep=max_sleep, reap_interval=reap_interval
    )
    base = Settings()
    with database.database_url(database_url or base.database_url, base.data_dir) as url:
        asyncio.run(serve(url, settings, base.statement_timeout_ms))
