/* Overview, DAG list, definitions, jobs, job and workers pages: tables filled from the JSON API
   and refreshed every 2 s. Lists show the first page and a "load more" button (cursor paging). */
"use strict";

(() => {
  const { el, api, uiData, qs, poll, badge, fmtTime, link, uiHref, fillTable } = CS;
  const PAGE_SIZE = 100;

  /** A cursor-paged table: `load(cursor)` returns a page; polling refreshes what is shown. */
  function pagedTable(table, load, toRow, emptyText) {
    const more = document.getElementById("more");
    let pages = 1;
    async function refresh() {
      const items = [];
      let cursor = null;
      for (let i = 0; i < pages; i++) {
        const page = await load(cursor);
        items.push(...page.items);
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      fillTable(table, await toRow(items), emptyText);
      if (more) more.hidden = !cursor;
    }
    if (more) more.addEventListener("click", () => { pages += 1; refresh(); });
    return refresh;
  }

  function workerRows(workers, full) {
    return workers.map((w) => el("tr", { "data-worker": w.id },
      el("td", {}, w.id), el("td", {}, w.host),
      full ? el("td", {}, w.pid) : null,
      full ? el("td", {}, w.kinds.join(", ")) : null,
      el("td", {}, full ? `${w.running} / ${w.concurrency}` : w.running),
      full ? el("td", {}, fmtTime(w.startedAt)) : null,
      el("td", {}, fmtTime(w.lastHeartbeat)),
      el("td", {}, w.alive ? badge("alive") : badge(w.stoppedAt ? "stopped" : "silent"))));
  }

  // ------------------------------------------------------------------ overview
  function overview() {
    const tiles = document.getElementById("state-tiles");
    return poll(async () => {
      const [summary, workers, failures] = await Promise.all([
        uiData("/summary"),
        api("/workers" + qs({ limit: 20 })),
        api("/jobs" + qs({ status: "failed", limit: 10 })),
      ]);
      tiles.replaceChildren(...Object.entries(summary.byStatus).map(([status, n]) =>
        el("a", { class: `tile s-${status}`, href: uiHref("/jobs", { status }), "data-status": status },
          el("span", { class: "n" }, n), el("span", {}, status))));
      fillTable(document.getElementById("workers-table"), workerRows(workers, false), "no workers registered");
      fillTable(document.getElementById("failures-table"), failures.items.map((j) => el("tr", {},
        el("td", {}, link(uiHref(`/jobs/${j.id}`), `#${j.id} ${j.name}`)),
        el("td", {}, `${j.defName} v${j.defVersion}`),
        el("td", {}, fmtTime(j.finishedAt)),
        el("td", { class: "err" }, (j.lastError || "").slice(0, 200)))), "no failed jobs");
    });
  }

  // ------------------------------------------------------------------ DAGs
  function dags() {
    const status = document.getElementById("dag-status");
    const name = document.getElementById("dag-name");
    const deleted = document.getElementById("dag-deleted");
    const refresh = pagedTable(
      document.getElementById("dags-table"),
      (cursor) => api("/dags" + qs({
        limit: PAGE_SIZE, cursor, status: status.value, name: name.value,
        includeDeleted: deleted.checked ? "true" : "",
      }, true)),
      (items) => items.map((d) => {
        const c = d.jobCounts, done = c.succeeded + c.failed + c.cancelled + c.upstream_failed;
        return el("tr", { "data-dag": d.id },
          el("td", {}, link(uiHref(`/dags/${d.id}`), d.name)),
          el("td", {}, d.version, d.deleted ? " (old)" : ""),
          el("td", {}, badge(d.status)),
          el("td", {}, c.total),
          el("td", {}, el("progress", { max: c.total || 1, value: done }), ` ${done}/${c.total}`),
          el("td", {}, fmtTime(d.createdAt)));
      }),
      "no DAGs in this namespace");
    for (const input of [status, name, deleted]) input.addEventListener("change", refresh);
    return poll(refresh);
  }

  // ------------------------------------------------------------------ definitions
  function definitions() {
    const cronOnly = document.getElementById("def-cron");
    const showOld = document.getElementById("def-deleted");
    let fires = {};

    async function act(def, action) {
      try {
        await api(`/definitions/${def.id}/${action}`, { method: "POST" });
        await refresh();
      } catch (err) {
        CS.showError(String(err.message || err));
      }
    }

    function schedule(d) {
      if (!d.cronSpec) return "";
      return `${d.cronSpec}${d.timezone !== "UTC" ? ` (${d.timezone})` : ""}`;
    }

    function nextFires(d) {
      const f = fires[d.id];
      if (!d.cronSpec || d.deleted) return "";
      if (d.paused) return el("span", { class: "muted" }, "paused");
      if (typeof f === "string") return el("span", { class: "err" }, f);
      return el("ol", { class: "fires" }, (f || []).map((t) => el("li", {}, t.replace("T", " ").replace("+00:00", ""))));
    }

    function actions(d) {
      if (d.deleted) return "";
      const buttons = [el("button", { "data-action": "trigger", onclick: () => act(d, "trigger") }, "trigger")];
      if (d.cronSpec) {
        buttons.unshift(d.paused
          ? el("button", { "data-action": "resume", onclick: () => act(d, "resume") }, "resume")
          : el("button", { "data-action": "pause", onclick: () => act(d, "pause") }, "pause"));
      }
      buttons.push(link(uiHref("/jobs", { defId: d.id }), "runs"));
      return el("div", { class: "actions" }, buttons);
    }

    async function toRows(items) {
      const crons = items.filter((d) => d.cronSpec && !d.deleted && !d.paused)
        .map((d) => ({ id: d.id, cronSpec: d.cronSpec, timezone: d.timezone }));
      fires = crons.length ? (await uiData("/next-fires", { method: "POST", json: { items: crons } })).fires : {};
      return items.map((d) => el("tr", { "data-def": d.id, "data-name": d.name, class: d.deleted ? "old" : "" },
        el("td", {}, d.name), el("td", {}, `v${d.version}`), el("td", {}, d.kind),
        el("td", {}, el("code", {}, schedule(d))), el("td", {}, nextFires(d)),
        el("td", {}, d.deleted ? badge("retired") : d.paused ? badge("paused") : badge("live")),
        el("td", {}, actions(d))));
    }

    const refresh = pagedTable(
      document.getElementById("defs-table"),
      (cursor) => api("/definitions" + qs({
        limit: PAGE_SIZE, cursor, cron: cronOnly.checked ? "true" : "",
        includeDeleted: showOld.checked ? "true" : "",
      }, true)),
      toRows, "no definitions in this namespace");
    for (const input of [cronOnly, showOld]) input.addEventListener("change", refresh);
    return poll(refresh);
  }

  // ------------------------------------------------------------------ jobs
  function jobs() {
    const form = document.getElementById("job-filters");
    const params = new URLSearchParams(location.search);
    for (const name of ["status", "defId", "dagId"]) {
      if (params.get(name)) form.elements[name].value = params.get(name);
    }
    const filters = () => Object.fromEntries(["status", "defId", "dagId"].map((n) => [n, form.elements[n].value.trim()]));
    const refresh = pagedTable(
      document.getElementById("jobs-table"),
      (cursor) => api("/jobs" + qs({ limit: PAGE_SIZE, cursor, ...filters() }, true)),
      (items) => items.map((j) => el("tr", { "data-job": j.id },
        el("td", {}, link(uiHref(`/jobs/${j.id}`), `#${j.id}`)),
        el("td", {}, j.name), el("td", {}, `${j.defName} v${j.defVersion}`),
        el("td", {}, badge(j.status)), el("td", {}, `${j.attempt}/${j.maxAttempts}`),
        el("td", {}, fmtTime(j.dueAt)), el("td", {}, fmtTime(j.startedAt)),
        el("td", {}, fmtTime(j.finishedAt)),
        el("td", {}, j.dagId ? link(uiHref(`/dags/${j.dagId}`), j.dagId.slice(0, 8)) : ""))),
      "no jobs match");
    form.addEventListener("submit", (evt) => {
      evt.preventDefault();
      const url = new URL(location.href);
      for (const [k, v] of Object.entries(filters())) v ? url.searchParams.set(k, v) : url.searchParams.delete(k);
      history.replaceState(null, "", url);
      refresh();
    });
    return poll(refresh);
  }

  function job() {
    const panel = document.getElementById("job-panel");
    const id = document.body.dataset.jobId;
    return poll(() => JobPanel.render(panel, id));
  }

  function workers() {
    return poll(async () => {
      fillTable(document.getElementById("workers-table"), workerRows(await api("/workers"), true), "no workers registered");
    });
  }

  const pages = { overview, dags, definitions, jobs, job, workers };
  const start = pages[document.body.dataset.page];
  if (start) start();
})();
