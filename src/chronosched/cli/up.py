"""`chronosched up`: the whole system in one command, for a laptop or a demo.

Starts the embedded PostgreSQL 18 (unless DATABASE_URL is set), applies migrations, then runs the
API, the scheduler and N workers as child processes of their own `chronosched` commands, so each
behaves exactly as it does when deployed separately. Ctrl-C or SIGTERM stops them all (workers
get their graceful shutdown) and then the database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from chronosched.cli.main import DatabaseUrlOption, app, console
from chronosched.db import database

STOP_GRACE_SECONDS = 10.0


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "chronosched", *args], env=env)


def _stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child, wait up to the grace period, then SIGKILL what is left."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        if child.poll() is None:
            child.kill()
            child.wait()


@app.command("up")
def up(
    host: str = typer.Option("127.0.0.1", envvar="CHRONOSCHED_HOST", help="API bind address."),
    port: int = typer.Option(8080, envvar="CHRONOSCHED_PORT", help="API port."),
    data_dir: Path | None = typer.Option(
        None, envvar="CHRONOSCHED_DATA_DIR", help="Where the embedded PostgreSQL keeps its data."
    ),
    workers: int = typer.Option(1, "--workers", min=0, help="Worker processes to start."),
    database_url: str | None = DatabaseUrlOption,
) -> None:
    """Start everything: database, migrations, API, scheduler and workers."""
    # Imported here, not at the top, like every command's own needs (see `cli.main`).
    from chronosched.config import Settings
    from chronosched.db import migrate

    settings = Settings()
    folder = data_dir or settings.data_dir
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    with database.database_url(database_url or settings.database_url, folder) as url:
        migrate.apply(url)
        env = {**os.environ, "DATABASE_URL": url}
        children = [
            _spawn(["server", "--host", host, "--port", str(port)], env),
            _spawn(["scheduler"], env),
            *(_spawn(["worker"], env) for _ in range(workers)),
        ]
        console().print(
            f"[bold green]Chronosched is up[/]: API http://{host}:{port}/api/v1 "
            f"(docs http://{host}:{port}/docs)"
        )
        console().print(f"database: {url}")
        console().print("press Ctrl-C to stop")
        try:
            while not stopping:
                if any(child.poll() is not None for child in children):
                    console().print("[red]a component exited; stopping everything[/]")
                    break
                time.sleep(0.2)
        finally:
            console().print("stopping…")
            _stop_all(children)
    console().print("stopped")
