"""The credentials Callwright sends to a customer's own API (dynamic context, HTTP tools).

Both configure them the same way (``DynamicContextAuth``), and they are stored encrypted, so
this is the one place a stored credential is decrypted into a request header.
"""

from __future__ import annotations

import base64

from callwright.domain.agent import DynamicContextAuth
from callwright.services.secrets import SecretBox


def auth_headers(auth: DynamicContextAuth, box: SecretBox) -> dict[str, str]:
    """The header(s) that carry ``auth``, with its secrets decrypted; empty for ``none``.

    Raises ``SecretError`` when a stored secret cannot be decrypted with this server's key, so
    the caller can say so instead of sending the request unauthenticated."""
    if auth.type == "bearer" and auth.token is not None:
        return {"Authorization": f"Bearer {box.decrypt(auth.token)}"}
    if auth.type == "basic" and auth.username is not None and auth.password is not None:
        pair = f"{auth.username}:{box.decrypt(auth.password)}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}"}
    if auth.type == "header" and auth.header_name and auth.header_value is not None:
        return {auth.header_name: box.decrypt(auth.header_value)}
    return {}
