"""Everyday client commands over the HTTP API: `dags`, `jobs`, `defs`, `workers`.

They talk to a running server (`--api`, default http://127.0.0.1:8080, or CHRONOSCHED_API) and
print readable tables, or the raw JSON with `--json`. httpx and rich tables are imported when a
command runs, not when the CLI loads (see `cli.main`).
"""

from __future__ import annotations

import json
from typing import Any

import typer

from chronosched.cli.main import app, console

ApiOption = typer.Option(
    "http://127.0.0.1:8080", "--api", envvar="CHRONOSCHED_API", help="Base URL of the API."
)
TokenOption = typer.Option(None, "--token", envvar="CHRONOSCHED_TOKEN", help="Bearer token.")
JsonOption = typer.Option(False, "--json", help="Print the API's JSON instead of a table.")

dags_app = typer.Typer(help="DAGs: list and show.", no_args_is_help=True)
jobs_app = typer.Typer(help="Jobs: list, show, logs, edit, retry, cancel.", no_args_is_help=True)
defs_app = typer.Typer(help="Job definitions: list and show.", no_args_is_help=True)
app.add_typer(dags_app, name="dags")
app.add_typer(jobs_app, name="jobs")
app.add_typer(defs_app, name="defs")

STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "upstream_failed": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "queued": "blue",
    "waiting": "dim",
}


def _request(
    api: str, token: str | None, method: str, path: str, *, body: Any = None, **params: Any
) -> Any:
    """Call the API (query `params`, JSON `body`); a problem response becomes a readable error
    and exit code 1."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    query = {k: v for k, v in params.items() if v is not None}
    try:
        response = httpx.request(
            method,
            f"{api.rstrip('/')}/api/v1{path}",
            params=query,
            json=body,
            headers=headers,
            timeout=30,
        )
    except httpx.HTTPError as exc:
        console().print(f"[red]cannot reach {api}: {exc}[/]")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        console().print(f"[red]{response.status_code}: {detail}[/]")
        raise typer.Exit(1)
    return response.json() if response.content else None


def _items(body: Any) -> list[dict[str, Any]]:
    return list(body["items"]) if isinstance(body, dict) and "items" in body else list(body)


def _status(value: Any) -> str:
    text = str(value)
    style = STATUS_STYLE.get(text)
    return f"[{style}]{text}[/]" if style else text


def _table(rows: list[dict[str, Any]], columns: list[str], *, as_json: bool) -> None:
    if as_json:
        console().print_json(json.dumps(rows, default=str))
        return
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(
            *(_status(row.get(c)) if c == "status" else str(row.get(c, "")) for c in columns)
        )
    console().print(table)


def _show(body: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        console().print_json(json.dumps(body, default=str))
        return
    from rich.table import Table

    table = Table("field", "value", show_header=False)
    for key, value in body.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(key, _status(value) if key == "status" else shown)
    console().print(table)


@dags_app.command("list")
def dags_list(
    namespace: str | None = typer.Option(None, help="Namespace name."),
    limit: int = typer.Option(50),
    api: str = ApiOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """List DAGs with their derived status."""
    body = _request(api, token, "GET", "/dags", namespace=namespace, limit=limit)
    _table(_items(body), ["id", "name", "version", "status", "createdAt"], as_json=as_json)


@dags_app.command("show")
def dags_show(
    dag_id: str, api: str = ApiOption, token: str | None = TokenOption, as_json: bool = JsonOption
) -> None:
    """Show a DAG and its jobs."""
    dag = _request(api, token, "GET", f"/dags/{dag_id}")
    jobs = _items(_request(api, token, "GET", f"/dags/{dag_id}/jobs", limit=1000))
    if as_json:
        console().print_json(json.dumps({"dag": dag, "jobs": jobs}, default=str))
        return
    _show(dag, as_json=False)
    _table(jobs, ["id", "name", "status", "attempt", "dueAt", "finishedAt"], as_json=False)


@jobs_app.command("list")
def jobs_list(
    status: str | None = typer.Option(None, help="Filter by status."),
    dag_id: str | None = typer.Option(None, "--dag", help="Filter by DAG id."),
    def_id: str | None = typer.Option(None, "--def", help="Filter by definition id."),
    limit: int = typer.Option(50),
    api: str = ApiOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """List jobs across DAGs (cron runs included), newest first."""
    body = _request(
        api, token, "GET", "/jobs", status=status, dagId=dag_id, defId=def_id, limit=limit
    )
    columns = ["id", "name", "status", "attempt", "dueAt", "scheduledFor", "finishedAt"]
    _table(_items(body), columns, as_json=as_json)


@jobs_app.command("show")
def jobs_show(
    job_id: int, api: str = ApiOption, token: str | None = TokenOption, as_json: bool = JsonOption
) -> None:
    """Show one job."""
    _show(_request(api, token, "GET", f"/jobs/{job_id}"), as_json=as_json)


@jobs_app.command("logs")
def jobs_logs(
    job_id: int, api: str = ApiOption, token: str | None = TokenOption, as_json: bool = JsonOption
) -> None:
    """Print a job's captured output and errors, attempt by attempt."""
    body = _request(api, token, "GET", f"/jobs/{job_id}/logs")
    if as_json:
        console().print_json(json.dumps(body, default=str))
        return
    for entry in _items(body):
        console().rule(f"attempt {entry.get('attempt')} (exit code {entry.get('exitCode')})")
        if entry.get("stdout"):
            console().print(entry["stdout"], markup=False, highlight=False)
        if entry.get("stderr"):
            console().print(entry["stderr"], style="yellow", markup=False, highlight=False)
        if entry.get("error"):
            console().print(f"error: {entry['error']}", style="red", markup=False)


