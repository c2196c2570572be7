// Callwright browser calls: the microphone as PCM16 at 16 kHz (docs/browser-calls.md).
// Runs in the AudioWorklet scope: it averages the input over one output period (a boxcar
// low-pass against aliasing), keeps one sample per period of 1/16000 s, and posts 20 ms
// blocks (320 samples, Int16Array) to the main thread, which sends them on the WebSocket.
"use strict";

const TARGET_RATE = 16000;
const BLOCK = 320;

class CallwrightMic extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE; // input samples per output sample (1 when the context runs at 16 kHz)
    this.width = Math.max(1, Math.round(this.step));
    this.window = new Float32Array(this.width);
    this.at = 0;
    this.sum = 0;
    this.phase = 0;
    this.block = new Int16Array(BLOCK);
    this.filled = 0;
  }

  push(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.block[this.filled++] = clamped < 0 ? clamped * 32768 : clamped * 32767;
    if (this.filled === BLOCK) {
      this.port.postMessage(this.block.buffer, [this.block.buffer]);
      this.block = new Int16Array(BLOCK);
      this.filled = 0;
    }
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const x = channel[i];
      this.sum += x - this.window[this.at];
      this.window[this.at] = x;
      this.at = (this.at + 1) % this.width;
      this.phase += 1;
      if (this.phase >= this.step) {
        this.phase -= this.step;
        this.push(this.sum / this.width);
      }
    }
    return true;
  }
}

registerProcessor("callwright-mic", CallwrightMic);
