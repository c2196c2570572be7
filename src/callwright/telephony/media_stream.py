"""Twilio bidirectional Media Streams: the JSON messages on the WebSocket, parsed and built.

One codec serves both ends: the server's stream endpoint parses what the carrier sends
(``parse_inbound``) and builds what it sends back (``encode_media``, ``encode_mark``,
``encode_clear``); the simulated carrier does the mirror image (``parse_outbound`` and the
``encode_connected`` ... ``encode_stop`` builders). "Inbound" and "outbound" are from the
server's point of view, as in Twilio's documentation.

The parsers are on the hot path (50 media messages per second per call), so they read the
decoded JSON by hand into slotted dataclasses instead of going through a validation library,
and every failure is a ``ProtocolError`` that says exactly what was wrong.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

MULAW_ENCODING = "audio/x-mulaw"
SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160 μ-law bytes = 20 ms at 8 kHz
INBOUND_TRACK = "inbound"
DTMF_TRACK = "inbound_track"


class ProtocolError(ValueError):
    """A Media Streams message that is not what the protocol allows; the text says why."""


# --- messages the carrier sends to the server -------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaFormat:
    encoding: str = MULAW_ENCODING
    sample_rate: int = SAMPLE_RATE
    channels: int = 1


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class Start:
    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: list[str]
    custom_parameters: dict[str, str]
    media_format: MediaFormat = field(default_factory=MediaFormat)


@dataclass(frozen=True, slots=True)
class Media:
    """Caller audio: ``payload`` is raw μ-law bytes (already base64-decoded)."""

    sequence_number: int
    stream_sid: str
    track: str
    chunk: int
    timestamp: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Mark:
    """The carrier's echo of a mark: the audio sent before it has been played (or cleared)."""

    sequence_number: int
    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class Dtmf:
    sequence_number: int
    stream_sid: str
    track: str
    digit: str


@dataclass(frozen=True, slots=True)
class Stop:
    sequence_number: int
    stream_sid: str
    account_sid: str
    call_sid: str


InboundMessage = Connected | Start | Media | Mark | Dtmf | Stop


# --- messages the server sends to the carrier -------------------------------------------


@dataclass(frozen=True, slots=True)
class PlayMedia:
    """Agent audio to play: ``payload`` is raw μ-law bytes."""

    stream_sid: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class PlayMark:
    """Ask the carrier to echo ``name`` once everything sent before it has been played."""

    stream_sid: str
    name: str


@dataclass(frozen=True, slots=True)
class Clear:
    """Drop all buffered agent audio; the carrier echoes every pending mark at once."""

    stream_sid: str


OutboundMessage = PlayMedia | PlayMark | Clear

DTMF_DIGITS = frozenset("0123456789*#ABCDabcdw")


# --- parsing helpers ---------------------------------------------------------------------


def _load(text: str | bytes) -> tuple[str, dict[str, Any]]:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"message is a JSON {type(data).__name__}, not an object")
    event = data.get("event")
    if not isinstance(event, str):
        raise ProtocolError("missing field 'event'" if event is None else "field 'event' is not a string")
    return event, data


