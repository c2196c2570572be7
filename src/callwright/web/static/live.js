// Callwright dashboard: the live views of a call and of a campaign, over Server-Sent Events.
// What a stream carries is shown with textContent, never parsed as HTML; the record and the rows
// table come from the server's own render of the page, escaped like any page.
"use strict";

function setStatus(badge, status) {
  badge.textContent = status;
  badge.className = "status status-" + status;  // the badge's colour follows the status
}

// This page as the server renders it now (our own escaped HTML; a parsed document runs no script).
async function freshPage() {
  const response = await fetch(window.location.pathname + window.location.search, { credentials: "same-origin" });
  if (!response.ok) return null;
  return new DOMParser().parseFromString(await response.text(), "text/html");
}

// A call in progress: turns as they are spoken, the status as it changes; at the end the record
// (recording, latency, results, webhook deliveries) replaces the live view, without a reload.
function turnItem(turn) {
  const li = document.createElement("li");
  li.className = "turn turn-" + (turn.role === "user" ? "user" : "agent");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = turn.role;
  li.append(who, " " + turn.text);
  if (turn.interrupted) {
    const note = document.createElement("em");
    note.textContent = "(interrupted)";
    li.append(" ", note);
  }
  return li;
}

function followCall(note) {
  const list = document.getElementById("transcript");
  const badge = document.getElementById("call-status");
  const source = new EventSource(note.dataset.events);
  source.addEventListener("turn", (e) => {
    // A turn grows while it is spoken: the server sends it again, with its index, when it changes.
    const turn = JSON.parse(e.data);
    const li = turnItem(turn);
    const old = list.children[turn.index];
    if (old) { old.replaceWith(li); } else { list.append(li); }
  });
  source.addEventListener("transcript", (e) => {
    list.replaceChildren(...JSON.parse(e.data).map(turnItem));
  });
  source.addEventListener("status", (e) => setStatus(badge, JSON.parse(e.data).status));
  source.addEventListener("end", async () => {
    source.close();
    note.textContent = "The call has ended: loading its recording and results…";
    let fresh = null;
    try { fresh = await freshPage(); } catch (err) { fresh = null; }
    const main = fresh && fresh.querySelector("main");
    if (main) {
      document.querySelector("main").replaceWith(document.adoptNode(main));
    } else {
      note.textContent = "The call has ended. Reload the page for its recording and results.";
    }
  });
}

// A campaign: its status and rows per state from the stream; the bar, the buttons and the rows
// table are taken from a fresh render of the page whenever the progress changes.
async function refreshCampaign() {
  let fresh = null;
  try { fresh = await freshPage(); } catch (err) { return; }  // the next change fetches it again
  if (!fresh) return;
  for (const id of ["campaign-controls", "progress-bar", "progress-outcomes", "campaign-rows"]) {
    const now = document.getElementById(id);
    const next = fresh.getElementById(id);
    if (now && next) now.replaceWith(document.adoptNode(next));
  }
}

function followCampaign(section) {
  const source = new EventSource(section.dataset.events);
  // One fetch at a time: changes that come while one runs are covered by a single next one.
  let busy = false;
  let again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do { again = false; await refreshCampaign(); } while (again);
    } finally {
      busy = false;
    }
  }
  source.addEventListener("progress", (e) => {
    const data = JSON.parse(e.data);
    const p = data.progress;
    const badge = document.getElementById("campaign-status");
    const summary = document.getElementById("progress-summary");
    const text = p.total + " rows · " + p.attempts + " calls placed · " + p.live_calls + " live";
    let changed = badge.textContent !== data.status || summary.textContent !== text;
    setStatus(badge, data.status);
    summary.textContent = text;
    for (const cell of section.querySelectorAll("[data-state]")) {
      const n = String(p.by_state[cell.dataset.state] || 0);
      changed = changed || cell.textContent !== n;
      cell.textContent = n;
    }
    // The first event usually repeats what the page was rendered with: nothing to fetch then.
    if (changed) refresh();
  });
  source.addEventListener("end", () => source.close());
}

function setUpLive() {
  const note = document.getElementById("live-note");
  if (note && note.dataset.events) followCall(note);
  const section = document.getElementById("campaign-live");
  if (section && section.dataset.events) followCampaign(section);
}

// A page written by the upload form's script (document.write) is already parsed when this runs.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", setUpLive);
} else {
  setUpLive();
}
