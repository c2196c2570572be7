// Callwright browser calls: the shared client of the dashboard's "Talk to this agent" page and
// the embeddable widget (docs/browser-calls.md). No framework, no build step.
//
//   const call = new CallwrightVoiceCall({websocketUrl, callId, token, workletUrl,
//                                         onStatus: (s) => ..., onEnd: (reason) => ...});
//   await call.start();   // asks for the microphone, connects, talks
//   call.hangUp();
//
// Protocol: a JSON start message, then the microphone as binary PCM16 LE mono 16 kHz; the
// server sends the agent's audio the same way, plus JSON marks (echoed here once the audio
// before them has played, on the AudioContext clock), clear (drop unplayed audio, echo every
// pending mark) and end.
"use strict";

(function () {
  const RATE = 16000;
  const LEAD_S = 0.08; // jitter buffer: the agent's audio starts this far ahead of "now"

  class CallwrightVoiceCall {
    constructor(options) {
      this.websocketUrl = options.websocketUrl;
      this.callId = options.callId;
      this.token = options.token;
      this.workletUrl = options.workletUrl;
      this.onStatus = options.onStatus || function () {};
      this.onEnd = options.onEnd || function () {};
      this.ctx = null;
      this.ws = null;
      this.stream = null;
      this.sources = new Set();
      this.nextTime = 0;
      this.marks = []; // [{name, at}] in order
      this.timer = null;
      this.heard = false;
      this.finished = false;
    }

    async start() {
      this.onStatus("starting");
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      this.ctx = this._context();
      await this.ctx.audioWorklet.addModule(this.workletUrl);
      const source = this.ctx.createMediaStreamSource(this.stream);
      const mic = new AudioWorkletNode(this.ctx, "callwright-mic");
      const mute = this.ctx.createGain();
      mute.gain.value = 0; // keeps the worklet in the rendering graph without hearing oneself
      source.connect(mic).connect(mute).connect(this.ctx.destination);
      if (this.ctx.state === "suspended") await this.ctx.resume();
      mic.port.onmessage = (event) => {
        if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(event.data);
      };
      this._connect();
      this.timer = setInterval(() => this._echoPlayedMarks(), 20);
    }

    _context() {
      try {
        return new AudioContext({ sampleRate: RATE, latencyHint: "interactive" });
      } catch (e) {
        return new AudioContext({ latencyHint: "interactive" }); // the worklet resamples
      }
    }

    _connect() {
      this.onStatus("connecting");
      const ws = new WebSocket(this.websocketUrl);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      ws.onopen = () => {
        ws.send(JSON.stringify({ type: "start", call_id: this.callId, token: this.token }));
      };
      ws.onmessage = (event) => {
        if (typeof event.data === "string") {
          this._control(JSON.parse(event.data));
        } else {
          this._play(event.data);
        }
      };
      ws.onclose = (event) => {
        this._finish(event.code === 1000 ? "ended" : (event.reason || "disconnected (" + event.code + ")"));
      };
    }

    _play(buffer) {
      const pcm = new Int16Array(buffer);
      if (!pcm.length) return;
      if (!this.heard) {
        this.heard = true;
        this.onStatus("in call");
      }
      const audio = this.ctx.createBuffer(1, pcm.length, RATE);
      const samples = audio.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
      const node = this.ctx.createBufferSource();
      node.buffer = audio;
      node.connect(this.ctx.destination);
      const at = Math.max(this.nextTime, this.ctx.currentTime + LEAD_S);
      node.start(at);
      this.nextTime = at + audio.duration;
      this.sources.add(node);
      node.onended = () => this.sources.delete(node);
    }

    _control(message) {
      if (message.type === "mark") {
        this.marks.push({ name: message.name, at: Math.max(this.nextTime, this.ctx.currentTime) });
      } else if (message.type === "clear") {
        for (const node of this.sources) {
          try { node.stop(); } catch (e) { /* already stopped */ }
        }
        this.sources.clear();
        this.nextTime = 0;
        const pending = this.marks;
        this.marks = [];
        for (const mark of pending) this._send({ type: "mark", name: mark.name });
      } else if (message.type === "end") {
        this.onStatus("ending");
      }
    }

    _echoPlayedMarks() {
      if (!this.ctx) return;
      const now = this.ctx.currentTime;
      while (this.marks.length && this.marks[0].at <= now) {
        this._send({ type: "mark", name: this.marks.shift().name });
      }
    }

    _send(message) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
    }

    hangUp() {
      this._send({ type: "hangup" });
      // The server ends the call and closes the socket; close it here if it does not.
      setTimeout(() => { if (this.ws) this.ws.close(); }, 3000);
    }

    _finish(reason) {
      if (this.finished) return;
      this.finished = true;
      clearInterval(this.timer);
      if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
      // Let what was already scheduled (the agent's goodbye) play out before closing the audio.
      const tail = this.ctx ? Math.max(0, this.nextTime - this.ctx.currentTime) : 0;
      setTimeout(() => { if (this.ctx) this.ctx.close(); }, tail * 1000 + 100);
      this.onStatus("ended");
      this.onEnd(reason);
    }
  }

  window.CallwrightVoiceCall = CallwrightVoiceCall;
})();
