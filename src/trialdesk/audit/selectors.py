"""Reads of the audit trail: per record, per study, filtered; CSV export; chain verification."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet, Subquery

from trialdesk.audit.chain import ChainFailure, verify_chain
from trialdesk.audit.head import sync_pending
from trialdesk.audit.models import AuditChainHead, AuditEvent


@dataclass
class AuditFilter:
    record_type: str | None = None
    record_id: str | None = None
    study_id: int | None = None
    actor: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    text: str | None = None


def audit_events(flt: AuditFilter) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.all()
    key = {}
    if flt.record_type:
        key["record_type"] = flt.record_type
    if flt.record_id:
        key["record_id"] = str(flt.record_id)
    if flt.study_id is not None:
        key["study_id"] = flt.study_id
    if key:
        # Newest first, bounded by the newest event of the study or record. Without the bound PostgreSQL may
        # walk the whole seq index backwards looking for the study's events (it assumes they are spread
        # evenly): 2.5 s for a 443,000-event study whose events are not the newest, 1 ms with it.
        newest = AuditEvent.objects.filter(**key).order_by("-seq").values("seq")[:1]
        qs = qs.filter(**key, seq__lte=Subquery(newest))
    if flt.actor:
        qs = qs.filter(actor_username=flt.actor)
    if flt.action:
        qs = qs.filter(action=flt.action)
    if flt.since:
        qs = qs.filter(occurred_at__gte=flt.since)
    if flt.until:
        qs = qs.filter(occurred_at__lt=flt.until)
    if flt.text:
        qs = qs.filter(Q(reason__icontains=flt.text) | Q(record_label__icontains=flt.text))
    return qs.order_by("-seq")


CSV_COLUMNS = [
    "seq", "occurred_at_utc", "actor_username", "actor_name", "action", "record_type", "record_id",
    "record_label", "study_id", "field", "old_value", "new_value", "reason", "request_id", "channel", "hash",
]


def redact_events(user, events: list[AuditEvent]) -> list[AuditEvent]:
    """The events with their changes as `user` may see them (in memory only): blinded users never see a
    randomized arm (subjects.selectors.redact_audit_changes)."""
    from trialdesk.subjects.selectors import redact_audit_changes

    for ev in events:
        ev.changes = redact_audit_changes(user, ev.record_type, ev.changes)
    return events


def audit_csv_rows(qs: QuerySet[AuditEvent], user=None) -> Iterator[list]:
    """One row per changed field (one row for events with no field changes); redacted for `user` if given."""
    for ev in qs.iterator(chunk_size=2000):
        if user is not None:
            redact_events(user, [ev])
        base = [ev.seq, ev.occurred_at.astimezone(dt.UTC).isoformat(), ev.actor_username, ev.actor_name,
                ev.action, ev.record_type, ev.record_id, ev.record_label, ev.study_id or ""]
        tail = [ev.reason, ev.request_id, ev.channel, ev.hash]
        changes = ev.changes or {}
        if not changes:
            yield base + ["", "", ""] + tail
            continue
        for field_name, pair in changes.items():
            old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
            yield base + [field_name, _cell(old), _cell(new)] + tail


def _cell(value) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # Keep spreadsheet programs from evaluating cell text as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def audit_csv(qs: QuerySet[AuditEvent], user=None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in audit_csv_rows(qs, user):
        writer.writerow(row)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate(0)
    yield buffer.getvalue()


def _event_dicts() -> Iterator[dict]:
    fields = ["id", "seq", "occurred_at", "actor_id", "actor_username", "actor_name", "action", "record_type",
              "record_id", "record_label", "study_id", "changes", "reason", "request_id", "channel",
              "ip_address", "prev_hash", "hash"]
    for row in AuditEvent.objects.order_by("seq").values(*fields).iterator(chunk_size=5000):
        row["occurred_at"] = row["occurred_at"].isoformat()
        yield row


def audit_chain_verify() -> tuple[int, ChainFailure | None]:
    sync_pending(connection)  # inside an open transaction, see the head its commit would leave
    head = AuditChainHead.objects.filter(id=1).first()
    return verify_chain(
        _event_dicts(), head_seq=head.seq if head else 0, head_hash=head.hash if head else None
    )


def _resolve_record(record_type: str, record_id: str):
    """The model instance an audit record_type/id names (soft-deleted ones included), or None."""
    from django.apps import apps

    try:
        app_label, model_name = record_type.split(".", 1)
        model = apps.get_model(app_label, model_name)
    except (ValueError, LookupError):
        return None
    manager = getattr(model, "all_objects", model._default_manager)
    try:
        return manager.filter(pk=record_id).first()
    except (ValueError, TypeError):
        return None


def audit_record_history(user, record_type: str, record_id: str, flt: AuditFilter | None = None, *,
                         perm: str = "audit.view") -> QuerySet[AuditEvent]:
    """A record's audit history, if the user holds `perm` (audit.view, or audit.export) on that record."""
    from trialdesk.accounts import permissions
    from trialdesk.core.errors import NotFound

    record = _resolve_record(record_type, record_id)
    if record is None:
        raise NotFound("Record not found.")
    if record_type == "accounts.user":
        allowed = permissions.is_portfolio_wide(user, perm) or getattr(user, "pk", None) == record.pk
    else:
        allowed = permissions.has_perm(user, perm, record)
    if not allowed:
        raise NotFound("Record not found.")
    base = flt or AuditFilter()
    base.record_type, base.record_id = record_type, str(record_id)
    return audit_events(base)


def newest_study_event(study_id: int) -> int | None:
    """The seq of the newest audit event of a study (one index probe): it changes with every audited write
    to the study's records, so caches of study data use it in their keys."""
    return (AuditEvent.objects.filter(study_id=study_id).order_by("-seq").values_list("seq", flat=True)
            .first())


def study_actors(study_id: int) -> list[tuple[str, str]]:
    """The distinct (username, printed name) pairs of a study's audit trail, in order.

    A plain DISTINCT reads every event of the study (a mega-trial has over a hundred thousand); this walks
    the (study_id, actor_username, actor_name) index from one pair to the next ("loose index scan", a
    recursive query comparing row values), so it costs two index probes per distinct pair however long the
    trail is. Ordering by exactly the index's columns keeps PostgreSQL from walking the seq index instead."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    first = f"FROM {table} WHERE study_id = %s ORDER BY actor_username, actor_name LIMIT 1"
    after = (f"FROM {table} WHERE study_id = %s AND (actor_username, actor_name) > (pairs.username, pairs.name) "
             "ORDER BY actor_username, actor_name LIMIT 1")
    sql = f"""
        WITH RECURSIVE pairs(username, name) AS (
            SELECT (SELECT actor_username {first}), (SELECT actor_name {first})
            UNION ALL
            SELECT (SELECT actor_username {after}), (SELECT actor_name {after})
            FROM pairs WHERE pairs.username IS NOT NULL
        )
        SELECT username, name FROM pairs WHERE username IS NOT NULL ORDER BY username, name"""  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [study_id] * 4)
        return list(cursor.fetchall())


def audit_study_history(user, study, flt: AuditFilter | None = None, *, perm: str = "audit.view"
                        ) -> QuerySet[AuditEvent]:
    """Everything that happened in one study. Site-limited users cannot read the whole study's trail."""
    from trialdesk.accounts import permissions
    from trialdesk.core.errors import AccessDenied

    if not permissions.has_perm(user, perm, study, whole_study=True):
        raise AccessDenied("You may not read this study's full audit trail.")
    base = flt or AuditFilter()
    base.study_id = study.pk
    return audit_events(base)
