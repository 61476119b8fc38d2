"""The web UI end to end, in a real headless browser: Playwright driving Debian's chromium against
a real `chronosched server` process. The DAG is made through the API; the test then looks at the
graph, opens a job, retries it, and pauses a cron definition, as a user would.

Screenshots go to `test-output/`. With CHRONOSCHED_UPDATE_SCREENSHOTS=1 the DAG page's is also
copied to `docs/images/dag.png` (the README's picture), so a normal run leaves the tree clean.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.api_support import serve

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="needs the `playwright` Python package (see docs/ui.md)"
)

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What the graph must show (chronosched/ui/static/js/common.js STATUS_COLORS, as CSS rgb()).
RGB = {
    "queued": "rgb(96,165,250)",
    "succeeded": "rgb(34,197,94)",
    "failed": "rgb(239,68,68)",
    "upstream_failed": "rgb(249,115,22)",
    "waiting": "rgb(156,163,175)",
}
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed with apt when missing (the machine downloads no browser)."""
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.skip("chromium is not installed and apt-get is not available to install it")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, apt, "update", "-q"], check=True, env=env, timeout=600)
    subprocess.run(
        [*sudo, apt, "install", "-y", "-q", "chromium"], check=True, env=env, timeout=1200
    )
    assert CHROMIUM.exists(), "apt-get installed chromium but /usr/bin/chromium is missing"
    return CHROMIUM


@pytest.fixture
def server(db_url: str) -> Iterator[str]:
    with serve(db_url) as base:
        yield base


@pytest.fixture
async def api(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{server}/api/v1", timeout=30) as client:
        yield client


@pytest.fixture
async def page(chromium: Path) -> AsyncIterator[Any]:
    OUTPUT.mkdir(exist_ok=True)
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1440, "height": 860})
        tab = await context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        yield tab
        await browser.close()
        assert errors == [], f"JavaScript errors in the page: {errors}"


async def _definition(api: httpx.AsyncClient, name: str, **fields: Any) -> str:
    body = {"name": name, "kind": "cmd", "payloadTemplate": {"cmd": f"echo {name}"}, **fields}
    response = await api.post("/definitions", json=body)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["id"])


async def _etl_dag(api: httpx.AsyncClient) -> tuple[str, dict[str, int]]:
    """extract -> transform -> load (5 min delay), transform ..> audit (order-only),
    extract -> cleanup; then extract succeeds and transform fails, as a worker would report."""
    step = await _definition(api, "step")
    delayed = await _definition(api, "publish", delayInterval="5m")
    keys = {"extract": step, "transform": step, "load": delayed, "audit": step, "cleanup": step}
    edges = [
        ("extract", "transform", "data"),
        ("transform", "load", "data"),
        ("transform", "audit", "order-only"),
        ("extract", "cleanup", "data"),
    ]
    created = await api.post(
        "/dags",
        json={
            "name": "nightly-etl",
            "jobs": [{"key": k, "defId": d, "name": k} for k, d in keys.items()],
            "dependencies": [{"parent": p, "child": c, "dependencyType": t} for p, c, t in edges],
        },
    )
    assert created.status_code == 201, created.text
    ids: dict[str, int] = created.json()["jobIds"]
    done = await api.post(f"/jobs/{ids['extract']}/complete", json={"result": {"rows": 1042}})
    assert done.is_success
    failed = await api.post(f"/jobs/{ids['transform']}/fail", json={"error": "KeyError: 'amount'"})
    assert failed.is_success
    return created.json()["id"], ids


async def _graph(page: Any) -> dict[str, dict[str, str]]:
    nodes: list[dict[str, str]] = await page.evaluate(
        """() => window.chronoschedGraph.nodes().map((n) => ({
            id: n.id(), label: n.data("label"), status: n.data("status"),
            color: n.style("background-color").replace(/ /g, "")}))"""
    )
    return {n["label"]: n for n in nodes}


async def _wait_status(page: Any, job_id: int, status: str) -> None:
    await page.wait_for_function(
        "([id, s]) => window.chronoschedGraph &&"
        " window.chronoschedGraph.getElementById(String(id)).data('status') === s",
        arg=[job_id, status],
    )


