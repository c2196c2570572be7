// Callwright's embeddable "talk to us" button (docs/browser-calls.md). On a business's page:
//
//   <script src="https://callwright.example.com/app/static/widget.js"
//           data-token-url="/callwright/web-call-token" data-external-id="cust-42"
//           data-label="Talk to us" async></script>
//
// A click POSTs {"external_id"} (JSON) to data-token-url, the business's own backend, which
// calls POST /v1/web-calls with its API key and returns that answer ({call_id, access_token,
// websocket_url}); the API key never reaches the page. Then the microphone and speaker talk to
// the agent until either side hangs up. The button is placed right after this script tag.
"use strict";

(function () {
  const script = document.currentScript;
  if (!script) return;
  const origin = new URL(script.src).origin;
  const tokenUrl = script.dataset.tokenUrl;
  const externalId = script.dataset.externalId || null;
  const label = script.dataset.label || "Talk to us";

  function loadClient() {
    if (window.CallwrightVoiceCall) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const tag = document.createElement("script");
      tag.src = origin + "/app/static/voice-call.js";
      tag.onload = () => resolve();
      tag.onerror = () => reject(new Error("could not load the call client"));
      document.head.append(tag);
    });
  }

  const box = document.createElement("span");
  box.className = "callwright-widget";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "callwright-widget-button";
  button.textContent = label;
  const status = document.createElement("span");
  status.className = "callwright-widget-status";
  status.setAttribute("role", "status");
  box.append(button, " ", status);
  script.after(box);

  let call = null;
  button.addEventListener("click", async () => {
    if (call) {
      call.hangUp();
      return;
    }
    button.disabled = true;
    status.textContent = "starting";
    try {
      const response = await fetch(tokenUrl, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ external_id: externalId }),
      });
      if (!response.ok) throw new Error("the call could not be started (HTTP " + response.status + ")");
      const ticket = await response.json();
      await loadClient();
      call = new window.CallwrightVoiceCall({
        websocketUrl: ticket.websocket_url, callId: ticket.call_id, token: ticket.access_token,
        // Worklets load in CORS mode: this route serves the worklet to any origin.
        workletUrl: origin + "/app/embed/mic-worklet.js",
        onStatus: (s) => { status.textContent = s; },
        onEnd: () => {
          call = null;
          button.textContent = label;
          button.disabled = false;
        },
      });
      await call.start();
      button.textContent = "Hang up";
      button.disabled = false;
    } catch (error) {
      call = null;
      status.textContent = error.message;
      button.textContent = label;
      button.disabled = false;
    }
  });
})();