@jobs_app.command("edit")
def jobs_edit(
    job_id: int,
    priority: int | None = typer.Option(None, help="New priority (higher runs first)."),
    due_at: str | None = typer.Option(None, "--due-at", help="New due time (ISO 8601)."),
    payload: str | None = typer.Option(
        None, help="JSON object merged over the definition's payload template."
    ),
    version: int | None = typer.Option(None, help="Edit only if the job is still at this version."),
    api: str = ApiOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """Change a waiting or queued job's priority, due time or payload."""
    body: dict[str, Any] = {"priority": priority, "dueAt": due_at, "version": version}
    if payload is not None:
        try:
            body["payload"] = json.loads(payload)
        except ValueError as exc:
            console().print(f"[red]--payload is not JSON: {exc}[/]")
            raise typer.Exit(2) from None
    body = {k: v for k, v in body.items() if v is not None}
    _show(_request(api, token, "PATCH", f"/jobs/{job_id}", body=body), as_json=as_json)


@jobs_app.command("retry")
def jobs_retry(job_id: int, api: str = ApiOption, token: str | None = TokenOption) -> None:
    """Re-queue a failed or cancelled job."""
    _request(api, token, "POST", f"/jobs/{job_id}/retry")
    console().print(f"job {job_id} re-queued")


@jobs_app.command("cancel")
def jobs_cancel(job_id: int, api: str = ApiOption, token: str | None = TokenOption) -> None:
    """Cancel a waiting, queued or running job."""
    _request(api, token, "POST", f"/jobs/{job_id}/cancel")
    console().print(f"job {job_id} cancelled")


@defs_app.command("list")
def defs_list(
    namespace: str | None = typer.Option(None, help="Namespace name."),
    limit: int = typer.Option(100),
    api: str = ApiOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """List live job definitions."""
    body = _request(api, token, "GET", "/definitions", namespace=namespace, limit=limit)
    columns = ["defId", "name", "version", "kind", "cronSpec", "delayInterval", "paused"]
    _table(_items(body), columns, as_json=as_json)


@defs_app.command("show")
def defs_show(
    def_id: str, api: str = ApiOption, token: str | None = TokenOption, as_json: bool = JsonOption
) -> None:
    """Show one definition."""
    _show(_request(api, token, "GET", f"/definitions/{def_id}"), as_json=as_json)


@app.command("workers")
def workers(
    api: str = ApiOption, token: str | None = TokenOption, as_json: bool = JsonOption
) -> None:
    """List registered workers and whether they are alive."""
    body = _request(api, token, "GET", "/workers")
    columns = ["id", "host", "pid", "running", "concurrency", "lastHeartbeat", "alive"]
    _table(_items(body), columns, as_json=as_json)
