"use strict";
// The runs list (/): the workflow sidebar, filters, pages and dispatch
// forms. Helpers (api, el, badge, …) are app.js's.

const PER_PAGE = 50;
const FILTERS = ["status", "branch", "actor", "event"];

async function indexPage() {
  const q = new URLSearchParams(location.search);
  const repo = q.get("repo") || "", wfFile = q.get("workflow") || "";
  const pageN = Math.max(1, parseInt(q.get("page") || "1", 10) || 1);
  const form = $("#filters");
  for (const k of FILTERS) form.elements[k].value = q.get(k) || "";
  const go = changes => {
    const n = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) { if (v) n.set(k, v); else n.delete(k); }
    location.search = n.toString();
  };
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    const c = { page: "" };
    for (const k of FILTERS) c[k] = form.elements[k].value.trim();
    go(c);
  });
  $("#clear-filters").addEventListener("click", () => go({ page: "", status: "", branch: "", actor: "", event: "" }));
  let lastPage = 1;
  $("#prev").addEventListener("click", () => { const p = Math.min(pageN - 1, lastPage); go({ page: p > 1 ? String(p) : "" }); });
  $("#next").addEventListener("click", () => go({ page: String(pageN + 1) }));
  // The list is GitHub's list call, whose filters the server applies: a
  // workflow's runs, or every repository's.
  function listURL() {
    const p = new URLSearchParams({ per_page: PER_PAGE, page: pageN });
    for (const k of FILTERS) if (q.get(k)) p.set(k, q.get(k));
    if (repo && wfFile) return `/repos/${repo}/actions/workflows/${encodeURIComponent(wfFile)}/runs?` + p;
    return "/api/runs?" + p;
  }
  const seen = { branches: new Set(), actors: new Set() };
  async function loadRuns() {
    const data = await api(listURL());
    const body = $("#runs tbody");
    body.replaceChildren(...data.workflow_runs.map(r => {
      const s = state(r);
      const branch = r.head_branch || "";
      const actor = (r.actor && r.actor.login) || "";
      if (branch) seen.branches.add(branch);
      if (actor) seen.actors.add(actor);
      return el("tr", { "data-run": r.id },
        el("td", {}, badge(s)),
        el("td", {}, el("a", { href: "/runs/" + r.id, class: "run-title" }, r.name + " #" + r.run_number),
          r.run_attempt > 1 ? el("span", { class: "muted" }, " · attempt " + r.run_attempt) : "",
          note(r) ? el("div", { class: "muted small" }, note(r)) : ""),
        el("td", { class: "branch" }, branch ? el("code", {}, branch) : ""),
        el("td", { class: "event" }, r.event),
        el("td", { class: "actor" }, actor),
        el("td", {}, el("code", {}, (r.head_sha || "").slice(0, 7))),
        el("td", {}, ago(r.created_at)),
        el("td", { class: "duration" }, fmtDur(r.duration_ms)));
    }));
    $("#branches").replaceChildren(...[...seen.branches].sort().map(b => el("option", { value: b })));
    $("#actors").replaceChildren(...[...seen.actors].sort().map(a => el("option", { value: a })));
    const pages = Math.max(1, Math.ceil(data.total_count / PER_PAGE));
    $("#count").textContent = data.total_count + (data.total_count === 1 ? " workflow run" : " workflow runs");
    // A page past the last one is empty, as GitHub answers it (the list
    // is not moved elsewhere); Previous goes to the last page.
    const past = pageN > pages;
    $("#page-info").textContent = past ? `Page ${pageN}: past the last page (${pages})` : `Page ${pageN} of ${pages}`;
    $("#prev").disabled = pageN <= 1;
    $("#next").disabled = pageN >= pages;
    lastPage = pages;
    if (!data.workflow_runs.length) body.append(el("tr", {}, el("td", { colspan: 8, class: "muted" }, past ? `No runs on page ${pageN}: there ${pages === 1 ? "is 1 page" : "are " + pages + " pages"}.` : "No runs match.")));
  }
  async function loadWorkflows() {
    const list = await api("/api/workflows");
    const nav = $("#workflow-list");
    const all = $('a[data-workflow=""]', nav);
    if (!wfFile) all.classList.add("current");
    const repos = [...new Set(list.map(w => w.repository))];
    for (const w of list) {
      const href = "/?" + new URLSearchParams({ repo: w.repository, workflow: w.file });
      const a = el("a", { href, "data-workflow": w.file, "data-repo": w.repository, title: w.path }, w.name || w.path,
        repos.length > 1 ? el("span", { class: "muted small" }, " " + w.repository) : "");
      if (w.repository === repo && w.file === wfFile) { a.classList.add("current"); $("#list-title").textContent = w.name || w.path; }
      nav.append(el("li", {}, a));
    }
    const box = $("#workflows");
    box.replaceChildren();
    for (const w of list.filter(w => w.dispatch && (!wfFile || (w.file === wfFile && w.repository === repo)))) {
      const form = el("form", { class: "dispatch", "data-workflow": w.file }, el("h3", {}, w.name + " ", el("small", {}, w.path)));
      // The fields by input name (form.elements[name] is the list's own
      // length, item, … for inputs named so).
      const fields = new Map();
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
        fields.set(i.name, input);
        form.append(el("label", {}, i.name + (i.required ? " *" : "") + " ", input, " ", el("span", { class: "desc" }, i.description || "")));
      }
      const msg = el("span", { class: "msg" });
      form.append(el("button", { type: "submit" }, "Run workflow"), msg);
      form.addEventListener("submit", async ev => {
        ev.preventDefault();
        const inputs = {};
        for (const i of w.inputs) {
          const f = fields.get(i.name);
          inputs[i.name] = i.type === "boolean" ? String(f.checked) : f.value;
        }
        const [owner, name] = w.repository.split("/");
        const r = await post(`/repos/${owner}/${name}/actions/workflows/${w.file}/dispatches`, { ref: w.ref, inputs });
        if (!r.ok) { msg.textContent = r.status + ": " + r.msg; return; }
        msg.textContent = "";
        if (r.location) location.href = "/runs/" + r.location.split("/").pop();
      });
      box.append(form);
    }
    $("#dispatch").hidden = !box.children.length;
  }
  try { await loadRuns(); } catch (e) { if (e instanceof Unauthorized) return; $("#count").textContent = String(e); }
  loadWorkflows().catch(() => {});
  setInterval(() => loadRuns().catch(() => {}), 3000);
}
