"""Signed, expiring links to a call's files, served without an API key (webhook attachments)."""

from __future__ import annotations

import time
import uuid

from callwright.services.secrets import SecretBox

FILE_NAMES = ("recording.wav", "transcript.json", "analysis.json")


class FileLinks:
    def __init__(self, box: SecretBox, base_url: str, ttl_s: int) -> None:
        self.box = box
        self.base_url = base_url.rstrip("/")
        self.ttl_s = ttl_s

    def url(self, call_id: uuid.UUID, name: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.ttl_s)
        signature = self.box.sign(f"{call_id}/{name}/{expires}")
        return f"{self.base_url}/v1/files/calls/{call_id}/{name}?expires={expires}&signature={signature}"

    def valid(self, call_id: uuid.UUID, name: str, expires: int, signature: str, now: float | None = None) -> bool:
        if name not in FILE_NAMES or expires < (now if now is not None else time.time()):
            return False
        return self.box.verify(f"{call_id}/{name}/{expires}", signature)
