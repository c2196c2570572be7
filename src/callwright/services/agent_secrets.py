"""The write-only secrets inside an agent's configuration (API.md "Agents").

They are stored encrypted in the agent's config and version JSON, shown masked (``****`` and
the last four characters) on every read, and decrypted only where a request needs them. A
client that read an agent and sends it back sends the masked values: those keep the stored
secret; any other value replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from callwright.services.errors import InvalidInput
from callwright.services.secrets import MASK, SecretBox, SecretError, is_encrypted, is_masked, mask

EACH = "*"
"""In a secret's path: every item of the list at that point (``tools[i]``)."""

# Where the secrets of an agent's config are.
SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("dynamic_context", "auth", "token"),
    ("dynamic_context", "auth", "password"),
    ("dynamic_context", "auth", "header_value"),
    ("tools", EACH, "auth", "token"),
    ("tools", EACH, "auth", "password"),
    ("tools", EACH, "auth", "header_value"),
)
MAX_SECRET_CHARS = 4096
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

Path = tuple[str | int, ...]


def _child(node: Any, key: str | int) -> Any:
    if isinstance(key, int):
        return node[key] if isinstance(node, list) and 0 <= key < len(node) else None
    return node.get(key) if isinstance(node, Mapping) else None


def _secret_paths(config: Any, pattern: Sequence[str], done: Path = ()) -> Iterator[Path]:
    """The concrete paths (list indexes filled in) of ``pattern`` that hold a string in ``config``."""
    if not pattern:
        if isinstance(config, str):
            yield done
        return
    head, *rest = pattern
    if head == EACH:
        if isinstance(config, list):
            for index, item in enumerate(config):
                yield from _secret_paths(item, rest, (*done, index))
    elif isinstance(config, Mapping) and head in config:
        yield from _secret_paths(config[head], rest, (*done, head))


def _all_secret_paths(config: Mapping[str, Any]) -> list[Path]:
    return [path for pattern in SECRET_PATHS for path in _secret_paths(config, pattern)]


def _get(config: Any, path: Path) -> Any:
    for key in path:
        config = _child(config, key)
    return config


def _stored_counterpart(config: Mapping[str, Any], previous: Mapping[str, Any] | None, path: Path) -> Any:
    """What ``previous`` holds where ``config`` has ``path``. A list item is matched by its
    ``name`` (a tool keeps its secret when the list is reordered), else by its position."""
    node: Any = config
    stored: Any = previous
    for key in path:
        if isinstance(key, int) and isinstance(stored, list):
            name = _child(_child(node, key), "name")
            same_name = [item for item in stored if name is not None and _child(item, "name") == name]
            stored = same_name[0] if same_name else _child(stored, key)
        else:
            stored = _child(stored, key)
        node = _child(node, key)
    return stored


def _copy_with(node: Any, path: Path, value: Any) -> Any:
    """``node`` with ``path`` set to ``value``, copying only the dicts and lists along the path."""
    head, *rest = path
    out: Any = list(node) if isinstance(node, list) else dict(node)
    out[head] = value if not rest else _copy_with(node[head], tuple(rest), value)
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
    for path in _all_secret_paths(config):
        out = _copy_with(out, path, masked_value(box, _get(config, path)))
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
    for path in _all_secret_paths(config):  # a value that is not a string is validation's to report
        if touched is not None and path[0] not in touched:
            continue
        value = _get(config, path)
        loc = ["body", *path]
        if is_masked(value):
            stored = _stored_counterpart(config, previous, path)
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
