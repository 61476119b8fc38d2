/* Chronosched UI: shared helpers. Every page calls the JSON API (/api/v1) with fetch; the login
   cookie (HttpOnly) travels with same-origin requests, so scripts never see the token. */
"use strict";

const CS = (() => {
  const body = document.body;
  const namespace = body.dataset.namespace || "default";
  const POLL_MS = 2000; // live updates: one cheap request per view every 2 s
  const STATUS_COLORS = {
    waiting: "#9ca3af",
    queued: "#60a5fa",
    running: "#f59e0b",
    succeeded: "#22c55e",
    failed: "#ef4444",
    cancelled: "#64748b",
    upstream_failed: "#f97316",
    pending: "#9ca3af",
  };

  function loginRedirect() {
    const here = location.pathname + location.search;
    location.href = "/ui/login?next=" + encodeURIComponent(here);
  }

  /** fetch + JSON + problem+json errors; `path` is relative to `base` (default /api/v1). */
  async function request(path, { method = "GET", json, base = "/api/v1" } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    const response = await fetch(base + path, init);
    if (response.status === 401) {
      loginRedirect();
      throw new Error("login required");
    }
    const text = await response.text();
    const payload = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const detail = payload && (payload.detail || payload.title);
      throw new Error(`${response.status}: ${detail || response.statusText}`);
    }
    return payload;
  }

  const api = (path, opts) => request(path, opts);
  const uiData = (path, opts) => request(path, { ...opts, base: "/ui/data" });

  /** Build a query string, dropping empty values; adds the page's namespace when asked. */
  function qs(params, withNamespace = false) {
    const q = new URLSearchParams();
    if (withNamespace) q.set("namespace", namespace);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== "") q.set(k, v);
    }
    const s = q.toString();
    return s ? "?" + s : "";
  }

  /** Every page of a cursor-paginated list, up to `max` items. */
  async function allPages(path, params, max) {
    const items = [];
    let cursor = null;
    do {
      const page = await api(path + qs({ ...params, cursor }));
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor && items.length < max);
    return { items: items.slice(0, max), truncated: Boolean(cursor) || items.length > max };
  }

  function showError(message) {
    const box = document.getElementById("error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  /** Run `fn` now and every POLL_MS while the tab is visible; errors show in the banner. */
  function poll(fn, ms = POLL_MS) {
    const live = document.getElementById("live");
    let timer = null;
    async function tick() {
      if (!document.hidden) {
        try {
          await fn();
          showError("");
          if (live) live.classList.remove("stale");
        } catch (err) {
          showError(String(err.message || err));
          if (live) live.classList.add("stale");
        }
      }
      timer = setTimeout(tick, ms);
    }
    tick();
    return () => clearTimeout(timer);
  }

  /** Tiny element builder: el("td", {class: "x"}, "text", child). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
    if (seconds < 120) return `${seconds.toFixed(1)} s`;
    if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  function badge(status) {
    return el("span", { class: `badge s-${status}`, "data-status": status }, status);
  }

  function link(href, text) {
    return el("a", { href }, text);
  }

  function uiHref(path, params) {
    return "/ui" + path + qs(params, true);
  }

  /** Replace a table body's rows (keeps the table, so polling does not flicker). */
  function fillTable(table, rows, emptyText) {
    const tbody = table.tBodies[0];
    const cols = table.tHead.rows[0].cells.length;
    tbody.replaceChildren(
      ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: cols, class: "empty" }, emptyText || "none"))]),
    );
  }

  async function initNamespaces() {
    const select = document.getElementById("namespace-select");
    if (!select) return;
    try {
      const page = await api("/namespaces" + qs({ limit: 1000 }));
      const names = page.items.map((n) => n.name);
      if (!names.includes(namespace)) names.unshift(namespace);
      select.replaceChildren(...names.map((n) => el("option", { value: n, selected: n === namespace }, n)));
    } catch (err) {
      showError(String(err.message || err));
    }
    select.addEventListener("change", () => {
      const url = new URL(location.href);
      url.searchParams.set("namespace", select.value);
      location.href = url.toString();
    });
  }

  document.addEventListener("DOMContentLoaded", initNamespaces);

  return {
    namespace, POLL_MS, STATUS_COLORS, api, uiData, qs, allPages, poll, el, fmtTime,
    fmtDuration, badge, link, uiHref, fillTable, showError,
  };
})();
