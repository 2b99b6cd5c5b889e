"use strict";
// A run's page (/runs/N) and a job's (/runs/N/jobs/J): graph, jobs and
// steps, live logs, annotations, artifacts, summary. Helpers (api, el,
// follow, ansi, …) are app.js's.

async function runPage() {
  const parts = location.pathname.split("/"); // "", "runs", id[, "jobs", job]
  const id = parts[2];
  const jobPage = parts[3] === "jobs" ? Number(parts[4]) : 0;
  let attempt = new URLSearchParams(location.search).get("attempt") || "";
  let run;
  const base = () => `/api/runs/${id}` + (attempt ? `/attempts/${attempt}` : "");
  // The buttons stay off (as the page comes) when the run cannot be read;
  // the reason is said unless it is the sign-in the page asks for.
  const unreadable = e => {
    if (e instanceof Unauthorized) return;
    $("#action-msg").textContent = e.status === 404 ? "Run #" + id + " not found" : String(e.message || e);
  };
  // A job page names a job of one attempt: find which.
  if (jobPage) {
    document.body.classList.add("job-page");
    try {
      run = await api(`/api/runs/${id}`);
      let found = false;
      for (const a of run.attempts) {
        const r = a.attempt === run.run_attempt ? run : await api(`/api/runs/${id}/attempts/${a.attempt}`);
        if (r.jobs.some(j => j.id === jobPage)) { found = true; attempt = a.attempt === run.run_attempt ? "" : String(a.attempt); break; }
      }
      if (!found) { $("#action-msg").textContent = "Job " + jobPage + " not found in run #" + id; return; }
    } catch (e) { unreadable(e); return; }
    $("#back").textContent = "← Run #" + id;
    $("#back").href = `/runs/${id}` + (attempt ? "?attempt=" + attempt : "");
  }
  const jobs = {};     // job key -> {box, head, steps: [{box, summary, body, group, n}], lines, id}
  const evDur = {};    // "job\x00n" -> step duration (ms) from its end event
  const annotations = [];
  function jobBox(key) {
    if (!jobs[key]) {
      const head = el("h3", {}, key);
      const box = el("section", { class: "job", "data-job": key }, head, el("div", { class: "job-log" }));
      if (jobPage) box.hidden = true;
      $("#jobs").append(box);
      jobs[key] = { key, box, head, steps: [], lines: 0, cur: 0, jobLog: null };
    }
    return jobs[key];
  }
  // stepBox is step n (1-based, in the order the job ran them) of a job.
  function stepBox(j, n) {
    while (j.steps.length < n) {
      const body = el("div", { class: "log" });
      const summary = el("summary", {}, el("span", { class: "mark" }, "○"), " ", el("span", { class: "name" }, ""), " ", el("span", { class: "dur" }));
      const d = el("details", { class: "step pending", open: "" }, summary, body);
      $(".job-log", j.box).append(d);
      j.steps.push({ details: d, summary, body, group: null });
    }
    return j.steps[n - 1];
  }
  // addLine appends one log line: its number (per job), time, text with
  // ANSI colours; "▸ title" (::group::) opens a collapsed group that runs
  // to its ::endgroup:: (an "endgroup" event), the next group or the
  // step's end.
  function addLine(j, target, ev, text) {
    const n = ++j.lines;
    const group = text.startsWith("▸ ") && target.body;
    const ln = el("a", { class: "ln", href: "#L" + n, "data-n": n }, String(n));
    const line = el("div", { class: "line", "data-n": n },
      ln, el("span", { class: "ts" }, new Date(ev.t).toISOString().replace("T", " ").slice(0, 23)), el("span", { class: "tx" }, ansi(group ? text.slice(2) : text)));
    // Only the page's job's lines are anchors: the other jobs are in the
    // page too (hidden), with the same line numbers.
    if (jobPage && j.id === jobPage) line.id = "L" + n;
    if (group) {
      const g = el("details", { class: "group" }, el("summary", {}, line), el("div", { class: "group-body" }));
      target.body.append(g);
      target.group = g;
      return;
    }
    const into = target.group ? $(".group-body", target.group) : target.body;
    into.append(line);
  }
  function jobLevel(j) {
    if (!j.jobLog) { j.jobLog = { body: el("div", { class: "log job-lines" }), group: null }; $(".job-log", j.box).append(j.jobLog.body); }
    return j.jobLog;
  }
  function onEvent(ev) {
    if (!["start", "end", "line", "annotation", "endgroup"].includes(ev.kind)) return; // kinds this page does not know
    if (ev.scope === "job") soon();
    const j = jobBox(ev.job || "run");
    if (ev.kind === "start" && ev.scope === "step") {
      j.cur++;
      const s = stepBox(j, j.cur);
      if (!$(".name", s.summary).textContent) $(".name", s.summary).textContent = ev.step;
      s.details.classList.replace("pending", "in_progress");
      return;
    }
    if (ev.kind === "end" && ev.scope === "step") {
      if (j.cur) {
        const s = stepBox(j, j.cur);
        s.group = null;
        evDur[j.key + "\x00" + j.cur] = ev.duration_ms || 0;
        setStep(s, { status: "completed", conclusion: ev.status, name: ev.step }, ev.duration_ms || 0);
      }
      return;
    }
    if (ev.kind === "start" || ev.kind === "end") return; // the job's head comes from the run's JSON
    if (ev.kind === "endgroup") { // ::endgroup::: the lines after it are outside the group
      if (ev.step && j.cur) stepBox(j, j.cur).group = null;
      return;
    }
    if (ev.kind === "annotation") {
      annotations.push({ job: ev.job, text: ev.text, a: ev.annotation });
      drawAnnotations();
    }
    const target = ev.step && j.cur ? stepBox(j, j.cur) : jobLevel(j);
    for (const t of (ev.text || "").split("\n")) addLine(j, target, ev, t);
    if (jobPage && !linked) deepLink();
  }
  function setStep(s, st, dur) {
    const v = st.status === "completed" ? (st.conclusion || "completed") : st.status;
    s.details.className = "step " + v;
    s.details.dataset.state = v;
    $(".mark", s.summary).textContent = ICON[v] || "•";
    $(".mark", s.summary).title = human(v);
    if (st.name) $(".name", s.summary).textContent = st.name;
    if (dur != null) $(".dur", s.summary).textContent = fmtDur(dur);
  }
  let pending = null;
  function soon() { if (!pending) pending = setTimeout(() => { pending = null; refresh().catch(() => {}); }, 100); }
  function drawJobs() {
    const order = [];
    for (const jj of run.jobs) {
      const j = jobBox(jj.name);
      j.id = jj.id;
      const v = state(jj);
      j.box.className = "job " + v;
      j.box.dataset.state = v;
      if (jj.id) j.box.id = "job-" + jj.id;
      if (jobPage) j.box.hidden = jj.id !== jobPage;
      const dur = jj.duration_ms ?? null;
      j.head.replaceChildren(badge(v, { class: "status " + v + " compact" }), " ", jj.display_name || jj.name,
        jj.cached ? el("span", { class: "cached-badge", title: "restored from the job cache" }, "cached") : "",
        el("span", { class: "dur" }, dur != null ? " " + fmtDur(dur) : ""),
        jj.id && !jobPage ? el("a", { class: "joblink", href: `/runs/${id}/jobs/${jj.id}` }, "log ↗") : "");
      jj.steps.forEach((st, i) => {
        const s = stepBox(j, i + 1);
        const d = evDur[j.key + "\x00" + (i + 1)];
        setStep(s, st, d != null ? d : (st.duration_ms ?? null));
      });
      // Steps shown pending that the job's list no longer has.
      while (j.steps.length > Math.max(jj.steps.length, j.cur) && !j.steps[j.steps.length - 1].body.children.length) j.steps.pop().details.remove();
      order.push(j.box);
    }
    // Workflow order; moved only when it changed (a move loses the
    // reader's selection).
    const box = $("#jobs");
    if (order.some((b, i) => box.children[i] !== b)) for (const b of order) box.append(b);
  }
  async function refresh() {
    run = await api(base());
    const title = run.name + " #" + run.run_number;
    document.title = title;
    $("#title").textContent = title + (run.run_attempt > 1 ? " (attempt " + run.run_attempt + ")" : "");
    const st = state(run);
    const actor = (run.actor && run.actor.login) || "";
    $("#summary").replaceChildren(badge(st, { id: "run-status" }), " · " + run.event + " · ",
      el("code", {}, run.head_branch || ""), " ", el("code", {}, (run.head_sha || "").slice(0, 7)),
      actor ? " · " + actor : "", " · ", el("span", { id: "run-duration" }, fmtDur(run.duration_ms)),
      note(run) ? " · " + note(run) : "");
    const sel = $("#attempts");
    sel.replaceChildren(...run.attempts.map((a, i) => el("option", { value: i === 0 ? "" : a.attempt },
      "#" + a.attempt + " · " + human(state(a)) + (i === 0 ? " (latest)" : ""))));
    sel.value = attempt && Number(attempt) !== run.attempts[0].attempt ? attempt : "";
    buttons();
    drawGraph();
    drawJobs();
  }
  // The buttons are enabled only for what the server says the viewer may
  // do now (its token, the run's state); a tooltip says why not.
  function buttons() {
    const why = (ok, what) => ok ? "" : !token() ? "Sign in with the API token to " + what : "";
    const set = (b, ok, what, reason) => { b.disabled = !ok; b.title = ok ? "" : (why(ok, what) || reason); };
    const done = run.status === "completed";
    const latest = run.attempts[0].attempt === run.run_attempt;
    set($("#cancel"), run.can.cancel, "cancel", done ? "The run has completed" : "");
    set($("#rerun"), run.can.rerun, "re-run", !latest ? "Only the latest attempt can be re-run" : "The run has not completed");
    set($("#rerun-failed"), run.can.rerun_failed, "re-run", !latest ? "Only the latest attempt can be re-run" : !done ? "The run has not completed" : "No job failed");
  }
  function drawGraph() {
    if (jobPage) return;
    const level = {};
    const depth = g => level[g] ?? (level[g] = Math.max(0, ...(run.graph.find(x => x.id === g)?.needs || []).map(n => depth(n) + 1)));
    run.graph.forEach(g => depth(g.id));
    const cols = [];
    for (const g of run.graph) (cols[level[g.id]] ||= []).push(g);
    $("#graph").replaceChildren(...cols.map(c => el("div", { class: "col" }, ...c.map(g => {
      const legs = run.jobs.filter(j => j.name === g.id || j.name.startsWith(g.id + " ("));
      let s = "pending";
      if (legs.length) s = legs.some(j => j.status !== "completed") ? (legs.some(j => j.status === "in_progress") ? "in_progress" : "pending") : (legs.find(j => j.conclusion === "failure") ? "failure" : legs[0].conclusion);
      const cached = legs.length > 0 && legs.every(j => j.cached);
      const dur = legs.length && legs.every(j => j.duration_ms != null) ? Math.max(...legs.map(j => j.duration_ms)) : null;
      const node = el("a", { class: "node " + s + (cached ? " cached" : ""), "data-node": g.id, "data-state": s, href: legs[0]?.id ? "#job-" + legs[0].id : "#" },
        el("div", {}, el("span", { class: "icon" }, ICON[s] || "•"), " ", g.name, cached ? el("span", { class: "cached-badge" }, "cached") : ""),
        el("div", { class: "needs" }, human(s) + (dur != null ? " · " + fmtDur(dur) : "") + (legs.length > 1 ? " · " + legs.length + " jobs" : "")));
      return node;
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
  // Annotations: the event's properties in GitHub's annotation shape
  // (level, title, path, lines, columns, message); logs written before
  // they were recorded have only the text "Error: file:line:col: message".
  function annotationOf(x) {
    const a = x.a;
    if (a) {
      const level = { failure: "error", warning: "warning", notice: "notice" }[a.annotation_level] || "error";
      let where = "";
      if (a.path && a.path !== ".github") {
        where = a.path + "#L" + a.start_line + (a.end_line > a.start_line ? "-L" + a.end_line : "");
        if (a.start_column != null) where += ":" + a.start_column + (a.end_column > a.start_column ? "-" + a.end_column : "");
      }
      return { level, where, title: a.title || "", message: a.message };
    }
    const m = /^(Error|Warning|Notice): (?:([^\s:]+):(\d+)(?::(\d+))?: )?(.*)$/s.exec(x.text) || [null, "Error", "", "", "", x.text];
    return { level: m[1].toLowerCase(), where: m[2] ? m[2] + "#L" + m[3] + (m[4] ? ":" + m[4] : "") : "", title: "", message: m[5] };
  }
  function drawAnnotations() {
    if (jobPage) return;
    $("#annotations-box").hidden = !annotations.length;
    $("#annotations").replaceChildren(...annotations.map(x => {
      const a = annotationOf(x);
      return el("li", { class: "annotation " + a.level, "data-level": a.level },
        el("span", { class: "icon" }, { error: "✗", warning: "⚠", notice: "ℹ" }[a.level] || "•"), " ", el("b", {}, x.job), " ",
        a.where ? el("code", { class: "where" }, a.where) : "", a.where ? " " : "",
        a.title ? el("b", { class: "title" }, a.title + ": ") : "",
        el("span", { class: "text" }, a.message));
    }));
  }
  async function drawArtifacts() {
    if (jobPage || !run.repository) return;
    const data = await api(`/repos/${run.repository.full_name}/actions/runs/${id}/artifacts?per_page=100`);
    $("#artifacts-box").hidden = !data.artifacts.length;
    $("#artifacts").replaceChildren(...data.artifacts.map(a => {
      const link = el("a", { href: a.archive_download_url, class: "artifact", "data-artifact": a.name, download: a.name + ".zip" }, a.name);
      // The download needs the token: fetch it, then save the blob.
      link.addEventListener("click", async ev => {
        ev.preventDefault();
        const r = await fetch(a.archive_download_url, { headers: authHeaders() });
        if (!r.ok) { $("#action-msg").textContent = a.name + ": " + r.status; return; }
        const url = URL.createObjectURL(await r.blob());
        const tmp = el("a", { href: url, download: a.name + ".zip" });
        document.body.append(tmp); tmp.click(); tmp.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      });
      return el("li", {}, link, el("span", { class: "muted" }, " " + (a.size_in_bytes < 1024 ? a.size_in_bytes + " B" : (a.size_in_bytes / 1024).toFixed(1) + " KiB")));
    }));
  }
  // The job summary is HTML the server rendered from Markdown and
  // sanitized (no raw HTML, no javascript: links).
  async function drawSummary() {
    if (jobPage) return;
    const r = await fetch(base() + "/summary", { headers: authHeaders(), cache: "no-store" });
    if (!r.ok) return;
    const html = await r.text();
    $("#summary-box").hidden = !html.trim();
    $("#step-summary").innerHTML = html;
  }
  // Search: lines holding the text are marked, their steps and groups
  // opened; Enter goes to the next one.
  let matches = [], at = -1;
  function search(next) {
    const text = $("#search").value.toLowerCase();
    if (!next) {
      for (const l of matches) l.classList.remove("match", "current");
      matches = [];
      at = -1;
      if (text) matches = [...document.querySelectorAll("#jobs .job:not([hidden]) .line")].filter(l => $(".tx", l).textContent.toLowerCase().includes(text));
      for (const l of matches) l.classList.add("match");
    }
    $("#search-info").textContent = text ? (matches.length ? `${matches.length} ${matches.length === 1 ? "match" : "matches"}` : "no match") : "";
    if (!matches.length) return;
    if (at >= 0) matches[at].classList.remove("current");
    at = (at + 1) % matches.length;
    reveal(matches[at]);
    matches[at].classList.add("current");
  }
  function reveal(line) {
    for (let p = line.parentElement; p; p = p.parentElement) if (p.tagName === "DETAILS") p.open = true;
    line.scrollIntoView({ block: "center" });
  }
  $("#search").addEventListener("input", () => search(false));
  $("#search").addEventListener("keydown", ev => { if (ev.key === "Enter") { ev.preventDefault(); search(true); } });
  $("#timestamps").addEventListener("change", ev => document.body.classList.toggle("show-ts", ev.target.checked));
  $("#expand-all").addEventListener("click", () => { for (const d of document.querySelectorAll("#jobs details")) d.open = true; });
  // Deep links: #L<n> on a job page highlights and scrolls to line n; on
  // the run page a line's number opens its job page there.
  let linked = false;
  function deepLink() {
    const m = /^#L(\d+)$/.exec(location.hash);
    if (!m) return;
    const line = document.getElementById("L" + m[1]);
    if (!line) return;
    linked = true;
    for (const l of document.querySelectorAll(".line.highlight")) l.classList.remove("highlight");
    line.classList.add("highlight");
    reveal(line);
  }
  window.addEventListener("hashchange", () => { linked = false; deepLink(); });
  $("#jobs").addEventListener("click", ev => {
    const a = ev.target.closest("a.ln");
    if (!a || jobPage) return;
    const box = a.closest(".job");
    const j = box && jobs[box.dataset.job];
    if (!j || !j.id) return;
    ev.preventDefault();
    location.href = `/runs/${id}/jobs/${j.id}#L${a.dataset.n}`;
  });
  const msg = $("#action-msg");
  $("#cancel").addEventListener("click", async () => { const r = await post(`/api/runs/${id}/cancel`); msg.textContent = r.ok ? "" : r.status + ": " + r.msg; soon(); });
  const rerun = failed => async () => {
    const r = await post(`/api/runs/${id}/rerun` + (failed ? "?failed=true" : ""));
    if (!r.ok) { msg.textContent = r.status + ": " + r.msg; return; }
    location.href = "/runs/" + r.location.split("/").pop();
  };
  $("#rerun").addEventListener("click", rerun(false));
  $("#rerun-failed").addEventListener("click", rerun(true));
  $("#attempts").addEventListener("change", ev => {
    location.href = `/runs/${id}` + (ev.target.value ? "?attempt=" + ev.target.value : "");
  });
  try { await refresh(); } catch (e) { unreadable(e); return; }
  // A run deleted while its page is open (its calls answer 404): the page
  // stops polling and following its log, says so and turns the buttons
  // off. An idle page (the log ended) looks again when it is shown again.
  let timer = null;
  const logs = new AbortController();
  const gone = () => {
    if (document.body.dataset.deleted) return;
    clearInterval(timer);
    logs.abort();
    document.body.dataset.deleted = "true";
    for (const b of ["#cancel", "#rerun", "#rerun-failed"]) { $(b).disabled = true; $(b).title = "The run was deleted"; }
    $("#action-msg").textContent = "Run #" + id + " was deleted";
  };
  const poll = () => refresh().catch(e => { if (e.status === 404) gone(); });
  timer = setInterval(poll, 1000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden && !document.body.dataset.deleted) poll(); });
  drawSummary().catch(() => {});
  follow(base() + "/logs?stream=1", onEvent, () => {
    clearInterval(timer);
    refresh().then(() => { drawArtifacts().catch(() => {}); drawSummary().catch(() => {}); }).catch(e => { if (e.status === 404) gone(); });
    if (jobPage) deepLink();
    document.body.dataset.logs = "done";
  }, gone, logs.signal);
}
