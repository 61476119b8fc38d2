#!/usr/bin/env python3
"""The spec's demo, against a running Chronosched server (about 25 seconds).

1. define Root, Child5s (5 s delay), Leaf, and two cron definitions (@every 5s / @every 10s);
2. create a DAG with Root -> Child5s -> Leaf;
3. mark the parents complete through the API and show Leaf becoming ready;
4. watch the cron definitions fire for ~15 s.

Uses only the standard library. Objects live in a namespace of their own (`demo-<random>`), and
the cron definitions are deleted at the end, so the demo can run any number of times against one
server, with or without a worker running (a worker may already have run a job the demo then
marks complete: completing a succeeded job again is accepted).

    CHRONOSCHED_BASE=http://localhost:8080 python demo_client.py
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

BASE = os.environ.get("CHRONOSCHED_BASE", "http://localhost:8080").rstrip("/")
TOKEN = os.environ.get("CHRONOSCHED_TOKEN")
WATCH_SECONDS = float(os.environ.get("CHRONOSCHED_DEMO_WATCH", "15"))


def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One JSON request; returns (status, decoded body). Exits with a message on errors."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{BASE}/api/v1{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if TOKEN:
        request.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")
        sys.exit(f"{method} {path} -> {err.code}: {detail}")
    except urllib.error.URLError as err:
        sys.exit(f"cannot reach Chronosched at {BASE}: {err.reason} (is `make up` running?)")


def clock(value: str | None) -> str:
    """HH:MM:SS of an ISO timestamp (in local time), or '-'."""
    if not value:
        return "-"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")


def main() -> None:
    started = time.monotonic()
    namespace = f"demo-{secrets.token_hex(3)}"
    _, ns = call("POST", "/namespaces", {"name": namespace, "description": "demo_client.py"})
    prefix = f"/namespaces/{ns['id']}"

    definitions = [
        {"name": "Root", "kind": "cmd", "payloadTemplate": {"cmd": "echo Root"}},
        {
            "name": "Child5s",
            "kind": "cmd",
            "payloadTemplate": {"cmd": "echo Child5s"},
            "delayInterval": "5s",
        },
        {"name": "Leaf", "kind": "cmd", "payloadTemplate": {"cmd": "echo Leaf"}},
        {
            "name": "Every5s",
            "kind": "cmd",
            "payloadTemplate": {"cmd": "echo CRON_5S"},
            "cronSpec": "@every 5s",
        },
        {
            "name": "Every10s",
            "kind": "cmd",
            "payloadTemplate": {"cmd": "echo CRON_10S"},
            "cronSpec": "@every 10s",
        },
    ]
    status, created = call("POST", f"{prefix}/definitions/bulk", definitions)
    defs = {d["name"]: d for d in created}
    print(f"POST /definitions ({', '.join(defs)}) -> {status}")

    status, dag = call(
        "POST",
        f"{prefix}/dags",
        {
            "name": "demo",
            "jobs": [{"key": k, "defId": defs[k]["defId"]} for k in ("Root", "Child5s", "Leaf")],
            "dependencies": [
                {"parent": "Root", "child": "Child5s"},
                {"parent": "Child5s", "child": "Leaf"},
            ],
        },
    )
    jobs: dict[str, int] = dag["jobIds"]
    print(f"Creating DAG {dag['id'][:4]}... -> {status}")
    print("Dependencies: Root -> Child5s -> Leaf")
    for name in ("Root", "Child5s", "Leaf"):
        _, job = call("GET", f"/jobs/{jobs[name]}")
        print(f"  {name:<8} job {job['id']:<6} {job['status']}")

    print("Marking Root complete")
    call("POST", f"{prefix}/jobs/{jobs['Root']}/complete", {"result": {"demo": "root"}})
    _, child = call("GET", f"/jobs/{jobs['Child5s']}")
    print(f"  Child5s -> {child['status']} (due {clock(child['dueAt'])}: 5 s after Root)")
    due = datetime.fromisoformat(child["dueAt"].replace("Z", "+00:00"))
    wait = (due - datetime.now(due.tzinfo)).total_seconds()
    if wait > 0:
        print(f"  waiting {wait:.0f} s for Child5s's delay...")
        time.sleep(wait)
    print("Marking Child5s complete")
    call("POST", f"{prefix}/jobs/{jobs['Child5s']}/complete", {"result": {"demo": "child"}})
    _, leaf = call("GET", f"/jobs/{jobs['Leaf']}")
    state = "ready" if leaf["status"] == "queued" else leaf["status"]
    print(f"Querying job Leaf -> {state}")

    print(f"Watching cron jobs fire for ~{WATCH_SECONDS:.0f} seconds...")
    labels = {defs["Every5s"]["defId"]: "CRON_5S", defs["Every10s"]["defId"]: "CRON_10S"}
    seen: set[int] = set()
    deadline = time.monotonic() + WATCH_SECONDS
    while time.monotonic() < deadline:
        runs = []
        for def_id in labels:
            _, page = call("GET", f"/jobs?defId={def_id}&limit=50")
            runs += page["items"]
        for run in sorted(runs, key=lambda r: r["scheduledFor"] or ""):
            if run["id"] not in seen:
                seen.add(run["id"])
                print(f"{labels[run['defId']]} at {clock(run['scheduledFor'])}")
        time.sleep(0.25)

    for name in ("Every5s", "Every10s"):
        call("DELETE", f"{prefix}/definitions/{defs[name]['defId']}")
    print(f"Done in {time.monotonic() - started:.0f} s (namespace {namespace}).")


if __name__ == "__main__":
    main()
