"""Query parameter types the list routes share, with the constraints the server enforces."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import WithJsonSchema

from callwright.domain.common import TIMESTAMP_SCHEMA, Timestamp
from callwright.services.pagination import CURSOR_PATTERN, MAX_LIMIT

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]

Cursor = Annotated[
    str | None,
    Query(pattern=CURSOR_PATTERN, max_length=60, description="The `next_cursor` of the previous page."),
]

QueryTimestamp = Annotated[
    Annotated[Timestamp, WithJsonSchema(TIMESTAMP_SCHEMA)] | None,
    Query(description="ISO 8601; UTC when the zone is left out."),
]
