"""Shared API pieces: the error body, pagination, and the response map every route declares."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Field, Path, Schema
from pydantic import StringConstraints

from trialdesk.core.errors import NotFound, ValidationFailed


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


# --- Input building blocks shared by the area schemas ---------------------------

# Largest id a database row can have (64-bit signed); larger ids are refused as input, not sent to the DB.
MAX_ID = 2**63 - 1
# PositiveIntegerField's range on every supported database.
MAX_INT = 2_147_483_647
# PostgreSQL text cannot hold NUL; refusing it at the edge keeps such input a 422, not a database error.
NO_NUL = r"^[^\x00]*$"


# Single-line values (names, numbers, codes, search terms) also refuse control characters such as newlines,
# which would corrupt one-line displays, file names and headers.
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"


def text(max_length: int, *, min_length: int = 0) -> Any:
    """A string type with the model field's length limit and no NUL characters."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL)]


def line(max_length: int, *, min_length: int = 0) -> Any:
    """A single-line string: the model field's length limit and no control characters."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_CONTROL)]


Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
RecordVersion = Annotated[int, Field(ge=1, le=MAX_INT, description="The record's `version` as read (409 when stale)")]
Reason = Annotated[str, StringConstraints(max_length=5000, pattern=NO_NUL)]


class PageQuery(Schema):
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description="Page size (1-500)")
    offset: int = Field(0, ge=0, le=MAX_INT, description="Items to skip")


class DeleteIn(Schema):
    reason: Reason = Field("", description="Why the record is deleted (required)")
    version: RecordVersion


# A record id in the URL path.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


def resolve_ref(field: str, getter, user, pk: int | None):
    """Look up a record named by id in the request body; an unknown or invisible id is a 422 on that field."""
    if pk is None:
        return None
    try:
        return getter(user, pk)
    except NotFound as exc:
        raise ValidationFailed.field(field, f"{exc.message.rstrip('.')} (id {pk}).") from None
