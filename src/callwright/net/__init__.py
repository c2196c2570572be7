"""The one outbound HTTP client for customer-supplied URLs (webhooks, dynamic context, LLM tools).

A URL a customer typed can point anywhere this server can reach: loopback admin ports, the
private network, the cloud metadata service at 169.254.169.254 (SSRF). So every such request
goes through here, and here:

* only ``http``/``https``, no user name or password, a port from 1 to 65535;
* the host name is resolved ONCE and every address must be public (``is_global`` plus explicit
  checks: loopback, private, link-local, CGNAT, unique-local, multicast, reserved, and the
  IPv4-mapped / 6to4 / NAT64 forms of those); if any address is refused, the URL is refused;
* the connection goes to the address that was checked, never to a second lookup (``Host`` and
  TLS SNI/certificate verification still use the name), so DNS rebinding cannot redirect it;
* redirects are never followed: a 3xx is returned like any other response;
* everything is bounded: connect time, total time, response size, header size.

It speaks HTTP/1.1 with h11 over asyncio streams with a keep-alive pool, because webhook
delivery must sustain well over a thousand requests a second. ``allow_private`` lifts the
address rule, for development and tests only.
"""

from callwright.net.client import Limits, Response, SafeHttpClient
from callwright.net.errors import (
    BadResponse,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    InvalidHeader,
    ResponseTooLarge,
    UrlRefused,
)
from callwright.net.guard import Resolver, check_url, system_resolver, validate_headers, validate_url_syntax

__all__ = [
    "BadResponse",
    "ConnectFailed",
    "FetchError",
    "FetchTimeout",
    "InvalidHeader",
    "Limits",
    "Resolver",
    "Response",
    "ResponseTooLarge",
    "SafeHttpClient",
    "UrlRefused",
    "check_url",
    "system_resolver",
    "validate_headers",
    "validate_url_syntax",
]
