"""Customer secrets at rest: webhook signing secrets, dynamic-context and tool credentials.

They must be readable by the server (it signs and authenticates with them), so they are
encrypted, not hashed: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
``CALLWRIGHT_SECRET_KEY``. Without that setting the first process writes a random key to
``<data dir>/secret.key`` (mode 0600) and every later start reads it, which suits one machine;
a deployment of many machines sets the same ``CALLWRIGHT_SECRET_KEY`` everywhere.

The same root key also signs attachment URLs (``sign``/``verify``), under its own derived key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

ENCRYPTED_PREFIX = "enc:v1:"
MASK = "****"


class SecretError(Exception):
    """A stored secret that this key cannot decrypt (the key changed, or the value is corrupt)."""


def _derive(root: bytes, purpose: str) -> bytes:
    return hmac.new(root, purpose.encode(), hashlib.sha256).digest()


def load_root_key(configured: str, data_dir: Path) -> bytes:
    """The deployment's root key: the setting when given, else the data directory's key file."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this install wrote it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class SecretBox:
    """Encrypts secrets for storage and signs URLs; one per process, built from the settings."""

    def __init__(self, root_key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(root_key, "callwright secrets v1")))
        self._url_key = _derive(root_key, "callwright signed urls v1")
        self._cache: dict[str, str] = {}

    def encrypt(self, plain: str) -> str:
        return ENCRYPTED_PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The plain secret; values stored before encryption existed pass through unchanged."""
        if not stored.startswith(ENCRYPTED_PREFIX):
            return stored
        hit = self._cache.get(stored)
        if hit is not None:
            return hit
        try:
            plain = self._fernet.decrypt(stored[len(ENCRYPTED_PREFIX):].encode()).decode()
        except InvalidToken as exc:
            raise SecretError("a stored secret cannot be decrypted with this server's secret key") from exc
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[stored] = plain
        return plain

    def sign(self, message: str) -> str:
        digest = hmac.new(self._url_key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, message: str, signature: str) -> bool:
        # Bytes, not str: compare_digest refuses non-ASCII text, and a forged link may carry any.
        return hmac.compare_digest(self.sign(message).encode(), signature.encode("utf-8", "surrogatepass"))


def is_encrypted(value: str) -> bool:
    return value.startswith(ENCRYPTED_PREFIX)


def mask(plain: str) -> str:
    """What a read shows of a secret: ``****`` and its last four characters (API.md)."""
    return MASK + plain[-4:] if len(plain) > 8 else MASK


def is_masked(value: str) -> bool:
    """A value a client read and sent back unchanged: keep the stored secret."""
    return value.startswith(MASK)
