"""Errors the use cases raise; the HTTP edge maps each to its status code."""

from __future__ import annotations

from collections.abc import Sequence


class ServiceError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    status_code = 409


class OnDoNotCallList(Conflict):
    """The number is on the organization's do-not-call list (a campaign row is then skipped)."""


class InvalidInput(ServiceError):
    """A 422 in FastAPI's shape: ``loc`` points at the offending field."""

    status_code = 422

    def __init__(self, loc: Sequence[str | int], msg: str, type_: str = "value_error") -> None:
        super().__init__(msg)
        self.loc = list(loc)
        self.msg = msg
        self.type = type_

    def as_detail(self) -> list[dict[str, object]]:
        return [{"loc": self.loc, "msg": self.msg, "type": self.type}]
