"""`chronosched server --workers 2`: several uvicorn processes serve one port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server__two_worker_processes_serve_and_stop(db_url: str, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chronosched", "server", "--port", str(port), "--workers", "2"],
            env={**os.environ, "DATABASE_URL": db_url},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            assert health.json() == {"status": "ok", "database": "ok"}
            for _ in range(10):
                listed = httpx.get(f"http://127.0.0.1:{port}/api/v1/namespaces", timeout=5)
                assert listed.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    text = log.read_text()
    assert text.count("Started server process") == 2, text  # one line per worker process
    assert proc.returncode == 0, text
