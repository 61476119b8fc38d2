"""The `chronosched jobs` client commands against a real `chronosched server` process: edit,
cancel and retry a job, and how a refusal or bad input reads."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.api_support import serve


@pytest.fixture
def server(db_url: str) -> Iterator[str]:
    with serve(db_url) as base:
        yield base


def cli(server: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chronosched", "jobs", *args, "--api", server],
        capture_output=True,
        text=True,
        timeout=60,
    )


def queued_job(server: str) -> dict[str, Any]:
    with httpx.Client(base_url=f"{server}/api/v1", timeout=10) as api:
        d = api.post(
            "/definitions",
            json={"name": "cli-edit", "kind": "cmd", "payloadTemplate": {"cmd": "true"}},
        ).json()
        job: dict[str, Any] = api.post(
            f"/definitions/{d['id']}/trigger", json={"dueAt": "2100-01-01T00:00:00Z"}
        ).json()
    return job


def test_cli_jobs__edit_cancel_retry(server: str) -> None:
    job = queued_job(server)
    jid = str(job["id"])
    edited = cli(
        server,
        *("edit", jid, "--priority", "4", "--payload", '{"cmd": "echo edited"}'),
        *("--version", "1", "--json"),
    )
    assert edited.returncode == 0, edited.stdout + edited.stderr
    body = json.loads(edited.stdout)
    assert (body["version"], body["priority"], body["payload"]) == (
        2,
        4,
        {"cmd": "echo edited"},
    )
    stale = cli(server, "edit", jid, "--priority", "5", "--version", "1")
    assert stale.returncode == 1
    assert "409" in stale.stdout and "version 2, not 1" in stale.stdout

    not_json = cli(server, "edit", jid, "--payload", "{nope")
    assert not_json.returncode == 2
    assert "--payload is not JSON" in not_json.stdout

    cancelled = cli(server, "cancel", jid)
    assert cancelled.returncode == 0, cancelled.stdout + cancelled.stderr
    refused = cli(server, "edit", jid, "--priority", "1")
    assert refused.returncode == 1 and "cancelled" in refused.stdout
    retried = cli(server, "retry", jid)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    shown = json.loads(cli(server, "show", jid, "--json").stdout)
    assert (shown["status"], shown["version"], shown["priority"]) == ("queued", 2, 4)