async def test_ui_browser__dag_graph_panel_retry_and_cron_pause(
    page: Any, api: httpx.AsyncClient, server: str
) -> None:
    dag_id, ids = await _etl_dag(api)
    nightly = await _definition(
        api, "nightly-report", cronSpec="0 3 * * *", timezone="Europe/Paris"
    )

    # the graph shows every node in its state and colour, and the edges by type and delay
    await page.goto(f"{server}/ui/dags/{dag_id}")
    await page.wait_for_selector("#graph[data-ready='true']")
    await _wait_status(page, ids["transform"], "failed")
    nodes = await _graph(page)
    jobs = {j["name"]: j for j in (await api.get(f"/dags/{dag_id}/jobs")).json()["items"]}
    assert set(nodes) == set(jobs) == set(ids)
    for name, node in nodes.items():
        assert node["id"] == str(jobs[name]["id"])
        assert node["status"] == jobs[name]["status"]
        assert node["color"] == RGB[node["status"]], name
    assert {n: nodes[n]["status"] for n in nodes} == {
        "extract": "succeeded",
        "transform": "failed",
        "load": "upstream_failed",
        "audit": "queued",
        "cleanup": "queued",
    }
    edges = await page.evaluate(
        """() => Object.fromEntries(window.chronoschedGraph.edges().map((e) => [e.id(),
            [e.data("type"), e.data("label"), e.style("line-style")]]))"""
    )
    assert edges[f"{ids['transform']}-{ids['load']}"] == ["data", "delay 00:05:00", "solid"]
    assert edges[f"{ids['transform']}-{ids['audit']}"] == ["order-only", "", "dashed"]
    await page.screenshot(path=OUTPUT / "ui-dag.png")

    # click the failed node: the side panel shows the job, its error and its actions
    box = await page.locator("#graph").bounding_box()
    pos = await page.evaluate(
        "(id) => window.chronoschedGraph.getElementById(String(id)).renderedPosition()",
        ids["transform"],
    )
    await page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    panel = page.locator("#job-panel")
    await panel.locator("h2", has_text="transform").wait_for()
    assert await panel.get_attribute("data-status") == "failed"
    assert "KeyError: 'amount'" in await panel.inner_text()
    assert await panel.locator("[data-action=complete]").is_disabled()
    await page.screenshot(path=OUTPUT / "ui-dag-panel.png")
    if os.environ.get("CHRONOSCHED_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(OUTPUT / "ui-dag-panel.png", ROOT / "docs" / "images" / "dag.png")

    # retry: the job is queued again and the job it blocked waits again, live in the graph
    await panel.locator("[data-action=retry]").click()
    await page.wait_for_selector("#job-panel[data-status='queued']")
    await _wait_status(page, ids["transform"], "queued")
    await _wait_status(page, ids["load"], "waiting")
    assert (await api.get(f"/jobs/{ids['transform']}")).json()["status"] == "queued"

    # a change made elsewhere shows up without a reload (polling)
    assert (await api.post(f"/jobs/{ids['cleanup']}/complete")).is_success
    await _wait_status(page, ids["cleanup"], "succeeded")

    # the timeline draws one bar per started job
    await page.click("[data-tab=timeline]")
    await page.wait_for_selector("#timeline svg g.bar")
    bars = await page.locator("#timeline g.bar").evaluate_all(
        "(gs) => gs.map((g) => g.dataset.jobId)"
    )
    assert str(ids["extract"]) in bars and str(ids["cleanup"]) in bars
    await page.screenshot(path=OUTPUT / "ui-timeline.png")

    # definitions: the cron one shows its next 5 fire times and can be paused
    await page.goto(f"{server}/ui/definitions")
    row = page.locator(f"tr[data-def='{nightly}']")
    await row.locator("ol.fires li").nth(4).wait_for()
    assert await row.locator("ol.fires li").count() == 5
    await page.screenshot(path=OUTPUT / "ui-definitions.png")
    await row.locator("[data-action=pause]").click()
    await row.locator("[data-action=resume]").wait_for()
    assert (await api.get(f"/definitions/{nightly}")).json()["paused"] is True

    # the overview counts jobs by state
    await page.goto(f"{server}/ui")
    await page.wait_for_selector(".tile[data-status='queued'] .n")
    await page.screenshot(path=OUTPUT / "ui-overview.png")
    counts = await page.locator(".tile").evaluate_all(
        "(ts) => Object.fromEntries(ts.map((t) =>"
        " [t.dataset.status, t.querySelector('.n').textContent]))"
    )
    listed = (await api.get("/jobs", params={"limit": 1000})).json()["items"]
    for status in RGB:
        assert counts[status] == str(sum(j["status"] == status for j in listed)), status
    assert counts["succeeded"] == "2"

    # the lists render from the API too (a JavaScript error anywhere fails the test)
    await page.goto(f"{server}/ui/dags")
    await page.locator(f"tr[data-dag='{dag_id}']").wait_for()
    await page.goto(f"{server}/ui/jobs?status=queued")
    await page.locator(f"tr[data-job='{ids['transform']}']").wait_for()
    assert await page.locator(f"tr[data-job='{ids['extract']}']").count() == 0
    await page.goto(f"{server}/ui/jobs/{ids['extract']}")
    await page.wait_for_selector("#job-panel[data-status='succeeded']")
    assert "1042" in await page.locator("#job-panel").inner_text()
    await page.goto(f"{server}/ui/workers")
    await page.locator("#workers-table td.empty").wait_for()


async def test_ui_browser__a_1000_node_dag_stays_responsive(
    page: Any, api: httpx.AsyncClient, server: str
) -> None:
    step = await _definition(api, "step")
    width, depth = 25, 40  # 1,000 jobs in 40 layers
    keys = [f"j{layer}_{i}" for layer in range(depth) for i in range(width)]
    deps = [
        {"parent": f"j{layer}_{i}", "child": f"j{layer + 1}_{(i + k) % width}"}
        for layer in range(depth - 1)
        for i in range(width)
        for k in (0, 1)
    ]
    created = await api.post(
        "/dags",
        json={
            "name": "wide",
            "jobs": [{"key": k, "defId": step} for k in keys],
            "dependencies": deps,
        },
    )
    assert created.status_code == 201, created.text
    started = time.monotonic()
    await page.goto(f"{server}/ui/dags/{created.json()['id']}")
    await page.wait_for_selector("#graph[data-ready='true']")
    drawn = time.monotonic() - started
    assert await page.get_attribute("#graph", "data-layout") == "layered"
    counts = await page.evaluate(
        "() => [window.chronoschedGraph.nodes().length, window.chronoschedGraph.edges().length]"
    )
    assert counts == [len(keys), len(deps)]
    # the page still answers promptly (no long task blocking the main thread)
    t0 = time.monotonic()
    await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(1)))")
    assert time.monotonic() - t0 < 2.0
    assert drawn < 15.0, f"the 1,000-node graph took {drawn:.1f} s to draw"
    await page.screenshot(path=OUTPUT / "ui-dag-1000.png")


