"""API schemas for reading the audit trail."""

import datetime as dt
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator

from trialdesk.audit.models import AuditEvent
from trialdesk.core.api_utils import PageQuery, line

AuditAction = Literal[tuple(AuditEvent.Action.values)]  # type: ignore[valid-type]


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Naive times are taken as UTC; times that fall outside the calendar once in UTC are refused."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("Date-time is out of range.") from None


UtcDateTime = Annotated[dt.datetime, AfterValidator(_as_utc)]


class AuditExportFilterIn(Schema):
    actor: line(150) = Field(None, description="Username of the actor")
    action: AuditAction = None
    since: UtcDateTime = Field(None, description="Events at or after this time (UTC if no offset)")
    until: UtcDateTime = Field(None, description="Events before this time (UTC if no offset)")
    q: line(200) = Field(None, description="Text search: reason, record label")


class AuditFilterIn(PageQuery, AuditExportFilterIn):
    pass


class AuditEventOut(Schema):
    seq: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor_username: str
    actor_name: str
    action: str
    action_label: str
    record_type: str
    record_id: str
    record_label: str
    study_id: int | None
    changes: dict[str, Any] = Field(description="Field name -> [old, new] (other shapes for logins and signatures)")
    reason: str
    request_id: str
    channel: str
    ip_address: str
    prev_hash: str
    hash: str

    @staticmethod
    def resolve_action_label(obj) -> str:
        return obj.get_action_display()


class AuditListOut(Schema):
    items: list[AuditEventOut]
    count: int


class ChainFailureOut(Schema):
    seq: int | None
    event_id: int | None
    problem: str


class AuditVerifyOut(Schema):
    checked: int = Field(description="Events whose hash was recomputed")
    ok: bool
    failure: ChainFailureOut | None = Field(description="The first broken event, if any")
