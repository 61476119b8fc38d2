/* The job side panel: details, payload, result, logs, the manual transitions and, while a job
   waits or is queued, an editor for its priority, due time and payload. Used by the DAG page
   (click a node) and the job page. All data and actions go through /api/v1/jobs. */
"use strict";

const JobPanel = (() => {
  const { el, api, badge, fmtTime, fmtDuration } = CS;

  // Which API action applies in which state (DESIGN §3); others are shown disabled.
  const ACTIONS = [
    { name: "retry", states: ["failed", "cancelled"], body: undefined },
    { name: "complete", states: ["queued", "running"], body: { result: { by: "web UI" } } },
    { name: "fail", states: ["queued", "running"], body: { error: "failed by hand in the web UI" } },
    { name: "cancel", states: ["waiting", "queued", "running"], body: { reason: "cancelled in the web UI" } },
  ];

  function seconds(a, b) {
    if (!a || !b) return null;
    return (new Date(b) - new Date(a)) / 1000;
  }

  function row(label, value) {
    if (value === null || value === undefined || value === "") return null;
    return el("tr", {}, el("th", {}, label), el("td", {}, value));
  }

  function pre(value, cls) {
    const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    return el("pre", { class: cls || "code" }, text);
  }

  function logsBlock(logs) {
    if (!logs.length) return el("p", { class: "muted" }, "no output captured");
    return logs.map((log) =>
      el("details", { class: "log", open: log === logs[logs.length - 1] },
        el("summary", {}, `attempt ${log.attempt}`, log.workerId ? ` on ${log.workerId}` : "",
          log.exitCode !== null ? ` · exit ${log.exitCode}` : "", ` · ${fmtTime(log.createdAt)}`),
        log.error ? pre(log.error, "code err") : null,
        log.stdout ? [el("h4", {}, "stdout"), pre(log.stdout)] : null,
        log.stderr ? [el("h4", {}, "stderr"), pre(log.stderr, "code err")] : null));
  }

  function actionButtons(job, onAction) {
    return el("div", { class: "actions" }, ACTIONS.map((a) =>
      el("button", {
        class: `act act-${a.name}`,
        "data-action": a.name,
        disabled: !a.states.includes(job.status),
        title: `allowed when ${a.states.join(" or ")}`,
        onclick: () => onAction(a),
      }, a.name)));
  }

  const EDITABLE = ["waiting", "queued"]; // DESIGN §2: running and finished jobs are not

  /** The edit form (PATCH /jobs/{id}); it sends the version it was opened on, so an edit made
      meanwhile elsewhere is refused (409) instead of overwritten. */
  function editor(job, onSave) {
    const priority = el("input", { type: "number", name: "priority", value: String(job.priority) });
    const due = el("input", { type: "text", name: "dueAt", value: job.dueAt, size: "32" });
    const payload = el("textarea", { name: "payload", rows: "6", spellcheck: "false" },
      JSON.stringify(job.payload, null, 2));
    const save = el("button", { type: "submit", "data-action": "save" }, "save");
    const form = el("form", { class: "edit-form" },
      el("label", {}, "priority ", priority),
      el("label", {}, "due (ISO 8601) ", due),
      el("label", {}, "payload (JSON, merged over the definition's template)", payload),
      save);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let body;
      try {
        body = { payload: JSON.parse(payload.value), version: job.version };
      } catch (err) {
        onSave(null, `payload is not JSON: ${err.message}`);
        return;
      }
      if (priority.value !== "") body.priority = Number(priority.value);
      if (due.value.trim() !== "") body.dueAt = due.value.trim();
      onSave(body, null);
    });
    return el("details", { class: "edit" }, el("summary", {}, `edit (version ${job.version})`), form);
  }

  /** Render job `jobId` into `container`; `onChange` runs after an action succeeded. */
  async function render(container, jobId, { onChange, onClose, force = false } = {}) {
    const [job, logs] = await Promise.all([api(`/jobs/${jobId}`), api(`/jobs/${jobId}/logs`)]);
    const signature = JSON.stringify([job, logs]);
    const same = container.dataset.jobId === String(jobId);
    if (same && container.dataset.signature === signature) {
      return job; // nothing changed: keep the reader's scroll position and open sections
    }
    if (same && !force && container.querySelector("details.edit[open]")) {
      return job; // the reader is editing: a refresh must not throw their input away
    }
    container.dataset.signature = signature;
    container.dataset.jobId = String(jobId);
    container.dataset.status = job.status;

    const message = el("p", { class: "action-msg", role: "status" });
    async function run(label, path, method, body) {
      message.textContent = `${label}…`;
      message.classList.remove("err");
      try {
        await api(path, { method, json: body });
        message.textContent = "";
        await render(container, jobId, { onChange, onClose, force: true });
        if (onChange) onChange();
      } catch (err) {
        message.textContent = String(err.message || err);
        message.classList.add("err");
      }
    }
    const onAction = (action) =>
      run(action.name, `/jobs/${jobId}/${action.name}`, "POST", action.body);
    function onSave(body, problem) {
      if (problem) {
        message.textContent = problem;
        message.classList.add("err");
        return;
      }
      run("saving", `/jobs/${jobId}`, "PATCH", body);
    }

    const ran = seconds(job.startedAt, job.finishedAt);
    const details = el("table", { class: "kv" },
      row("id", job.id),
      row("definition", `${job.defName} v${job.defVersion} (${job.kind})`),
      row("attempt", `${job.attempt} of ${job.maxAttempts}`),
      row("version", job.version),
      row("priority", job.priority),
      row("delay", job.delayInterval !== "00:00:00" ? job.delayInterval : null),
      row("enqueued", fmtTime(job.enqueuedAt)),
      row("due", fmtTime(job.dueAt)),
      row("started", fmtTime(job.startedAt)),
      row("finished", fmtTime(job.finishedAt)),
      row("ran for", ran !== null ? fmtDuration(ran) : null),
      row("scheduled for", fmtTime(job.scheduledFor)),
      row("lease", job.leaseOwner ? `${job.leaseOwner} until ${fmtTime(job.leaseUntil)}` : null),
      row("waits for", job.unmetParents.length ? job.unmetParents.join(", ") : null),
      row("blocked by", job.upstreamFailedFrom),
      row("DAG", job.dagId ? CS.link(CS.uiHref(`/dags/${job.dagId}`), job.dagId.slice(0, 8)) : null));

    const parts = [
      el("div", { class: "panel-head" },
        el("h2", {}, job.name), badge(job.status),
        onClose ? el("button", { class: "close", title: "close", onclick: onClose }, "×") : null),
      actionButtons(job, onAction),
      EDITABLE.includes(job.status) && !job.deleted ? editor(job, onSave) : null,
      message,
      job.lastError ? [el("h3", {}, "last error"), pre(job.lastError, "code err")] : null,
      details,
      el("h3", {}, "payload"), pre(job.payload),
      el("h3", {}, "result"), job.result === null ? el("p", { class: "muted" }, "none") : pre(job.result),
      el("h3", {}, "logs"), logsBlock(logs)];
    container.replaceChildren(...parts.flat(Infinity).filter((part) => part !== null));
    container.hidden = false;
    return job;
  }

  return { render };
})();