async def test_ui_browser__edit_a_queued_job(
    page: Any, api: httpx.AsyncClient, server: str
) -> None:
    d = await _definition(api, "editable")
    job = (
        await api.post(f"/definitions/{d}/trigger", json={"dueAt": "2100-01-01T00:00:00Z"})
    ).json()
    await page.goto(f"{server}/ui/jobs/{job['id']}")
    panel = page.locator("#job-panel")
    await page.wait_for_selector("#job-panel[data-status='queued']")

    # open the editor, change priority and payload, save: the job is at version 2
    await panel.locator("details.edit summary").click()
    await panel.locator("input[name=priority]").fill("9")
    await panel.locator("textarea[name=payload]").fill('{"cmd": "echo edited"}')
    await panel.locator("[data-action=save]").click()
    await panel.locator("details.edit summary", has_text="version 2").wait_for()
    saved = (await api.get(f"/jobs/{job['id']}")).json()
    assert (saved["version"], saved["priority"], saved["payload"]) == (
        2,
        9,
        {"cmd": "echo edited"},
    )

    # an open editor is not refreshed away; saving over an edit made elsewhere is refused
    await panel.locator("details.edit summary").click()
    await panel.locator("input[name=priority]").fill("1")
    elsewhere = await api.patch(f"/jobs/{job['id']}", json={"priority": 5})
    assert elsewhere.json()["version"] == 3
    await page.wait_for_timeout(2500)  # one poll of the page (2 s) has passed
    assert await panel.locator("input[name=priority]").input_value() == "1"
    await panel.locator("[data-action=save]").click()
    await panel.locator(".action-msg.err", has_text="409").wait_for()
    assert "changed meanwhile" in await panel.locator(".action-msg").inner_text()
    assert (await api.get(f"/jobs/{job['id']}")).json()["priority"] == 5

    # bad JSON is caught in the page; nothing is sent
    await panel.locator("textarea[name=payload]").fill("{nope")
    await panel.locator("[data-action=save]").click()
    await panel.locator(".action-msg.err", has_text="payload is not JSON").wait_for()
    assert (await api.get(f"/jobs/{job['id']}")).json()["version"] == 3
    await page.screenshot(path=OUTPUT / "ui-job-edit.png")

    # closed again, the panel follows the job; a finished job has no editor
    await panel.locator("details.edit summary").click()
    assert (await api.post(f"/jobs/{job['id']}/complete")).is_success
    await page.wait_for_selector("#job-panel[data-status='succeeded']")
    assert await panel.locator("details.edit").count() == 0
