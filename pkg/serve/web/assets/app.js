"use strict";
// runner serve's UI: reads the JSON API, posts with the token kept in
// localStorage, follows live logs with Server-Sent Events.
const $ = (s, el = document) => el.querySelector(s);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const tokenInput = () => $("#token");
function token() { return tokenInput().value || localStorage.getItem("runner-token") || ""; }
async function post(url, body) {
  const r = await fetch(url, { method: "POST", headers: { "Authorization": "Bearer " + token(), "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : null });
  let msg = "";
  if (!r.ok) { try { msg = (await r.json()).message; } catch (e) { msg = r.statusText; } }
  return { ok: r.ok, status: r.status, msg, location: r.headers.get("Location") };
}
function fmtDur(ms) {
  if (ms == null) return "";
  return ms < 60000 ? (ms / 1000).toFixed(1) + "s" : Math.floor(ms / 60000) + "m" + Math.round(ms % 60000 / 1000) + "s";
}
function state(x) { return x.status === "completed" ? (x.conclusion || "completed") : x.status; }

async function indexPage() {
  async function loadRuns() {
    const data = await (await fetch("/api/runs?per_page=50")).json();
    const body = $("#runs tbody");
    body.replaceChildren(...data.workflow_runs.map(r => el("tr", { "data-run": r.id },
      el("td", {}, el("a", { href: "/runs/" + r.id }, "#" + r.id)),
      el("td", {}, el("a", { href: "/runs/" + r.id }, r.name)),
      el("td", {}, r.event), el("td", {}, (r.head_sha || "").slice(0, 7)),
      el("td", { class: "status " + state(r) }, state(r)),
      el("td", {}, fmtDur(r.duration_ms)),
      el("td", {}, new Date(r.created_at).toLocaleString()))));
  }
  async function loadWorkflows() {
    const list = await (await fetch("/api/workflows")).json();
    const box = $("#workflows");
    box.replaceChildren();
    for (const w of list.filter(w => w.dispatch)) {
      const form = el("form", { class: "dispatch", "data-workflow": w.file }, el("h3", {}, w.name + " ", el("small", {}, w.path)));
      for (const i of w.inputs) {
        let input;
        if (i.type === "choice") {
          input = el("select", { name: i.name }, ...i.options.map(o => el("option", o === i.default ? { value: o, selected: "" } : { value: o }, o)));
        } else if (i.type === "boolean") {
          input = el("input", { type: "checkbox", name: i.name });
          input.checked = i.default === "true";
        } else {
          input = el("input", { type: i.type === "number" ? "number" : "text", name: i.name, value: i.default || "" });
          if (i.required) input.required = true;
        }
        form.append(el("label", {}, i.name + (i.required ? " *" : "") + " ", input, " ", el("span", { class: "desc" }, i.description || "")));
      }
      const msg = el("span", { class: "msg" });
      form.append(el("button", { type: "submit" }, "Run workflow"), msg);
      form.addEventListener("submit", async ev => {
        ev.preventDefault();
        const inputs = {};
        for (const i of w.inputs) {
          const f = form.elements[i.name];
          inputs[i.name] = i.type === "boolean" ? String(f.checked) : f.value;
        }
        const [owner, repo] = w.repository.split("/");
        const r = await post(`/repos/${owner}/${repo}/actions/workflows/${w.file}/dispatches`, { ref: w.ref, inputs });
        if (!r.ok) { msg.textContent = r.status + ": " + r.msg; return; }
        msg.textContent = "";
        if (r.location) location.href = "/runs/" + r.location.split("/").pop();
      });
      box.append(form);
    }
  }
  loadRuns(); loadWorkflows();
  setInterval(loadRuns, 2000);
}

async function runPage() {
  const id = location.pathname.split("/").pop();
  const jobs = {};   // key -> {box, steps: {name -> {details, pre}}, cur}
  let run;
  function jobBox(key) {
    if (!jobs[key]) {
      const box = el("div", { class: "job", "data-job": key }, el("h3", {}, key));
      $("#jobs").append(box);
      jobs[key] = { box, steps: [], cur: null };
    }
    return jobs[key];
  }
  function stepBox(j, name) {
    const pre = el("pre", { class: "log" });
    const summary = el("summary", {}, el("span", { class: "mark" }, "• "), name);
    const d = el("details", { class: "step", open: "" }, summary, pre);
    d.dataset.step = name;
    j.box.append(d);
    const s = { details: d, pre, summary };
    j.steps.push(s); j.cur = s;
    return s;
  }
  let pending = null;
  function soon() { if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 100); }
  function onEvent(ev) {
    if (!["start", "end", "line", "annotation"].includes(ev.kind)) return; // kinds this page does not know
    if (ev.scope === "job") soon(); // job states changed: redraw the graph
    const j = jobBox(ev.job || "run");
    if (ev.kind === "start" && ev.scope === "step") { stepBox(j, ev.step); return; }
    if (ev.kind === "start") { $("h3", j.box).textContent = ev.text || ev.job; return; }
    if (ev.kind === "end" && ev.scope === "step") {
      const s = j.steps.slice().reverse().find(s => s.details.dataset.step === ev.step) || j.cur;
      if (s) {
        $(".mark", s.summary).textContent = { success: "✓ ", failure: "✗ ", skipped: "- " }[ev.status] || "• ";
        s.details.classList.add(ev.status);
        if (ev.duration_ms) s.summary.append(el("span", { class: "dur" }, " " + fmtDur(ev.duration_ms)));
      }
      return;
    }
    if (ev.kind === "end") { j.box.classList.add(ev.status); $("h3", j.box).append(" — " + ev.status + (ev.text ? " (" + ev.text + ")" : "")); return; }
    const s = j.cur || stepBox(j, ev.step || "job");
    s.pre.append(ev.text + "\n");
  }
  async function refresh() {
    run = await (await fetch("/api/runs/" + id)).json();
    document.title = run.name + " #" + run.id;
    $("#title").textContent = run.name + " #" + run.id + (run.run_attempt > 1 ? " (attempt " + run.run_attempt + ")" : "");
    const st = state(run);
    $("#summary").replaceChildren(el("span", { class: "status " + st, id: "run-status" }, st), " · " + run.event + " · " + (run.head_branch || "") + " " + (run.head_sha || "").slice(0, 7) +
      " · " + fmtDur(run.duration_ms) + (run.message ? " · " + run.message : ""));
    $("#cancel").disabled = run.status === "completed";
    $("#rerun").disabled = $("#rerun-failed").disabled = run.status !== "completed";
    drawGraph();
  }
  function drawGraph() {
    const level = {};
    const depth = id => level[id] ?? (level[id] = Math.max(0, ...(run.graph.find(g => g.id === id)?.needs || []).map(n => depth(n) + 1)));
    run.graph.forEach(g => depth(g.id));
    const cols = [];
    for (const g of run.graph) (cols[level[g.id]] ||= []).push(g);
    $("#graph").replaceChildren(...cols.map(c => el("div", { class: "col" }, ...c.map(g => {
      const legs = run.jobs.filter(j => j.name === g.id || j.name.startsWith(g.id + " ("));
      let s = "waiting";
      if (legs.length) s = legs.some(j => j.status !== "completed") ? "in_progress" : (legs.find(j => j.conclusion === "failure") ? "failure" : legs[0].conclusion);
      return el("div", { class: "node " + s, "data-node": g.id }, el("div", {}, g.name), el("div", { class: "needs" }, s + (g.needs.length ? " · needs " + g.needs.join(", ") : "")));
    }))));
    drawEdges();
  }
  // drawEdges connects each job to the jobs it needs with SVG lines.
  function drawEdges() {
    const box = $("#graph"), origin = box.getBoundingClientRect();
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "edges");
    svg.setAttribute("width", box.scrollWidth);
    svg.setAttribute("height", box.scrollHeight);
    for (const g of run.graph) {
      const to = $(`[data-node="${CSS.escape(g.id)}"]`, box);
      for (const n of g.needs) {
        const from = $(`[data-node="${CSS.escape(n)}"]`, box);
        if (!from || !to) continue;
        const a = from.getBoundingClientRect(), b = to.getBoundingClientRect();
        const line = document.createElementNS(ns, "line");
        line.setAttribute("x1", a.right - origin.left); line.setAttribute("y1", a.top + a.height / 2 - origin.top);
        line.setAttribute("x2", b.left - origin.left); line.setAttribute("y2", b.top + b.height / 2 - origin.top);
        svg.append(line);
      }
    }
    box.append(svg);
  }
  const msg = $("#action-msg");
  $("#cancel").addEventListener("click", async () => { const r = await post(`/api/runs/${id}/cancel`); msg.textContent = r.ok ? "" : r.status + ": " + r.msg; });
  const rerun = failed => async () => {
    const r = await post(`/api/runs/${id}/rerun` + (failed ? "?failed=true" : ""));
    if (!r.ok) { msg.textContent = r.status + ": " + r.msg; return; }
    location.href = "/runs/" + r.location.split("/").pop();
  };
  $("#rerun").addEventListener("click", rerun(false));
  $("#rerun-failed").addEventListener("click", rerun(true));
  await refresh();
  const es = new EventSource(`/api/runs/${id}/logs?stream=1`);
  es.onmessage = m => { onEvent(JSON.parse(m.data)); };
  let timer = setInterval(refresh, 1000);
  es.addEventListener("end", () => { es.close(); clearInterval(timer); refresh(); });
}

document.addEventListener("DOMContentLoaded", () => {
  const t = tokenInput();
  t.value = localStorage.getItem("runner-token") || "";
  t.addEventListener("change", () => localStorage.setItem("runner-token", t.value));
  if (document.body.dataset.page === "run") runPage(); else indexPage();
});