def _obj(data: dict[str, Any], key: str, event: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        raise ProtocolError(f"{event}: missing field '{key}'")
    if not isinstance(value, dict):
        raise ProtocolError(f"{event}: field '{key}' is not an object")
    return value


def _str(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        raise ProtocolError(f"{where}: missing field '{key}'")
    if not isinstance(value, str):
        raise ProtocolError(f"{where}: field '{key}' is not a string")
    return value


def _int(data: dict[str, Any], key: str, where: str) -> int:
    """Twilio sends counters as decimal strings; accept those and plain integers."""
    value = data.get(key)
    if value is None:
        raise ProtocolError(f"{where}: missing field '{key}'")
    if isinstance(value, bool):
        raise ProtocolError(f"{where}: field '{key}' is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ProtocolError(f"{where}: field '{key}' is not a number: {value!r}")


def _opt_str(data: dict[str, Any], key: str, default: str, where: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ProtocolError(f"{where}: field '{key}' is not a string")
    return value


def _payload(media: dict[str, Any], where: str) -> bytes:
    text = _str(media, "payload", where)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{where}: field 'payload' is not valid base64: {exc}") from None


def _str_dict(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ProtocolError(f"{where}: field 'customParameters' is not an object of strings")
    return value


# --- parsing -----------------------------------------------------------------------------


def parse_inbound(text: str | bytes) -> InboundMessage:
    """Parse one message the carrier sent to the server; raise ``ProtocolError`` on garbage."""
    event, data = _load(text)
    if event == "media":
        media = _obj(data, "media", "media")
        return Media(
            sequence_number=_int(data, "sequenceNumber", "media"),
            stream_sid=_str(data, "streamSid", "media"),
            track=_opt_str(media, "track", INBOUND_TRACK, "media.media"),
            chunk=_int(media, "chunk", "media.media"),
            timestamp=_int(media, "timestamp", "media.media"),
            payload=_payload(media, "media.media"),
        )
    if event == "mark":
        mark = _obj(data, "mark", "mark")
        return Mark(
            sequence_number=_int(data, "sequenceNumber", "mark"),
            stream_sid=_str(data, "streamSid", "mark"),
            name=_str(mark, "name", "mark.mark"),
        )
    if event == "connected":
        return Connected(
            protocol=_str(data, "protocol", "connected"), version=_str(data, "version", "connected")
        )
    if event == "start":
        start = _obj(data, "start", "start")
        tracks = start.get("tracks", [INBOUND_TRACK])
        if not isinstance(tracks, list) or not all(isinstance(t, str) for t in tracks):
            raise ProtocolError("start.start: field 'tracks' is not a list of strings")
        fmt = _obj(start, "mediaFormat", "start.start")
        return Start(
            sequence_number=_int(data, "sequenceNumber", "start"),
            stream_sid=_str(data, "streamSid", "start"),
            account_sid=_str(start, "accountSid", "start.start"),
            call_sid=_str(start, "callSid", "start.start"),
            tracks=tracks,
            custom_parameters=_str_dict(start.get("customParameters"), "start.start"),
            media_format=MediaFormat(
                encoding=_str(fmt, "encoding", "start.start.mediaFormat"),
                sample_rate=_int(fmt, "sampleRate", "start.start.mediaFormat"),
                channels=_int(fmt, "channels", "start.start.mediaFormat"),
            ),
        )
    if event == "dtmf":
        dtmf = _obj(data, "dtmf", "dtmf")
        digit = _str(dtmf, "digit", "dtmf.dtmf")
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise ProtocolError(f"dtmf.dtmf: field 'digit' is not one DTMF digit: {digit!r}")
        return Dtmf(
            sequence_number=_int(data, "sequenceNumber", "dtmf"),
            stream_sid=_str(data, "streamSid", "dtmf"),
            track=_opt_str(dtmf, "track", DTMF_TRACK, "dtmf.dtmf"),
            digit=digit,
        )
    if event == "stop":
        stop = _obj(data, "stop", "stop")
        return Stop(
            sequence_number=_int(data, "sequenceNumber", "stop"),
            stream_sid=_str(data, "streamSid", "stop"),
            account_sid=_str(stop, "accountSid", "stop.stop"),
            call_sid=_str(stop, "callSid", "stop.stop"),
        )
    raise ProtocolError(f"unknown inbound event {event!r}")


def parse_outbound(text: str | bytes) -> OutboundMessage:
    """Parse one message the server sent to the carrier; raise ``ProtocolError`` on garbage."""
    event, data = _load(text)
    if event == "media":
        media = _obj(data, "media", "media")
        return PlayMedia(stream_sid=_str(data, "streamSid", "media"), payload=_payload(media, "media.media"))
    if event == "mark":
        mark = _obj(data, "mark", "mark")
        return PlayMark(stream_sid=_str(data, "streamSid", "mark"), name=_str(mark, "name", "mark.mark"))
    if event == "clear":
        return Clear(stream_sid=_str(data, "streamSid", "clear"))
    raise ProtocolError(f"unknown outbound event {event!r}")


# --- building: server -> carrier ---------------------------------------------------------


def _b64(payload: bytes) -> str:
    return base64.b64encode(payload).decode("ascii")


def media_prefix(stream_sid: str) -> str:
    """Everything of a ``media`` message before its base64 payload (see ``encode_media``)."""
    return '{"event":"media","streamSid":' + json.dumps(stream_sid) + ',"media":{"payload":"'


def encode_media(stream_sid: str, payload: bytes, prefix: str | None = None) -> str:
    """Agent audio (raw μ-law bytes) for the carrier to play.

    Hand-built: this runs 50 times a second per call and base64 never needs escaping. A sender
    with one stream passes ``prefix=media_prefix(stream_sid)``, computed once.
    """
    return (prefix or media_prefix(stream_sid)) + _b64(payload) + '"}}'


def encode_mark(stream_sid: str, name: str) -> str:
    """A named mark; the carrier echoes it when the audio sent before it has played."""
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def encode_clear(stream_sid: str) -> str:
    """Drop buffered agent audio (barge-in)."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})


# --- building: carrier -> server ---------------------------------------------------------


def encode_connected(protocol: str = "Call", version: str = "1.0.0") -> str:
    return json.dumps({"event": "connected", "protocol": protocol, "version": version})


def encode_start(
    stream_sid: str,
    account_sid: str,
    call_sid: str,
    custom_parameters: dict[str, str],
    sequence_number: int = 1,
    tracks: list[str] | None = None,
) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": str(sequence_number),
            "start": {
                "accountSid": account_sid,
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": tracks if tracks is not None else [INBOUND_TRACK],
                "customParameters": custom_parameters,
                "mediaFormat": {"encoding": MULAW_ENCODING, "sampleRate": SAMPLE_RATE, "channels": 1},
            },
            "streamSid": stream_sid,
        }
    )


def encode_inbound_media(
    stream_sid: str,
    sequence_number: int,
    chunk: int,
    timestamp_ms: int,
    payload: bytes,
    payload_b64: str | None = None,
    suffix: str | None = None,
) -> str:
    """Caller audio (raw μ-law bytes), counters as strings like Twilio sends them.

    A sender may pass the payload already in base64 (``payload_b64``, e.g. a cached silence
    frame) and ``suffix=inbound_media_suffix(stream_sid)``, computed once per stream.
    """
    return (
        '{"event":"media","sequenceNumber":"' + str(sequence_number) + '","media":{"track":"inbound",'
        '"chunk":"'
        + str(chunk)
        + '","timestamp":"'
        + str(timestamp_ms)
        + '","payload":"'
        + (payload_b64 if payload_b64 is not None else _b64(payload))
        + (suffix or inbound_media_suffix(stream_sid))
    )


def inbound_media_suffix(stream_sid: str) -> str:
    """Everything of an inbound ``media`` message after its base64 payload."""
    return '"},"streamSid":' + json.dumps(stream_sid) + "}"


def encode_mark_echo(stream_sid: str, sequence_number: int, name: str) -> str:
    """The carrier's answer to a mark."""
    return json.dumps(
        {
            "event": "mark",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "mark": {"name": name},
        }
    )


def encode_dtmf(stream_sid: str, sequence_number: int, digit: str) -> str:
    return json.dumps(
        {
            "event": "dtmf",
            "streamSid": stream_sid,
            "sequenceNumber": str(sequence_number),
            "dtmf": {"track": DTMF_TRACK, "digit": digit},
        }
    )


def encode_stop(stream_sid: str, sequence_number: int, account_sid: str, call_sid: str) -> str:
    return json.dumps(
        {
            "event": "stop",
            "sequenceNumber": str(sequence_number),
            "streamSid": stream_sid,
            "stop": {"accountSid": account_sid, "callSid": call_sid},
        }
    )
