"""Process roles: what a `serve` or `worker` process runs beside (or instead of) the API."""

from __future__ import annotations

ROLES: tuple[str, ...] = ("dial", "media", "jobs")
"""``dial``: the dialer, the broker listener and the reconciler; ``media``: Media Streams
WebSockets and the call sessions on them; ``jobs``: webhooks, analysis, dynamic context."""

ALL_ROLES: frozenset[str] = frozenset(ROLES)


class UnknownRole(ValueError):
    """A role name outside ``ROLES``; the message names the valid ones."""


def parse_roles(text: str) -> frozenset[str]:
    """``"dial,media"`` -> {dial, media}; empty or ``none`` -> no role (an API-only process)."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names == ["none"]:
        return frozenset()
    unknown = [name for name in names if name not in ALL_ROLES]
    if unknown:
        raise UnknownRole(
            f"unknown role{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the roles are {', '.join(ROLES)} (comma-separated), or none"
        )
    return frozenset(names)


def roles_text(roles: frozenset[str]) -> str:
    """The roles in their canonical order, as stored and logged."""
    return ",".join(role for role in ROLES if role in roles) or "none"
