"""espeak-ng in process, through ctypes: the embedded text-to-speech.

The library comes with the ``espeakng-loader`` wheel (``libespeak-ng.so`` and its data).
It is used in synchronous mode: ``espeak_Synth`` blocks and hands the samples, about 60 ms at a
time, to a callback, at espeak's native rate (22050 Hz, as ``espeak_Initialize`` reports). The
library has global state (one current voice, one callback), so it is initialised once per
process and every synthesis holds a process-wide lock.

:meth:`EspeakSynthesizer.synthesize` runs the synthesis on a worker thread (ctypes releases
the GIL during the call) and yields each chunk as soon as espeak produces it, resampled to
16 kHz, with the silence espeak puts around speech cut down to 50 ms. A 4 s sentence takes
milliseconds; see ``bench/audio_micro.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import espeakng_loader
import numpy as np

from callwright.voice.audio import SAMPLE_RATE, Resampler
from callwright.voice.tts.normalize import speakable

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report a missing data path instead of calling exit()
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE = 1  # espeak_PARAMETER espeakRATE: words per minute
_DEFAULT_WPM = 175
_MIN_WPM, _MAX_WPM = 80, 450
_EE_OK = 0


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_void_p),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated name) pairs, then 0
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class EspeakError(RuntimeError):
    pass


@dataclass(frozen=True)
class VoiceInfo:
    identifier: str  # e.g. "gmw/en-US"; usable as a voice name
    name: str  # e.g. "English (America)"
    languages: tuple[str, ...]  # e.g. ("en-us", "en"), best match first


class _Engine:
    """The process's one libespeak-ng. Use :func:`_engine`; hold ``lock`` around every call."""

    lock = threading.Lock()

    def __init__(self) -> None:
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.POINTER(_Voice)]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        data = espeakng_loader.get_data_path().encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed ({rate}) with data at {data.decode()}")
        self.lib = lib
        self.rate: int = rate
        self._sink: Callable[[bytes], bool] | None = None
        self._callback = _SynthCallback(self._on_audio)  # referenced for the process's life
        lib.espeak_SetSynthCallback(self._callback)
        self._by_language: list[tuple[int, str, str]] = []  # (priority, voice identifier, language)
        self.voices = self._list_voices()
        self._voice: str | None = None
        self._wpm = _DEFAULT_WPM
        self._resolved: dict[str, str] = {}

    def _on_audio(self, wav: Any, count: int, _events: Any) -> int:
        if self._sink is None or not wav or count <= 0:
            return 0
        return 0 if self._sink(ctypes.string_at(wav, count * 2)) else 1  # 1 aborts synthesis

    def _list_voices(self) -> list[VoiceInfo]:
        array = self.lib.espeak_ListVoices(None)
        voices: list[VoiceInfo] = []
        i = 0
        while array[i]:
            v = array[i].contents
            pairs: list[tuple[int, str]] = []
            p = v.languages
            while p and (priority := ctypes.string_at(p, 1)[0]):
                language = ctypes.string_at(p + 1)
                pairs.append((priority, language.decode()))
                p += len(language) + 2
            identifier = (v.identifier or b"").decode()
            voices.append(VoiceInfo(identifier, (v.name or b"").decode(), tuple(lang for _, lang in sorted(pairs))))
            self._by_language.extend((priority, identifier, lang) for priority, lang in pairs)
            i += 1
        return voices

    def resolve(self, voice: str) -> str:
        """A name espeak_SetVoiceByName accepts: ``voice`` itself, or the voice for its language.

        espeak names voices by file ("en-us", "en", "en-GB-x-rp"), so "en-gb" alone is unknown
        to it; it is matched here against each voice's languages. A "+variant" suffix ("+f3",
        "+klatt") is kept.
        """
        if voice in self._resolved:
            return self._resolved[voice]
        base, plus, variant = voice.partition("+")
        if self.lib.espeak_SetVoiceByName(voice.encode()) == _EE_OK:
            resolved = voice
        else:
            wanted = base.lower()
            candidates = [(priority, ident) for priority, ident, lang in self._by_language if lang == wanted]
            if not candidates:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            resolved = min(candidates)[1] + plus + variant  # the lowest priority number fits best
            if self.lib.espeak_SetVoiceByName(resolved.encode()) != _EE_OK:
                raise ValueError(f"espeak-ng could not load voice {voice!r} (as {resolved!r})")
        self._voice = None  # trying names changed the current voice: set it again before speaking
        self._resolved[voice] = resolved
        return resolved

    def synth(self, text: str, voice: str, wpm: int, sink: Callable[[bytes], bool]) -> None:
        """Speak ``text``, handing native-rate PCM16 chunks to ``sink`` (False stops). Hold the lock."""
        resolved = self.resolve(voice)
        if resolved != self._voice:
            if self.lib.espeak_SetVoiceByName(resolved.encode()) != _EE_OK:
                raise EspeakError(f"espeak_SetVoiceByName({resolved!r}) failed")
            self._voice = resolved
            self._wpm = -1  # set the speed again after a voice change
        if wpm != self._wpm:
            self.lib.espeak_SetParameter(_RATE, wpm, 0)
            self._wpm = wpm
        encoded = text.encode()
        self._sink = sink
        try:
            status = self.lib.espeak_Synth(encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        finally:
            self._sink = None
        if status != _EE_OK:
            raise EspeakError(f"espeak_Synth failed ({status})")


_engine_instance: _Engine | None = None


def _engine() -> _Engine:
    global _engine_instance
    if _engine_instance is None:
        with _Engine.lock:
            if _engine_instance is None:
                _engine_instance = _Engine()
    return _engine_instance


def available_voices() -> list[VoiceInfo]:
    """The voices the bundled espeak-ng data ships (any takes a "+variant" such as "+f3")."""
    return list(_engine().voices)


class _Shaper:
    """Native-rate chunks in, 16 kHz PCM16 out, with leading and trailing silence cut to 50 ms."""

    THRESHOLD = 64  # |sample| above this is sound (-54 dBFS); espeak's silence is near zero
    KEEP_MS = 50

    def __init__(self, rate: int) -> None:
        self._resampler = Resampler(rate, SAMPLE_RATE, low_latency=False)
        self._keep = rate * self.KEEP_MS // 1000
        self._started = False
        self._quiet = np.zeros(0, dtype=np.int16)  # samples after the last sound, not yet sent

    def push(self, chunk: bytes) -> bytes:
        x = np.concatenate((self._quiet, np.frombuffer(chunk, dtype="<i2")))
        loud = np.flatnonzero(np.abs(x.astype(np.int32)) > self.THRESHOLD)
        if len(loud) == 0:
            self._quiet = x if self._started else x[max(0, len(x) - self._keep) :]
            return b""
        start = 0 if self._started else max(0, int(loud[0]) - self._keep)
        self._started = True
        last = int(loud[-1]) + 1
        self._quiet = x[last:]
        return self._resampler.process(x[start:last].astype("<i2").tobytes())

    def finish(self) -> bytes:
        if not self._started:
            return b""
        tail = self._quiet[: self._keep].astype("<i2").tobytes()
        return self._resampler.process(tail) + self._resampler.flush()


class EspeakSynthesizer:
    """espeak-ng text-to-speech: PCM16 mono 16 kHz, streamed as espeak produces it.

    ``voice`` is an espeak voice or language ("en-us", "en-gb", "en-GB-x-rp"), optionally with a
    variant ("en-us+f3"); ``speed`` scales espeak's default 175 words per minute.
    """

    def __init__(self, voice: str = "en-us", speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.voice = voice
        self.speed = speed
        self.wpm = min(_MAX_WPM, max(_MIN_WPM, round(_DEFAULT_WPM * speed)))
        engine = _engine()
        with engine.lock:
            engine.resolve(voice)  # fail now on an unknown voice, not mid-call
        self.native_rate = engine.rate

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        spoken = speakable(text).strip()
        if not spoken:
            return
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def deliver(item: bytes | BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
                loop.call_soon_threadsafe(chunks.put_nowait, item)

        def sink(pcm: bytes) -> bool:
            if stop.is_set():
                return False
            deliver(pcm)
            return True

        def work() -> None:
            try:
                self._run(spoken, sink)
            except BaseException as exc:  # handed to the consumer, re-raised there
                deliver(exc)
            finally:
                deliver(None)

        worker = loop.run_in_executor(None, work)
        shaper = _Shaper(self.native_rate)
        try:
            while (item := await chunks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                if out := shaper.push(item):
                    yield out
            if tail := shaper.finish():
                yield tail
        finally:
            stop.set()  # a consumer that stops early (barge-in) aborts the synthesis
        await worker

    def synthesize_sync(self, text: str) -> bytes:
        """The whole utterance at once, for callers outside asyncio (e.g. pre-rendering lines)."""
        spoken = speakable(text).strip()
        if not spoken:
            return b""
        shaper = _Shaper(self.native_rate)
        out: list[bytes] = []

        def sink(pcm: bytes) -> bool:
            out.append(shaper.push(pcm))
            return True

        self._run(spoken, sink)
        out.append(shaper.finish())
        return b"".join(out)

    def _run(self, text: str, sink: Callable[[bytes], bool]) -> None:
        engine = _engine()
        with engine.lock:
            engine.synth(text, self.voice, self.wpm, sink)
