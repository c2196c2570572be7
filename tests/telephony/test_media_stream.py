"""The Media Streams codec: Twilio's documented messages parse, builders round-trip, garbage is named."""

from __future__ import annotations

import json
import re

import pytest

from callwright.telephony.media_stream import (
    Clear,
    Connected,
    Dtmf,
    Mark,
    Media,
    PlayMark,
    PlayMedia,
    ProtocolError,
    Start,
    Stop,
    encode_clear,
    encode_connected,
    encode_dtmf,
    encode_inbound_media,
    encode_mark,
    encode_mark_echo,
    encode_media,
    encode_start,
    encode_stop,
    parse_inbound,
    parse_outbound,
)

TWILIO_START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"call_id": "c_1", "token": "t"},
    },
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
}

TWILIO_MEDIA = {
    "event": "media",
    "sequenceNumber": "3",
    "media": {
        "track": "inbound",
        "chunk": "1",
        "timestamp": "5",
        "payload": "no+JhoaJjpzSHxAKBgYJDhtEopGKh4aIjZm7JhQMBwYIDBUlxZ2Pi4aGiIyVq0AbEAsHBgkNFi4=",
    },
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
}


def test_parses_twilio_documented_start() -> None:
    msg = parse_inbound(json.dumps(TWILIO_START))
    assert isinstance(msg, Start)
    assert msg.sequence_number == 1
    assert msg.call_sid.startswith("CA")
    assert msg.custom_parameters == {"call_id": "c_1", "token": "t"}
    assert (msg.media_format.encoding, msg.media_format.sample_rate, msg.media_format.channels) == (
        "audio/x-mulaw",
        8000,
        1,
    )


def test_parses_twilio_documented_media_with_decoded_payload() -> None:
    msg = parse_inbound(json.dumps(TWILIO_MEDIA))
    assert isinstance(msg, Media)
    assert (msg.sequence_number, msg.chunk, msg.timestamp, msg.track) == (3, 1, 5, "inbound")
    assert msg.payload[:2] == b"\x9e\x8f"


def test_inbound_builders_round_trip() -> None:
    sid = "MZabc"
    assert parse_inbound(encode_connected()) == Connected(protocol="Call", version="1.0.0")
    start = parse_inbound(encode_start(sid, "AC1", "CA1", {"k": "v"}, sequence_number=1))
    assert isinstance(start, Start)
    assert (start.stream_sid, start.account_sid, start.call_sid, start.custom_parameters) == (
        sid,
        "AC1",
        "CA1",
        {"k": "v"},
    )
    assert parse_inbound(encode_inbound_media(sid, 2, 1, 0, b"\xff" * 160)) == Media(
        2, sid, "inbound", 1, 0, b"\xff" * 160
    )
    assert parse_inbound(encode_mark_echo(sid, 3, "say:0")) == Mark(3, sid, "say:0")
    assert parse_inbound(encode_dtmf(sid, 4, "#")) == Dtmf(4, sid, "inbound_track", "#")
    assert parse_inbound(encode_stop(sid, 5, "AC1", "CA1")) == Stop(5, sid, "AC1", "CA1")


def test_outbound_builders_round_trip() -> None:
    assert parse_outbound(encode_media('MZ"q', b"\x00\x01\xfe")) == PlayMedia('MZ"q', b"\x00\x01\xfe")
    assert parse_outbound(encode_mark("MZ1", "listen:greet")) == PlayMark("MZ1", "listen:greet")
    assert parse_outbound(encode_clear("MZ1")) == Clear("MZ1")


def test_outbound_media_matches_twilio_shape() -> None:
    assert json.loads(encode_media("MZ1", b"\xff\xff")) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": "//8="},
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "message is a JSON list, not an object"),
        ('{"protocol": "Call"}', "missing field 'event'"),
        ('{"event": "hello"}', "unknown inbound event 'hello'"),
        ('{"event": "connected", "protocol": "Call"}', "connected: missing field 'version'"),
        (
            '{"event": "mark", "sequenceNumber": "4", "streamSid": "MZ", "mark": {}}',
            "mark.mark: missing field 'name'",
        ),
        (
            '{"event": "media", "sequenceNumber": "x", "streamSid": "MZ", "media": {}}',
            "media: field 'sequenceNumber' is not a number",
        ),
        ('{"event": "media", "sequenceNumber": "2", "streamSid": "MZ"}', "media: missing field 'media'"),
        (
            '{"event": "dtmf", "sequenceNumber": "2", "streamSid": "MZ", "dtmf": {"digit": "12"}}',
            "dtmf.dtmf: field 'digit' is not one DTMF digit",
        ),
        (
            '{"event": "stop", "sequenceNumber": "2", "streamSid": "MZ", "stop": {"accountSid": "AC"}}',
            "stop.stop: missing field 'callSid'",
        ),
    ],
)
def test_inbound_garbage_names_the_problem(text: str, reason: str) -> None:
    with pytest.raises(ProtocolError, match="^" + re.escape(reason)):
        parse_inbound(text)


def test_bad_base64_payload_is_a_protocol_error() -> None:
    bad = dict(TWILIO_MEDIA, media={**TWILIO_MEDIA["media"], "payload": "@@not base64@@"})  # type: ignore[dict-item]
    with pytest.raises(ProtocolError, match=r"^media\.media: field 'payload' is not valid base64"):
        parse_inbound(json.dumps(bad))


def test_start_with_non_string_custom_parameters_is_rejected() -> None:
    bad = json.loads(json.dumps(TWILIO_START))
    bad["start"]["customParameters"] = {"n": 1}
    with pytest.raises(ProtocolError, match="customParameters"):
        parse_inbound(json.dumps(bad))


def test_outbound_unknown_event_is_rejected() -> None:
    with pytest.raises(ProtocolError, match=r"^unknown outbound event 'stop'"):
        parse_outbound('{"event": "stop", "streamSid": "MZ"}')


def test_outbound_mark_without_stream_sid_is_rejected() -> None:
    with pytest.raises(ProtocolError, match=r"^mark: missing field 'streamSid'"):
        parse_outbound('{"event": "mark", "mark": {"name": "x"}}')
