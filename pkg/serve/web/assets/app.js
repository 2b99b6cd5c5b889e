"use strict";
// runner serve's UI: reads the JSON API and follows live logs (Server-Sent
// Events read with fetch), sending the API token in the Authorization
// header. The token is kept in sessionStorage (this tab only, gone when it
// closes), never in a URL or a cookie: a page of another site can neither
// read it nor make the browser send it.
const $ = (s, el = document) => el.querySelector(s);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const KEY = "runner-token";
function token() { return sessionStorage.getItem(KEY) || ""; }
function authHeaders(h = {}) { const t = token(); return t ? { ...h, "Authorization": "Bearer " + t } : h; }
// showLogin asks for the token (after a 401).
function showLogin(msg) {
  $("#login").hidden = false;
  $("#logout").hidden = true;
  $("#login-msg").textContent = msg || "";
}
class Unauthorized extends Error {}
// api GETs JSON; a 401 shows the login form.
async function api(url) {
  const r = await fetch(url, { headers: authHeaders(), cache: "no-store" });
  if (r.status === 401) { showLogin(token() ? "Bad credentials" : "Sign in with the API token"); throw new Unauthorized(url); }
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}
async function post(url, body) {
  const r = await fetch(url, { method: "POST", headers: authHeaders({ "Content-Type": "application/json" }), body: body ? JSON.stringify(body) : null });
  let msg = "";
  if (r.status === 401) showLogin("Bad credentials");
  if (!r.ok) { try { msg = (await r.json()).message; } catch (e) { msg = r.statusText; } }
  return { ok: r.ok, status: r.status, msg, location: r.headers.get("Location") };
}
const sleep = ms => new Promise(res => setTimeout(res, ms));
// follow reads a Server-Sent Events stream with fetch (EventSource cannot
// send the Authorization header): onEvent gets each message's JSON, onEnd
// the "end" event's. It reconnects with Last-Event-ID after a cut.
async function follow(url, onEvent, onEnd) {
  let last = "";
  for (;;) {
    let r;
    try {
      r = await fetch(url, { headers: authHeaders(last ? { "Accept": "text/event-stream", "Last-Event-ID": last } : { "Accept": "text/event-stream" }), cache: "no-store" });
    } catch (e) { await sleep(1000); continue; }
    if (r.status === 401) { showLogin(token() ? "Bad credentials" : "Sign in with the API token"); return; }
    if (!r.ok) { await sleep(2000); continue; }
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let kind = "message", id = null;
          const data = [];
          for (const line of block.split("\n")) {
            const c = line.indexOf(":");
            const k = c < 0 ? line : line.slice(0, c);
            let v = c < 0 ? "" : line.slice(c + 1);
            if (v.startsWith(" ")) v = v.slice(1);
            if (k === "id") id = v; else if (k === "event") kind = v; else if (k === "data") data.push(v);
          }
          if (id !== null) last = id;
          if (!data.length) continue;
          const msg = JSON.parse(data.join("\n"));
          if (kind === "end") { onEnd(msg); return; }
          onEvent(msg);
        }
      }
    } catch (e) { /* cut: reconnect */ }
    await sleep(1000);
  }
}
function fmtDur(ms) {
  if (ms == null) return "";
  return ms < 60000 ? (ms / 1000).toFixed(1) + "s" : Math.floor(ms / 60000) + "m" + Math.round(ms % 60000 / 1000) + "s";
}
function state(x) { return x.status === "completed" ? (x.conclusion || "completed") : x.status; }

async function indexPage() {
  async function loadRuns() {
    const data = await api("/api/runs?per_page=50");
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
    const list = await api("/api/workflows");
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
  try { await loadRuns(); } catch (e) { if (e instanceof Unauthorized) return; }
  loadWorkflows().catch(() => {});
  setInterval(() => loadRuns().catch(() => {}), 2000);
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
  function soon() { if (!pending) pending = setTimeout(() => { pending = null; refresh().catch(() => {}); }, 100); }
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
    run = await api("/api/runs/" + id);
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
  try { await refresh(); } catch (e) { return; }
  const timer = setInterval(() => refresh().catch(() => {}), 1000);
  follow(`/api/runs/${id}/logs?stream=1`, onEvent, () => { clearInterval(timer); refresh().catch(() => {}); });
}

document.addEventListener("DOMContentLoaded", () => {
  localStorage.removeItem(KEY); // earlier versions kept the token there, for good
  $("#logout").hidden = !token();
  $("#login").addEventListener("submit", async ev => {
    ev.preventDefault();
    const t = $("#token").value.trim();
    const r = await fetch("/api/repos", { headers: { "Authorization": "Bearer " + t }, cache: "no-store" });
    if (r.status === 401) { $("#login-msg").textContent = "Bad credentials"; return; }
    sessionStorage.setItem(KEY, t);
    location.reload();
  });
  $("#logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });
  if (document.body.dataset.page === "run") runPage(); else indexPage();
});
