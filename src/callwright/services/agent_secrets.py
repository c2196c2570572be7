"""The write-only secrets inside an agent's configuration (API.md "Agents").

They are stored encrypted in the agent's config and version JSON, shown masked (``****`` and
the last four characters) on every read, and decrypted only where a request needs them. A
client that read an agent and sends it back sends the masked values: those keep the stored
secret; any other value replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from callwright.services.errors import InvalidInput
from callwright.services.secrets import MASK, SecretBox, SecretError, is_encrypted, is_masked, mask

# Paths into the config of every secret an agent holds. Tools have no credentials yet.
SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("dynamic_context", "auth", "token"),
    ("dynamic_context", "auth", "password"),
    ("dynamic_context", "auth", "header_value"),
)
MAX_SECRET_CHARS = 4096
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _parent(config: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any] | None:
    node: Any = config
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else None


def _get(config: Mapping[str, Any] | None, path: Sequence[str]) -> Any:
    parent = _parent(config or {}, path)
    return None if parent is None else parent.get(path[-1])


def _copy_with(config: Mapping[str, Any], path: Sequence[str], value: Any) -> dict[str, Any]:
    """``config`` with ``path`` set to ``value``, copying only the dicts along the path."""
    head, *rest = path
    out = dict(config)
    out[head] = value if not rest else _copy_with(config[head], rest, value)
    return out


def masked_value(box: SecretBox, stored: str) -> str:
    """What a read shows of a stored secret (``****`` alone when this key cannot decrypt it)."""
    try:
        return mask(box.decrypt(stored))
    except SecretError:
        return MASK


def mask_secrets(config: Mapping[str, Any], box: SecretBox) -> dict[str, Any]:
    """A copy of a stored config (or version config) with every secret masked, for reading."""
    out = dict(config)
    for path in SECRET_PATHS:
        value = _get(out, path)
        if isinstance(value, str):
            out = _copy_with(out, path, masked_value(box, value))
    return out


def seal_secrets(
    config: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    box: SecretBox,
    *,
    touched: frozenset[str] | None = None,
) -> dict[str, Any]:
    """A copy of ``config`` ready to store: each secret a client sent is encrypted, and a masked
    value that matches the ``previous`` (stored) secret keeps it.

    ``touched`` is the set of top-level fields the client sent (a PATCH); secrets under other
    fields are already the stored, encrypted values and are left alone. A masked value with no
    matching stored secret, an over-long secret, or one with a line break is a 422.
    """
    out = dict(config)
    for path in SECRET_PATHS:
        if touched is not None and path[0] not in touched:
            continue
        value = _get(out, path)
        if not isinstance(value, str):
            continue  # absent, or not a string (validation reports that)
        loc = ["body", *path]
        if is_masked(value):
            stored = _get(previous, path)
            if not isinstance(stored, str) or masked_value(box, stored) != value:
                raise InvalidInput(
                    loc,
                    "this masked value does not match a stored secret: send the secret itself, "
                    "or the masked value exactly as it was read to keep the stored one",
                )
            sealed = stored if is_encrypted(stored) else box.encrypt(stored)
        else:
            if len(value) > MAX_SECRET_CHARS:
                raise InvalidInput(loc, f"a secret may have at most {MAX_SECRET_CHARS} characters", "string_too_long")
            if _CONTROL.search(value):
                raise InvalidInput(loc, "a secret may not contain line breaks or control characters")
            sealed = box.encrypt(value)
        out = _copy_with(out, path, sealed)
    return out
