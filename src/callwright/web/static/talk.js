// The dashboard's "Talk to this agent" page: mint a token through the session, talk through the
// shared browser-call client (voice-call.js), and show the live transcript from the call's
// Server-Sent Events, as the call page does.
"use strict";

function talkCsrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

function talkTurn(turn) {
  const li = document.createElement("li");
  li.className = "turn turn-" + (turn.role === "user" ? "user" : "agent");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = turn.role;
  li.append(who, " " + turn.text); // text nodes: never parsed as HTML
  return li;
}

function setUpTalk(root) {
  const startButton = document.getElementById("talk-start");
  const hangUpButton = document.getElementById("talk-hangup");
  const status = document.getElementById("talk-status");
  const list = document.getElementById("talk-transcript");
  const link = document.getElementById("talk-call-link");
  let call = null;
  let events = null;

  function follow(url) {
    events = new EventSource(url);
    events.addEventListener("turn", (e) => {
      const turn = JSON.parse(e.data);
      const li = talkTurn(turn);
      const old = list.children[turn.index];
      if (old) { old.replaceWith(li); } else { list.append(li); }
    });
    events.addEventListener("transcript", (e) => {
      list.replaceChildren(...JSON.parse(e.data).map(talkTurn));
    });
    events.addEventListener("end", () => events.close());
  }

  startButton.addEventListener("click", async () => {
    startButton.disabled = true;
    list.replaceChildren();
    status.textContent = "starting";
    try {
      const response = await fetch(root.dataset.tokenUrl, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": talkCsrf() },
      });
      const ticket = await response.json();
      if (!response.ok) throw new Error(ticket.error || ("HTTP " + response.status));
      root.dataset.callId = ticket.call_id;
      link.href = ticket.call_url;
      link.hidden = false;
      call = new window.CallwrightVoiceCall({
        websocketUrl: ticket.websocket_url, callId: ticket.call_id, token: ticket.access_token,
        workletUrl: root.dataset.worklet,
        onStatus: (s) => { status.textContent = s; },
        onEnd: (reason) => {
          status.textContent = reason === "ended" ? "call ended" : "call ended: " + reason;
          root.dataset.ended = "true";
          hangUpButton.disabled = true;
          startButton.disabled = false;
        },
      });
      follow(ticket.events_url);
      hangUpButton.disabled = false;
      await call.start();
    } catch (error) {
      status.textContent = "could not start: " + error.message;
      startButton.disabled = false;
      hangUpButton.disabled = true;
    }
  });

  hangUpButton.addEventListener("click", () => {
    if (call) call.hangUp();
    hangUpButton.disabled = true;
  });

  const copy = document.getElementById("snippet-copy");
  if (copy) {
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(document.getElementById("snippet").textContent);
        copy.textContent = "Copied";
      } catch (e) {
        copy.textContent = "Select the snippet and copy it";
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("talk");
  if (root) setUpTalk(root);
});
