/* The DAG page: the graph (Cytoscape.js + dagre), a Gantt-style timeline, and the job panel.

   Scale: up to DAGRE_LIMIT nodes the graph is laid out by dagre; above it by a linear-time
   layered layout (longest path from the roots, computed here) with no animation and textures
   while panning, which keeps 1,000+ nodes responsive. Beyond MAX_NODES the page shows only the
   first MAX_NODES jobs and says so (the Jobs list pages through the rest). */
"use strict";

(() => {
  const { el, api, allPages, poll, STATUS_COLORS, fmtTime, fmtDuration } = CS;
  const DAGRE_LIMIT = 300; // dagre measured 8.4 s for 1,000 nodes (headless chromium, 2 cores)
  const MAX_NODES = 5000;
  const LABEL_LIMIT = 1500; // above this, node labels only appear when zoomed in
  const TIMELINE_ROWS = 500;
  const MAX_FIT_ZOOM = 1.6;
  const dagId = document.body.dataset.dagId;
  const graphBox = document.getElementById("graph");
  const panel = document.getElementById("job-panel");
  const state = { cy: null, jobs: new Map(), edgeKey: "", selected: null, tab: "graph", dag: null };

  // cytoscape-dagre's plain-script build registers the "dagre" layout by itself.

  function delayLabel(job) {
    return job && job.delayInterval && job.delayInterval !== "00:00:00" ? `delay ${job.delayInterval}` : "";
  }

  function nodeData(job) {
    return { id: String(job.id), label: job.name, status: job.status, color: STATUS_COLORS[job.status] };
  }

  function styles(big) {
    return [
      {
        selector: "node",
        style: {
          shape: "round-rectangle",
          "background-color": "data(color)",
          label: "data(label)",
          "text-valign": "center",
          "text-halign": "center",
          "font-size": 11,
          color: "#111827",
          width: "label",
          height: 26,
          padding: "8px",
          "border-width": 1,
          "border-color": "#1f2937",
          "min-zoomed-font-size": big ? 9 : 0,
        },
      },
      { selector: "node[status = 'running']", style: { "border-width": 3, "border-color": "#b45309" } },
      { selector: "node:selected", style: { "border-width": 4, "border-color": "#1d4ed8" } },
      {
        selector: "edge",
        style: {
          width: 1.5,
          "curve-style": big ? "haystack" : "bezier",
          "line-color": "#475569",
          "target-arrow-color": "#475569",
          "target-arrow-shape": big ? "none" : "triangle",
          label: "data(label)",
          "font-size": 9,
          color: "#7c3aed",
          "text-background-color": "#ffffff",
          "text-background-opacity": 0.85,
          "min-zoomed-font-size": big ? 9 : 0,
        },
      },
      {
        selector: "edge[type = 'order-only']",
        style: { "line-style": "dashed", "line-color": "#94a3b8", "target-arrow-color": "#94a3b8", "target-arrow-shape": big ? "none" : "vee" },
      },
    ];
  }

  /** Longest-path layering (Kahn's order): O(V + E), for graphs too big for dagre. */
  function layeredPositions(jobs, edges) {
    const rank = new Map(jobs.map((j) => [String(j.id), 0]));
    const children = new Map();
    const indegree = new Map(jobs.map((j) => [String(j.id), 0]));
    for (const e of edges) {
      const p = String(e.parentJobId), c = String(e.childJobId);
      if (!rank.has(p) || !rank.has(c)) continue;
      if (!children.has(p)) children.set(p, []);
      children.get(p).push(c);
      indegree.set(c, indegree.get(c) + 1);
    }
    const queue = [...indegree].filter(([, d]) => d === 0).map(([id]) => id);
    for (let i = 0; i < queue.length; i++) {
      const id = queue[i];
      for (const c of children.get(id) || []) {
        rank.set(c, Math.max(rank.get(c), rank.get(id) + 1));
        indegree.set(c, indegree.get(c) - 1);
        if (indegree.get(c) === 0) queue.push(c);
      }
    }
    const rows = new Map();
    const positions = {};
    for (const j of jobs) {
      const id = String(j.id), r = rank.get(id);
      const y = rows.get(r) || 0;
      rows.set(r, y + 1);
      positions[id] = { x: r * 200, y: y * 44 };
    }
    return positions;
  }

  function buildGraph(jobs, edges) {
    const big = jobs.length > DAGRE_LIMIT;
    const byId = new Map(jobs.map((j) => [String(j.id), j]));
    const elements = jobs.map((j) => ({ group: "nodes", data: nodeData(j) }));
    for (const e of edges) {
      const p = String(e.parentJobId), c = String(e.childJobId);
      if (!byId.has(p) || !byId.has(c)) continue;
      elements.push({
        group: "edges",
        data: { id: `${p}-${c}`, source: p, target: c, type: e.dependencyType, label: delayLabel(byId.get(c)) },
      });
    }
    if (state.cy) state.cy.destroy();
    const layout = big
      ? { name: "preset", positions: layeredPositions(jobs, edges), fit: true, animate: false }
      : { name: "dagre", rankDir: "LR", nodeSep: 18, rankSep: 70, animate: false, fit: true };
    const cy = cytoscape({
      container: graphBox,
      elements,
      style: styles(jobs.length > LABEL_LIMIT || big),
      layout,
      wheelSensitivity: 0.3,
      textureOnViewport: big,
      hideEdgesOnViewport: big,
      motionBlur: false,
      pixelRatio: big ? 1 : "auto",
      boxSelectionEnabled: false,
    });
    fitView(cy);
    cy.on("tap", "node", (evt) => select(evt.target.id()));
    cy.on("tap", (evt) => { if (evt.target === cy) closePanel(); });
    state.cy = cy;
    window.chronoschedGraph = cy; // for the browser tests and the curious
    graphBox.dataset.ready = "true";
    graphBox.dataset.layout = big ? "layered" : "dagre";
  }

  /** Fit the graph, but never blow a small DAG up beyond a readable size. */
  function fitView(cy) {
    cy.resize();
    cy.fit(undefined, 30);
    if (cy.zoom() > MAX_FIT_ZOOM) {
      cy.zoom(MAX_FIT_ZOOM);
      cy.center();
    }
  }

  function updateStatuses(jobs) {
    const cy = state.cy;
    cy.batch(() => {
      for (const j of jobs) {
        const node = cy.getElementById(String(j.id));
        if (node.nonempty() && node.data("status") !== j.status) {
          node.data({ status: j.status, color: STATUS_COLORS[j.status] });
        }
      }
    });
  }

  async function select(jobId) {
    state.selected = jobId;
    if (state.cy) {
      state.cy.$(":selected").unselect();
      state.cy.getElementById(String(jobId)).select();
    }
    panel.dataset.signature = "";
    await refreshPanel();
  }

  function closePanel() {
    state.selected = null;
    panel.hidden = true;
    panel.replaceChildren();
    if (state.cy) {
      state.cy.$(":selected").unselect();
      state.cy.resize();
    }
  }

  async function refreshPanel() {
    if (!state.selected) return;
    const wasHidden = panel.hidden;
    await JobPanel.render(panel, state.selected, { onChange: refresh, onClose: closePanel });
    if (wasHidden && state.cy) state.cy.resize(); // the panel took width from the graph
  }

  function renderHead(dag, loaded, truncated) {
    document.getElementById("dag-title").textContent = `${dag.name} v${dag.version}${dag.deleted ? " (older version)" : ""}`;
    const status = document.getElementById("dag-status");
    status.textContent = dag.status;
    status.className = `badge s-${dag.status}`;
    const snake = (k) => k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
    const counts = Object.entries(dag.jobCounts).filter(([k, v]) => k !== "total" && v > 0)
      .map(([k, v]) => `${v} ${snake(k)}`).join(" · ");
    document.getElementById("dag-counts").textContent = `${dag.jobCounts.total} jobs: ${counts}`;
    const notice = document.getElementById("dag-notice");
    notice.hidden = !truncated;
    notice.textContent = truncated
      ? `This DAG has ${dag.jobCounts.total} jobs; the graph shows the first ${loaded}. ` +
        "Use the Jobs list (filter by DAG id) for the rest." : "";
  }

  function renderTimeline(jobs) {
    const box = document.getElementById("timeline");
    const started = jobs.filter((j) => j.startedAt)
      .sort((a, b) => new Date(a.startedAt) - new Date(b.startedAt)).slice(0, TIMELINE_ROWS);
    if (!started.length) {
      box.replaceChildren(el("p", { class: "muted" }, "No job has started yet."));
      return;
    }
    const now = Date.now();
    const t0 = Math.min(...started.map((j) => new Date(j.startedAt)));
    const t1 = Math.max(...started.map((j) => (j.finishedAt ? new Date(j.finishedAt) : now)));
    const span = Math.max(t1 - t0, 1);
    const NS = "http://www.w3.org/2000/svg";
    const rowH = 18, labelW = 220, width = Math.max(box.clientWidth - 20, 600), plotW = width - labelW - 10;
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("width", width);
    svg.setAttribute("height", started.length * rowH + 30);
    const mk = (tag, attrs, text) => {
      const n = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
      if (text !== undefined) n.textContent = text;
      return n;
    };
    started.forEach((j, i) => {
      const s = new Date(j.startedAt) - t0;
      const e = (j.finishedAt ? new Date(j.finishedAt) : now) - t0;
      const x = labelW + (s / span) * plotW, w = Math.max(((e - s) / span) * plotW, 2), y = i * rowH + 4;
      const g = mk("g", { class: "bar", "data-job-id": j.id });
      g.append(mk("text", { x: 4, y: y + 12, "font-size": 11 }, j.name));
      const rect = mk("rect", { x, y, width: w, height: rowH - 6, rx: 3, fill: STATUS_COLORS[j.status] });
      rect.append(mk("title", {}, `${j.name}: ${j.status}, ${fmtTime(j.startedAt)} → ${fmtTime(j.finishedAt) || "now"} (${fmtDuration((e - s) / 1000)})`));
      g.append(rect);
      g.addEventListener("click", () => select(String(j.id)));
      svg.append(g);
    });
    const axisY = started.length * rowH + 20;
    svg.append(mk("text", { x: labelW, y: axisY, "font-size": 10 }, fmtTime(new Date(t0).toISOString())));
    svg.append(mk("text", { x: width - 10, y: axisY, "font-size": 10, "text-anchor": "end" }, `+${fmtDuration(span / 1000)}`));
    box.replaceChildren(svg);
  }

  function renderLegend() {
    const legend = document.getElementById("legend");
    legend.replaceChildren(
      ...["waiting", "queued", "running", "succeeded", "failed", "cancelled", "upstream_failed"].map((s) =>
        el("span", { class: "key" }, el("i", { style: `background:${STATUS_COLORS[s]}` }), s)),
      el("span", { class: "key" }, el("b", { class: "line data" }), "data edge"),
      el("span", { class: "key" }, el("b", { class: "line order" }), "order-only edge"));
  }

  let polls = 0;
  async function refresh() {
    const [dag, jobPage] = await Promise.all([
      api(`/dags/${dagId}`),
      allPages(`/dags/${dagId}/jobs`, { limit: 1000 }, MAX_NODES),
    ]);
    state.dag = dag;
    const jobs = jobPage.items;
    const ids = jobs.map((j) => j.id).join(",");
    // edges change rarely: re-read them when the job set changed, and every 10th poll
    if (!state.cy || ids !== state.ids || polls % 10 === 0) {
      const edges = (await allPages(`/dags/${dagId}/dependencies`, { limit: 1000 }, 100000)).items;
      const edgeKey = edges.map((e) => `${e.parentJobId}-${e.childJobId}`).join(",");
      if (!state.cy || ids !== state.ids || edgeKey !== state.edgeKey) {
        state.ids = ids;
        state.edgeKey = edgeKey;
        buildGraph(jobs, edges);
      }
    }
    polls += 1;
    updateStatuses(jobs);
    renderHead(dag, jobs.length, jobPage.truncated);
    if (state.tab === "timeline") renderTimeline(jobs);
    await refreshPanel();
  }

  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => {
      state.tab = tab.dataset.tab;
      for (const t of document.querySelectorAll("[data-tab]")) t.classList.toggle("active", t === tab);
      graphBox.hidden = state.tab !== "graph";
      document.getElementById("timeline").hidden = state.tab !== "timeline";
      if (state.tab === "graph" && state.cy) state.cy.resize();
      refresh().catch((err) => CS.showError(String(err.message || err)));
    });
  }

  renderLegend();
  poll(refresh);
})();
