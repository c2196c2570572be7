"""The few TwiML documents Callwright answers with, built with escaping (never by string pasting)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

UNMAPPED_NUMBER_MESSAGE = "Sorry, this number is not taking calls right now. Goodbye."


def _document(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def connect_stream(stream_url: str, parameters: dict[str, str]) -> str:
    """``<Connect><Stream>``: a bidirectional Media Stream; ``parameters`` arrive in the
    ``start`` message's ``customParameters`` (the call ID and its one-time token)."""
    response = ET.Element("Response")
    stream = ET.SubElement(ET.SubElement(response, "Connect"), "Stream", url=stream_url)
    for name, value in parameters.items():
        ET.SubElement(stream, "Parameter", name=name, value=value)
    return _document(response)


def say_and_hang_up(message: str = UNMAPPED_NUMBER_MESSAGE) -> str:
    response = ET.Element("Response")
    ET.SubElement(response, "Say").text = message
    ET.SubElement(response, "Hangup")
    return _document(response)


def hang_up() -> str:
    response = ET.Element("Response")
    ET.SubElement(response, "Hangup")
    return _document(response)


def dial(to: str) -> str:
    """Redirects a live call to ``to``: the stream stops and the far end is connected there."""
    response = ET.Element("Response")
    ET.SubElement(response, "Dial").text = to
    return _document(response)
