"""`chronosched up` on a fresh data directory (embedded PostgreSQL 18), the spec's demo against
it, the CLI client commands, a clean stop that leaves no process behind, and a restart that
finds the earlier objects."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "chronosched"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "DATABASE_URL" not in k}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Up:
    """A running `chronosched up` and what it started."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [*CLI, "up", "--port", str(port), "--data-dir", str(data_dir), "--workers", "1"],
            env=_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail(f"chronosched up did not become healthy:\n{log.read_text()}")
        self.children = psutil.Process(self.proc.pid).children(recursive=True)

    def stop(self) -> float:
        """SIGTERM and wait; returns how long the stop took."""
        begin = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self._log.close()
        return time.monotonic() - begin


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_up__demo_cli_clean_stop_and_restart(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "up.log"
    up = Up(data_dir, _free_port(), log)
    try:
        begin = time.monotonic()
        demo = subprocess.run(
            [sys.executable, str(ROOT / "demo_client.py")],
            env={**_env(), "CHRONOSCHED_BASE": up.base},
            capture_output=True,
            text=True,
            timeout=90,
        )
        took = time.monotonic() - begin
        assert demo.returncode == 0, demo.stdout + demo.stderr
        out = demo.stdout
        for line in (
            "POST /definitions (Root, Child5s, Leaf, Every5s, Every10s) -> 201",
            "Creating DAG ",
            "Marking Root complete",
            "Marking Child5s complete",
            "Watching cron jobs fire",
        ):
            assert line in out, out
        # Leaf is ready once both parents are complete (a worker may already have run it).
        assert any(f"Querying job Leaf -> {s}" in out for s in ("ready", "running", "succeeded")), (
            out
        )
        assert out.count("CRON_5S at ") >= 2, out
        assert out.count("CRON_10S at ") >= 1, out
        assert 15 < took < 45, took

        # The CLI client against the same server.
        cli_env = {**_env(), "CHRONOSCHED_API": up.base}
        listed = subprocess.run(
            [*CLI, "jobs", "list", "--json", "--limit", "100"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.returncode == 0, listed.stderr
        jobs = json.loads(listed.stdout)
        names = {j["name"] for j in jobs}
        assert {"Root", "Child5s", "Leaf", "Every5s"} <= names
        workers = subprocess.run(
            [*CLI, "workers", "--json"], env=cli_env, capture_output=True, text=True, timeout=30
        )
        assert workers.returncode == 0, workers.stderr
        assert any(w["alive"] for w in json.loads(workers.stdout))
        missing = subprocess.run(
            [*CLI, "jobs", "show", "999999"], env=cli_env, capture_output=True, text=True
        )
        assert missing.returncode == 1
        assert "404" in missing.stdout
    finally:
        stop_secs = up.stop()

    assert up.proc.returncode == 0, log.read_text()
    assert stop_secs < 20
    survivors = [p.pid for p in up.children if p.is_running() and p.status() != "zombie"]
    assert survivors == []
    assert not (data_dir / "pgdata" / "postmaster.pid").exists(), "embedded PostgreSQL still up"

    # Restart on the same data directory: the earlier objects are still there.
    again = Up(data_dir, _free_port(), log)
    try:
        namespaces = httpx.get(f"{again.base}/api/v1/namespaces", timeout=10).json()
        names = [n["name"] for n in namespaces["items"]]
        assert any(n.startswith("demo-") for n in names), names
    finally:
        again.stop()
    assert again.proc.returncode == 0
