"""The only writer of the audit trail. Every service that changes a record calls this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from trialdesk.audit.chain import GENESIS_HASH, event_hash
from trialdesk.audit.head import head_updated_by_appends
from trialdesk.audit.models import AuditChainHead, AuditEvent
from trialdesk.core import request_context
from trialdesk.core.records import to_jsonable

Action = AuditEvent.Action


@dataclass
class AuditDraft:
    """One event to append; built by services, written by `audit_events_append`."""

    action: str
    record_type: str
    record_id: str
    record_label: str = ""
    study_id: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def record_type_of(obj: models.Model | type[models.Model]) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def draft_for(obj: models.Model, action: str, *, changes: dict | None = None, reason: str = "") -> AuditDraft:
    return AuditDraft(
        action=action,
        record_type=record_type_of(obj),
        record_id=str(obj.pk),
        record_label=str(obj)[:300],
        study_id=getattr(obj, "audit_study_id", None),
        changes=to_jsonable(changes or {}),
        reason=reason or "",
    )


def actor_display_name(user) -> str:
    if user is None:
        return "System"
    person = getattr(user, "person", None)
    if person is not None:
        return person.full_name
    return user.get_full_name() or user.get_username()


@transaction.atomic
def audit_events_append(*, actor, drafts: Sequence[AuditDraft]) -> list[AuditEvent]:
    """Append events to the chain in one locked step (bulk insert; no per-row queries).

    The head row is locked so concurrent writers queue up; the chain continues from the newest event. On
    PostgreSQL the head row itself is moved once, when the transaction commits (see audit/head.py)."""
    if not drafts:
        return []
    ctx = request_context.current()
    AuditChainHead.objects.select_for_update().get_or_create(id=1, defaults={"seq": 0, "hash": GENESIS_HASH})
    seq, prev = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first() or (0, GENESIS_HASH)
    now = timezone.now()
    actor_id = getattr(actor, "pk", None)
    username = actor.get_username() if actor is not None else "system"
    name = actor_display_name(actor)
    events = []
    for draft in drafts:
        seq += 1
        fields = {
            "seq": seq,
            "occurred_at": now.isoformat(),
            "actor_id": actor_id,
            "actor_username": username,
            "actor_name": name,
            "action": draft.action,
            "record_type": draft.record_type,
            "record_id": str(draft.record_id),
            "record_label": (draft.record_label or "")[:300],
            "study_id": draft.study_id,
            "changes": to_jsonable(draft.changes),
            "reason": draft.reason or "",
            "request_id": ctx.request_id,
            "channel": ctx.channel,
            "ip_address": ctx.ip_address or "",
            "prev_hash": prev,
        }
        digest = event_hash(fields)
        fields["hash"] = digest
        fields["occurred_at"] = now
        events.append(AuditEvent(**fields))
        prev = digest
    AuditEvent.objects.bulk_create(events, batch_size=500)
    if head_updated_by_appends(connection.vendor):
        # Only a head that points at this batch's predecessor moves: one altered by hand stays visible.
        first = events[0]
        AuditChainHead.objects.filter(id=1, seq=first.seq - 1, hash=first.prev_hash).update(seq=seq, hash=prev)
    return events


def audit_event_create(*, actor, action: str, record: models.Model | None = None, record_type: str = "",
                       record_id: str = "", record_label: str = "", study_id: int | None = None,
                       changes: dict | None = None, reason: str = "") -> AuditEvent:
    """Append one event about a record (or about a non-model subject such as a login)."""
    if record is not None:
        draft = draft_for(record, action, changes=changes, reason=reason)
        if study_id is not None:
            draft.study_id = study_id
    else:
        draft = AuditDraft(action=action, record_type=record_type, record_id=record_id,
                           record_label=record_label, study_id=study_id, changes=changes or {}, reason=reason)
    return audit_events_append(actor=actor, drafts=[draft])[0]


def audit_export_record(*, user, record_type: str, record_id: str, study_id: int | None, filename: str,
                        filters: dict | None = None) -> AuditEvent:
    """Exports of the audit trail are themselves audited: who took a copy, of what, when."""
    return audit_event_create(actor=user, action=Action.EXPORT, record_type=record_type, record_id=str(record_id),
                              record_label=filename[:300], study_id=study_id,
                              changes={"filters": {k: v for k, v in (filters or {}).items() if v}})
