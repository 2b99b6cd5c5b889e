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
  if (!r.ok) { const e = new Error(url + ": " + r.status); e.status = r.status; throw e; }
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
// the "end" event's. It reconnects with Last-Event-ID after a cut; a 404
// or 410 (the run or its logs were deleted meanwhile) ends it with
// onGone(status) instead. Aborting signal stops it.
async function follow(url, onEvent, onEnd, onGone = () => {}, signal = undefined) {
  let last = "";
  for (;;) {
    if (signal && signal.aborted) return;
    let r;
    try {
      r = await fetch(url, { headers: authHeaders(last ? { "Accept": "text/event-stream", "Last-Event-ID": last } : { "Accept": "text/event-stream" }), cache: "no-store", signal });
    } catch (e) { await sleep(1000); continue; }
    if (r.status === 401) { showLogin(token() ? "Bad credentials" : "Sign in with the API token"); return; }
    if (r.status === 404 || r.status === 410) { onGone(r.status); return; }
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
// fmtDur shows a duration as GitHub does (1m 5s), with tenths under a
// minute and milliseconds under a second.
function fmtDur(ms) {
  if (ms == null || isNaN(ms)) return "";
  if (ms < 1000) return Math.round(ms) + "ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + "s";
  const s = Math.round(ms / 1000);
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m";
}
// state is what a run, job or step is: its conclusion once completed.
function state(x) { return x.status === "completed" ? (x.conclusion || "completed") : x.status; }
const HUMAN = { queued: "Queued", in_progress: "In progress", completed: "Completed", success: "Success", failure: "Failure",
  cancelled: "Cancelled", skipped: "Skipped", pending: "Pending", waiting: "Waiting", requested: "Requested",
  timed_out: "Timed out", neutral: "Neutral", action_required: "Action required", stale: "Stale" };
const ICON = { success: "✓", failure: "✗", cancelled: "⊘", skipped: "⊝", in_progress: "◌", queued: "○", pending: "○", waiting: "○" };
function human(s) { return HUMAN[s] || s; }
// note is why a run ended as it did, unless that only says its state
// again (a cancelled run's message is "cancelled").
function note(x) {
  const m = (x.message || "").trim(), s = state(x);
  return m.toLowerCase() === s || m.toLowerCase() === human(s).toLowerCase() ? "" : m;
}
// badge is a state's icon and human name; data-state keeps the raw one.
function badge(s, attrs = {}) {
  return el("span", { class: "status " + s, "data-state": s, title: human(s), ...attrs }, el("span", { class: "icon", "aria-hidden": "true" }, ICON[s] || "•"), " ", el("span", { class: "label" }, human(s)));
}
function ago(t) {
  if (!t) return "";
  const d = new Date(t);
  return el("time", { datetime: t, title: d.toLocaleString() }, d.toLocaleString());
}

// ANSI SGR colours (ESC [ … m) to spans; other escape sequences dropped.
const ANSI = /\x1b\[([0-9;]*)([A-Za-z])/g;
const PALETTE = ["#4d4d4d", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#e5e5e5",
  "#808080", "#ff6b6b", "#5af78e", "#f4f99d", "#76a8f8", "#ff92d0", "#9aedfe", "#ffffff"];
function color256(n) {
  if (n < 16) return PALETTE[n];
  if (n < 232) { n -= 16; const c = v => v ? v * 40 + 55 : 0; return `rgb(${c(Math.floor(n / 36))},${c(Math.floor(n / 6) % 6)},${c(n % 6)})`; }
  const g = (n - 232) * 10 + 8; return `rgb(${g},${g},${g})`;
}
function ansi(text) {
  const out = document.createDocumentFragment();
  let st = {}, last = 0, m;
  const put = s => {
    if (!s) return;
    if (!st.fg && !st.bg && !st.bold && !st.italic && !st.underline) { out.append(s); return; }
    const e = el("span", { class: "ansi" }, s);
    if (st.fg) e.style.color = st.fg;
    if (st.bg) e.style.backgroundColor = st.bg;
    if (st.bold) e.style.fontWeight = "bold";
    if (st.italic) e.style.fontStyle = "italic";
    if (st.underline) e.style.textDecoration = "underline";
    out.append(e);
  };
  ANSI.lastIndex = 0;
  while ((m = ANSI.exec(text))) {
    put(text.slice(last, m.index));
    last = ANSI.lastIndex;
    if (m[2] !== "m") continue;
    const codes = m[1] === "" ? [0] : m[1].split(";").map(Number);
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) st = {};
      else if (c === 1) st.bold = true;
      else if (c === 3) st.italic = true;
      else if (c === 4) st.underline = true;
      else if (c === 22) st.bold = false;
      else if (c === 23) st.italic = false;
      else if (c === 24) st.underline = false;
      else if (c >= 30 && c <= 37) st.fg = PALETTE[c - 30];
      else if (c >= 90 && c <= 97) st.fg = PALETTE[c - 90 + 8];
      else if (c >= 40 && c <= 47) st.bg = PALETTE[c - 40];
      else if (c >= 100 && c <= 107) st.bg = PALETTE[c - 100 + 8];
      else if (c === 39) st.fg = null;
      else if (c === 49) st.bg = null;
      else if ((c === 38 || c === 48) && codes[i + 1] === 5) { st[c === 38 ? "fg" : "bg"] = color256(codes[i + 2] || 0); i += 2; }
      else if ((c === 38 || c === 48) && codes[i + 1] === 2) { st[c === 38 ? "fg" : "bg"] = `rgb(${codes[i + 2] || 0},${codes[i + 3] || 0},${codes[i + 4] || 0})`; i += 4; }
    }
  }
  put(text.slice(last));
  return out;
}

document.addEventListener("DOMContentLoaded", () => {
  localStorage.removeItem(KEY); // earlier versions kept the token there, for good
  $("#logout").hidden = !token();
  $("#login").hidden = !!token(); // public-read: reading needs no token, acting does
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
