// Callwright dashboard: a little vanilla JavaScript, no framework, no build step.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

// Live preview of an agent's prompt and first message, rendered by the server's sandbox.
function setUpPreview(form) {
  const url = form.dataset.preview;
  let timer = null;
  async function refresh() {
    const body = new URLSearchParams();
    for (const name of ["prompt", "first_message", "variables"]) {
      body.set(name, form.elements[name].value);
    }
    const response = await fetch(url, {
      method: "POST", body, credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() },
    });
    const data = await response.json();
    for (const name of ["prompt", "first_message"]) {
      const out = document.getElementById("preview-" + name);
      if (!out) continue;
      if (data.error) { out.textContent = data.error; out.classList.add("bad"); continue; }
      const part = data[name];
      out.textContent = part.error ? part.error : part.text;  // textContent: never parsed as HTML
      out.classList.toggle("bad", Boolean(part.error));
    }
  }
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
  refresh();
}

// A chat message (live.js has its own, for call transcripts: classic scripts share one scope).
function chatItem(turn) {
  const li = document.createElement("li");
  li.className = "turn turn-" + (turn.role === "user" || turn.role === "tool" ? turn.role : "agent");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = turn.role;
  li.append(who, " " + turn.text);  // text nodes: never parsed as HTML
  return li;
}

// A CSV upload with a progress bar; the server's answer (the campaign page with its report) replaces this one.
function setUpUpload(form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const bar = form.querySelector("progress");
    bar.hidden = false;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.addEventListener("load", () => {
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.send(new FormData(form));
  });
}

// The dynamic-context Test button: status, latency, variables or error, shown as text.
function setUpContextTest(button) {
  const out = document.getElementById("context-result");
  button.addEventListener("click", async () => {
    button.disabled = true;
    out.hidden = false;
    out.textContent = "Testing…";
    try {
      const response = await fetch(button.dataset.url, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() },
      });
      const r = await response.json();
      const head = (r.ok ? "OK" : "Failed") + (r.status_code ? " · HTTP " + r.status_code : "") +
        (r.latency_ms !== undefined ? " · " + r.latency_ms + " ms" : "");
      out.textContent = head + "\n" + (r.error ? r.error : JSON.stringify(r.variables, null, 2));
      out.classList.toggle("bad", !r.ok);
    } finally {
      button.disabled = false;
    }
  });
}

// The agent editor shows the settings of the chosen dialogue engine only (all of them without script).
function setUpEngine(choice) {
  const show = () => {
    for (const block of document.querySelectorAll("[data-engine]")) {
      block.hidden = block.dataset.engine !== choice.value;
    }
  };
  choice.addEventListener("change", show);
  show();
}

// Dynamic-context authentication: only the fields of the chosen kind are shown (all are still sent).
function setUpAuth(choice) {
  const wanted = { bearer: ["token"], basic: ["username", "password"], header: ["header_name", "header_value"] };
  const show = () => {
    for (const name of ["token", "username", "password", "header_name", "header_value"]) {
      const input = document.querySelector('[name="dynamic_context.auth.' + name + '"]');
      if (input) input.closest(".field").hidden = !(wanted[choice.value] || []).includes(name);
    }
  };
  choice.addEventListener("change", show);
  show();
}

// The chat panel: a text conversation with the saved agent; the server keeps its state between
// messages under the session id it gave with the first reply.
function setUpChat(panel) {
  const log = document.getElementById("chat-log");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-text");
  const send = document.getElementById("chat-send");
  const status = document.getElementById("chat-status");
  let sessionId = null;
  const label = () => { send.textContent = sessionId ? "Send" : "Start"; };
  const show = (role, text) => {
    const li = chatItem({ role, text });
    log.append(li);
    li.scrollIntoView({ block: "nearest" });
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value;
    input.value = "";
    if (text.trim()) show("user", text);
    send.disabled = true;
    status.classList.remove("bad");
    try {
      const response = await fetch(panel.dataset.url, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrfToken(), "Content-Type": "application/json" },
        body: JSON.stringify({ session_id: sessionId, text }),
      });
      let data;
      try { data = await response.json(); } catch (e) { data = { error: "the server answered " + response.status }; }
      if (!response.ok) {
        status.textContent = data.error || "the server answered " + response.status;
        status.classList.add("bad");
        return;
      }
      sessionId = data.session_id;
      for (const reply of data.replies) show("agent", reply);
      for (const call of data.tool_calls || []) {
        show("tool", call.name + "(" + JSON.stringify(call.arguments) + ") → " + JSON.stringify(call.result));
      }
      status.textContent = data.ended
        ? "Ended (" + (data.outcome || "no outcome") + "). Results: " + JSON.stringify(data.results)
        : data.expecting ? "Waiting for an answer: " + data.expecting : "";
    } finally {
      send.disabled = false;
      label();
      input.focus();
    }
  });
  document.getElementById("chat-reset").addEventListener("click", () => {
    sessionId = null;
    log.replaceChildren();
    status.textContent = "";
    label();
  });
  label();
}

document.addEventListener("DOMContentLoaded", () => {
  const engine = document.getElementById("engine");
  if (engine) setUpEngine(engine);
  const auth = document.querySelector('select[name="dynamic_context.auth.type"]');
  if (auth) setUpAuth(auth);
  const chat = document.getElementById("chat");
  if (chat && chat.dataset.url) setUpChat(chat);
  const test = document.getElementById("context-test");
  if (test) setUpContextTest(test);
  const upload = document.querySelector("form[data-upload]");
  if (upload) setUpUpload(upload);
  const form = document.getElementById("agent-form");
  if (form && form.dataset.preview) setUpPreview(form);
});
