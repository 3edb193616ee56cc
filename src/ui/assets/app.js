// snatch ui: the page's script. Server data is set with textContent only,
// never innerHTML. Every request is same-origin; the cookie carries the token.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try { data = await r.json(); } catch (_) { data = { error: await r.text() }; }
  return { status: r.status, data };
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function clock(s) {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return (h > 0 ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
}

function stateText(s) {
  switch (s.kind) {
    case "never_run": return "never run";
    case "partial": return s.total === null ? "partial, " + s.saved + " saved" : "partial " + s.saved + "/" + s.total;
    case "done": return "done (" + clock(s.duration_s) + ", " + s.streams.join("+") + ")";
    case "failed": return "failed: " + s.message;
    case "running": return "running";
    default: return s.kind;
  }
}

// ---- Jobs ----

async function loadJobs() {
  const r = await fetch("/api/jobs", { credentials: "same-origin" });
  const data = await r.json();
  const body = $("jobs").tBodies[0];
  const checked = new Set([...body.querySelectorAll("input:checked")].map((c) => c.value));
  body.replaceChildren();
  for (const j of data.jobs) {
    const tr = el("tr");
    tr.dataset.job = j.name;
    const box = el("input");
    box.type = "checkbox";
    box.value = j.name;
    box.checked = checked.has(j.name);
    box.disabled = !!j.skipped;
    const cell = el("td");
    cell.append(box);
    tr.append(cell, el("td", j.name), el("td", j.source),
      el("td", j.segments === null ? "from the playlist" : j.segments),
      el("td", j.output), el("td", j.skipped ? "skipped: " + j.skipped : stateText(j.state), "state-" + j.state.kind));
    body.append(tr);
    const plan = el("tr");
    const td = el("td", null, "plan");
    td.colSpan = 6;
    const lines = [];
    if (j.first_url) lines.push("first   " + j.first_url);
    if (j.last_url) lines.push("last    " + j.last_url);
    for (const [n, v] of j.headers) lines.push("header  " + n + ": " + v);
    td.textContent = lines.join("\n");
    td.style.whiteSpace = "pre-wrap";
    plan.append(el("td"), td);
    body.append(plan);
  }
  $("no-jobs").hidden = data.jobs.length > 0;
  $("jobs-problems").hidden = !data.problems;
  $("jobs-problems").textContent = data.problems || "";
  const select = $("add-file");
  if (select.options.length !== data.files.length) {
    select.replaceChildren();
    data.files.forEach((f, i) => { const o = el("option", f); o.value = String(i); select.append(o); });
  }
}

// ---- Add ----

function form() {
  return {
    input: $("add-input").value,
    range: $("add-range").value,
    length: $("add-length").value,
    segment: $("add-segment").value,
    referer: $("add-referer").value,
    name: $("add-name").value,
    file: Number($("add-file").value || 0),
  };
}

function showAnswer(a) {
  $("add-message").textContent = a.message;
  $("add-message").className = a.ok ? "" : "problems";
  $("add-yaml").hidden = !a.ok;
  $("add-yaml").textContent = a.yaml;
  $("add-exports-box").hidden = a.exports.length === 0;
  $("add-exports").textContent = a.exports.join("\n");
  const notes = $("add-notes");
  notes.replaceChildren(...a.notes.map((n) => el("li", n)));
}

async function preview() {
  const { data } = await post("/api/add/preview", form());
  showAnswer(data);
  $("add-write").disabled = !data.ok;
}

async function write() {
  const { data } = await post("/api/add", form());
  showAnswer(data);
  $("add-write").disabled = true;
  if (data.ok) await loadJobs();
}

// ---- Run ----

async function run(jobs) {
  const { data } = await post("/api/run", { jobs });
  if (data && data.error) {
    $("run-error").hidden = false;
    $("run-error").textContent = data.error;
  }
}

function selected() {
  return [...$("jobs").tBodies[0].querySelectorAll("input:checked")].map((c) => c.value);
}

function barRow(j) {
  const row = el("div", null, "bar-row");
  row.dataset.job = j.name;
  row.dataset.status = j.status;
  if (j.status === "ok" || j.status === "up to date") row.classList.add("done");
  if (j.status === "failed" || j.status === "interrupted") row.classList.add("failed");
  const bar = el("div", null, "bar");
  const fill = el("div");
  fill.style.width = (j.total > 0 ? Math.min(100, (100 * j.done) / j.total) : 0) + "%";
  bar.append(fill);
  const figures = [j.done + "/" + j.total + " segments", bytes(j.bytes), bytes(j.rate_bytes_s) + "/s"];
  if (j.retries > 0) figures.push(j.retries + (j.retries === 1 ? " retry" : " retries"));
  if (j.status !== "running") figures.push(j.status);
  else if (j.merging && j.done >= j.total) figures.push("merging");
  else figures.push("ETA " + clock(j.eta_s));
  if (j.error) figures.push(j.error);
  row.append(el("div", j.name), bar, el("div", figures.join(" · "), "figures"));
  return row;
}

function showLive(live) {
  $("run-stop").disabled = !live.running || live.stopping;
  $("run-selected").disabled = live.running;
  $("run-all").disabled = live.running;
  $("run-status").textContent = live.running ? (live.stopping ? "stopping…" : "running…") : "";
  $("run-error").hidden = !live.error;
  $("run-error").textContent = live.error || "";
  $("bars").replaceChildren(...live.jobs.map(barRow));
  const hosts = Object.entries(live.hosts).map(([h, v]) => {
    let t = h + ": " + v.in_flight + " in flight · limit " + v.limit + " · " + v.segments + " segments · " + v.rate_segments_s.toFixed(1) + " segments/s";
    if (v.slowed_per_second != null) t += " · slowed to " + v.slowed_per_second.toFixed(2) + " requests/s (429 without Retry-After)";
    if (v.paused_until) t += " · paused until " + v.paused_until + " (" + v.why + ")";
    return el("div", t, "host");
  });
  $("hosts").replaceChildren(...hosts);
  const report = live.report;
  $("report").hidden = !report;
  if (report) {
    const body = $("outputs").tBodies[0];
    body.replaceChildren(...report.outputs.map((o) => {
      const tr = el("tr");
      tr.append(el("td", o.job), el("td", o.status), el("td", o.path || "–"),
        el("td", clock(o.duration_s)), el("td", o.streams.join(", ")));
      return tr;
    }));
    $("report-markdown").textContent = report.markdown;
  }
}

let wasRunning = false;

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("state", (e) => {
    const live = JSON.parse(e.data);
    showLive(live);
    if (wasRunning !== live.running) loadJobs();
    wasRunning = live.running;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("add-preview").addEventListener("click", preview);
  $("add-write").addEventListener("click", write);
  for (const id of ["add-input", "add-range", "add-length", "add-segment", "add-referer", "add-name", "add-file"]) {
    $(id).addEventListener("input", () => { $("add-write").disabled = true; });
  }
  $("run-selected").addEventListener("click", () => {
    const jobs = selected();
    if (jobs.length === 0) {
      $("run-error").hidden = false;
      $("run-error").textContent = "select the jobs to run in the list above, or use Run all";
      return;
    }
    run(jobs);
  });
  $("run-all").addEventListener("click", () => run(null));
  $("run-stop").addEventListener("click", () => post("/api/stop", {}));
  loadJobs();
  listen();
});
