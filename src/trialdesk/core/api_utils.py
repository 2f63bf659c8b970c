"""Shared API pieces: the error body, pagination, and the response map every route declares."""

from __future__ import annotations

from typing import Any

from ninja import Field, Schema


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = Field(default_factory=dict,
                                         description="Field name -> messages, for field-level errors")


# Every route declares these so the published schema describes real error bodies.
READ_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                                422: ErrorOut}

MAX_LIMIT = 500


def paginate(qs, *, limit: int, offset: int) -> dict:
    """{"items": [...], "count": N}; limit/offset are validated by the route's Query schema."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    offset = max(0, int(offset))
    return {"items": list(qs[offset: offset + limit]), "count": qs.count()}
