"""Writes for the schedule of events and subjects' visits. Every write is permission-checked and audited.

The subject services call `subject_visits_generate`, `subject_visits_reanchor` and
`subject_visits_reschedule` inside their own transactions; these nest (savepoints) and audit
every visit they plan, re-date or cancel.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.audit.services import Action, audit_event_create, audit_events_append, draft_for
from trialdesk.core.crud import record_create, record_soft_delete, record_update
from trialdesk.core.errors import Conflict, InvalidTransition, ValidationFailed
from trialdesk.core.records import apply_changes, bump_version, check_version, require_reason, to_jsonable, validate
from trialdesk.studies.models import ProtocolVersion
from trialdesk.visits.models import MODALITIES, SubjectVisit, VisitDefinition
from trialdesk.visits.schedule import ANCHOR_DATE_FIELD, PlannedWindow, is_missed, is_out_of_window
from trialdesk.visits.schedule import plan_visit as _plan_visit

DEFINITION_FIELDS = frozenset({"code", "name", "order", "anchor", "target_day", "window_before", "window_after",
                               "modality", "required"})
MODALITY_CODES = frozenset(code for code, _ in MODALITIES)
# A (subject, definition) with a visit in one of these states is never planned again.
LIVE_VISIT_STATUSES = ("planned", "completed", "missed")


# --- Schedule of events ------------------------------------------------------------

def _require_draft_schedule(pv: ProtocolVersion) -> None:
    """The schedule is part of the approved protocol: only a draft version's schedule may change."""
    if pv.status != "draft":
        msg = (f"The schedule of events of protocol {pv.version_number} cannot be changed: the version is "
               f"{pv.get_status_display().lower()} and its schedule is part of the approved protocol. "
               "Create a new protocol version (amendment) and change its schedule instead.")
        raise ValidationFailed(msg, errors={"protocol_version": [msg]})


def _check_code_free(pv: ProtocolVersion, code: str, *, exclude_pk: int | None = None) -> None:
    qs = VisitDefinition.objects.filter(protocol_version=pv, code__iexact=(code or "").strip())
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if code and qs.exists():
        raise ValidationFailed.field("code", f"Visit code {code.strip()!r} is already used in this schedule.")


def _check_unused(definition: VisitDefinition) -> None:
    if SubjectVisit.objects.filter(definition=definition).exists():
        raise Conflict(f"Subjects already have visits planned from {definition.code}; it cannot be changed.",
                       errors={"record": ["Subjects already have visits planned from this definition."]})


@transaction.atomic
def visit_definition_create(*, user, protocol_version: ProtocolVersion, data: dict[str, Any],
                            reason: str = "") -> VisitDefinition:
    permissions.require(user, "schedule.edit", protocol_version)
    pv = ProtocolVersion.objects.select_for_update().get(pk=protocol_version.pk)
    _require_draft_schedule(pv)
    _check_code_free(pv, data.get("code", ""))
    instance = VisitDefinition(protocol_version=pv, study_id=pv.study_id)
    return record_create(actor=user, instance=instance, data=data, allowed=DEFINITION_FIELDS, reason=reason)


@transaction.atomic
def visit_definition_update(*, user, definition: VisitDefinition, data: dict[str, Any], version: int | None,
                            reason: str) -> VisitDefinition:
    permissions.require(user, "schedule.edit", definition)
    _require_draft_schedule(ProtocolVersion.objects.select_for_update().get(pk=definition.protocol_version_id))
    _check_unused(definition)
    if "code" in data:
        _check_code_free(definition.protocol_version, data["code"], exclude_pk=definition.pk)
    return record_update(actor=user, instance=definition, data=data, allowed=DEFINITION_FIELDS, version=version,
                         reason=reason)[0]


@transaction.atomic
def visit_definition_delete(*, user, definition: VisitDefinition, version: int | None,
                            reason: str) -> VisitDefinition:
    permissions.require(user, "schedule.edit", definition)
    _require_draft_schedule(ProtocolVersion.objects.select_for_update().get(pk=definition.protocol_version_id))
    _check_unused(definition)
    return record_soft_delete(actor=user, instance=definition, version=version, reason=reason)


@transaction.atomic
def visit_definitions_copy(*, user, source: ProtocolVersion, target: ProtocolVersion,
                           reason: str = "") -> list[VisitDefinition]:
    """Copy a protocol version's schedule into a draft version of the same study (codes must not clash)."""
    permissions.require(user, "schedule.edit", target)
    target = ProtocolVersion.objects.select_for_update().get(pk=target.pk)
    _require_draft_schedule(target)
    if source.study_id != target.study_id:
        raise ValidationFailed.field("source_protocol_version_id",
                                     "The schedule can only be copied from a version of the same study.")
    if source.pk == target.pk:
        raise ValidationFailed.field("source_protocol_version_id", "Choose a different protocol version to copy.")
    originals = list(VisitDefinition.objects.filter(protocol_version=source))
    if not originals:
        raise ValidationFailed.field("source_protocol_version_id",
                                     f"Protocol {source.version_number} has no schedule of events to copy.")
    taken = {c.upper() for c in VisitDefinition.objects.filter(protocol_version=target)
             .values_list("code", flat=True)}
    clashes = sorted(d.code for d in originals if d.code.upper() in taken)
    if clashes:
        msg = (f"Protocol {target.version_number} already has visits {', '.join(clashes)}; "
               "remove them first or add the other visits one by one.")
        raise Conflict(msg, errors={"record": [msg]})
    copies = [
        VisitDefinition(protocol_version=target, study_id=target.study_id,
                        **{name: getattr(d, name) for name in DEFINITION_FIELDS})
        for d in originals
    ]
    for copy in copies:
        validate(copy)
    copies = VisitDefinition.objects.bulk_create(copies)
    why = reason.strip() or f"Copied from the schedule of protocol {source.version_number}"
    audit_events_append(actor=user, drafts=[
        draft_for(c, Action.CREATE, reason=why,
                  changes={**{name: [None, getattr(c, name)] for name in sorted(DEFINITION_FIELDS)},
                           "protocol_version": [None, target.pk], "copied_from": [None, o.pk]})
        for c, o in zip(copies, originals, strict=True)
    ])
    return copies


# --- Generation from the schedule -----------------------------------------------------

def plan_visit(definition: VisitDefinition, anchor_date: dt.date) -> PlannedWindow:
    try:
        return _plan_visit(anchor_date, definition.target_day, definition.window_before, definition.window_after)
    except ValueError as exc:
        raise ValidationFailed.field(ANCHOR_DATE_FIELD[definition.anchor], str(exc)) from None


def _lock_subject(subject) -> None:
    """Serialise schedule changes per subject so two writers cannot plan the same visit twice."""
    type(subject)._base_manager.select_for_update().filter(pk=subject.pk).values_list("pk", flat=True).first()


def _current_approved_version(study_id: int) -> ProtocolVersion | None:
    return (ProtocolVersion.objects.filter(study_id=study_id, status="approved")
            .order_by("-approved_at", "-version_date", "-id").first())


def _schedule_start(subject) -> dt.date | None:
    """From when the subject's current schedule applies, if an older schedule covered earlier visits.

    A subject switches schedule at re-consent to a consent form of a newer protocol version, so the
    earliest such re-consent is the date; None when there is no older schedule to stay clear of.
    """
    if not SubjectVisit.objects.filter(subject=subject).exclude(
            definition__protocol_version_id=subject.protocol_version_id).exists():
        return None
    from trialdesk.subjects.models import ConsentEvent

    return (ConsentEvent.objects.filter(subject=subject, is_reconsent=True,
                                        icf_version__protocol_version_id=subject.protocol_version_id)
            .aggregate(start=Min("consented_on"))["start"])


def _set_subject_protocol_version(*, user, subject, pv: ProtocolVersion, reason: str) -> None:
    if subject.protocol_version_id == pv.pk:
        return
    changes = {"protocol_version": [subject.protocol_version_id, pv.pk]}
    subject.protocol_version = pv
    bump_version(subject)
    subject.save(update_fields=["protocol_version", "version", "updated_at"])
    audit_event_create(actor=user, action=Action.UPDATE, record=subject, changes=changes, reason=reason)


def _plan_missing(*, user, subject, pv: ProtocolVersion, after: dt.date | None, reason: str) -> list[SubjectVisit]:
    """Create the planned visits of pv's schedule the subject does not have yet (anchor date known)."""
    have = set(SubjectVisit.objects.filter(subject=subject, status__in=LIVE_VISIT_STATUSES)
               .values_list("definition_id", flat=True))
    new = []
    for d in VisitDefinition.objects.filter(protocol_version=pv):
        anchor_date = getattr(subject, ANCHOR_DATE_FIELD[d.anchor])
        if d.pk in have or anchor_date is None:
            continue
        w = plan_visit(d, anchor_date)
        if after is not None and w.planned_on <= after:
            continue
        new.append(SubjectVisit(subject=subject, definition=d, study_id=subject.study_id, site_id=subject.site_id,
                                planned_on=w.planned_on, window_start=w.window_start, window_end=w.window_end,
                                modality=d.modality, status="planned"))
    if not new:
        return []
    new = SubjectVisit.objects.bulk_create(new)
    audit_events_append(actor=user, drafts=[
        draft_for(v, Action.CREATE, reason=reason, changes={
            "subject": [None, v.subject_id], "definition": [None, v.definition_id], "status": [None, "planned"],
            "planned_on": [None, v.planned_on], "window_start": [None, v.window_start],
            "window_end": [None, v.window_end], "modality": [None, v.modality]})
        for v in new
    ])
    return new


@transaction.atomic
def subject_visits_generate(*, user, subject) -> list[SubjectVisit]:
    """Plan the subject's visits from their protocol version's schedule (idempotent).

    A subject with no protocol version is tied to the study's current approved version here.
    Visits whose anchor date is not known yet are planned later by `subject_visits_reanchor`.
    """
    permissions.require(user, "subject.edit", subject)
    _lock_subject(subject)
    pv = subject.protocol_version
    if pv is None:
        pv = _current_approved_version(subject.study_id)
        if pv is None:
            return []
        _set_subject_protocol_version(
            user=user, subject=subject, pv=pv,
            reason=f"Schedule of events of protocol {pv.version_number} (current approved version) applies")
    return _plan_missing(user=user, subject=subject, pv=pv, after=_schedule_start(subject),
                         reason=f"Planned from the schedule of events of protocol {pv.version_number}")


@transaction.atomic
def subject_visits_reanchor(*, user, subject) -> list[SubjectVisit]:
    """After an anchor date (consent, enrollment, randomization, first dose) was set or corrected.

    Planned visits follow their anchor's new date (or are cancelled when it was cleared); visits whose
    anchor date just became known are planned. Completed and missed visits are never touched.
    Returns the newly planned visits.
    """
    permissions.require(user, "subject.edit", subject)
    if subject.enrolled_on is None:
        return []  # visits are planned from enrollment on
    if subject.protocol_version_id is None:
        return subject_visits_generate(user=user, subject=subject)
    _lock_subject(subject)
    now = timezone.now()
    changed, drafts = [], []
    planned = (SubjectVisit.objects.select_for_update(of=("self",)).select_related("definition", "subject")
               .filter(subject=subject, status="planned", definition__protocol_version_id=subject.protocol_version_id))
    for v in planned:
        d = v.definition
        anchor_date = getattr(subject, ANCHOR_DATE_FIELD[d.anchor])
        if anchor_date is None:
            v.status = "cancelled"
            changes = {"status": ["planned", "cancelled"]}
            why = f"The {d.get_anchor_display().lower()} date this visit is planned from was removed"
        else:
            w = plan_visit(d, anchor_date)
            if (w.planned_on, w.window_start, w.window_end) == (v.planned_on, v.window_start, v.window_end):
                continue
            changes = {"planned_on": [v.planned_on, w.planned_on], "window_start": [v.window_start, w.window_start],
                       "window_end": [v.window_end, w.window_end]}
            v.planned_on, v.window_start, v.window_end = w.planned_on, w.window_start, w.window_end
            why = f"The {d.get_anchor_display().lower()} date changed to {anchor_date.isoformat()}"
        bump_version(v)
        v.updated_at = now
        changed.append(v)
        drafts.append(draft_for(v, Action.UPDATE, changes=changes, reason=why))
    if changed:
        SubjectVisit.objects.bulk_update(changed, ["status", "planned_on", "window_start", "window_end", "version",
                                                   "updated_at"])
        audit_events_append(actor=user, drafts=drafts)
    pv = subject.protocol_version
    return _plan_missing(user=user, subject=subject, pv=pv, after=_schedule_start(subject),
                         reason=f"Planned from the schedule of events of protocol {pv.version_number}")


@transaction.atomic
def subject_visits_reschedule(*, user, subject, protocol_version: ProtocolVersion, effective_on: dt.date) -> None:
    """Move the subject to protocol_version's schedule from effective_on (the re-consent date).

    Planned visits of the old schedule dated after effective_on are cancelled; the new schedule's visits
    dated after effective_on are planned. Completed and missed visits stay as they are.
    """
    permissions.require(user, "subject.edit", subject)
    if protocol_version.study_id != subject.study_id:
        raise ValidationFailed.field("protocol_version", "The protocol version belongs to another study.")
    _lock_subject(subject)
    why = (f"Schedule of events of protocol {protocol_version.version_number} applies from "
           f"{effective_on.isoformat()} (re-consent)")
    now = timezone.now()
    cancelled = list(SubjectVisit.objects.select_for_update(of=("self",)).select_related("definition", "subject")
                     .filter(subject=subject, status="planned", planned_on__gt=effective_on)
                     .exclude(definition__protocol_version=protocol_version))
    for v in cancelled:
        v.status = "cancelled"
        bump_version(v)
        v.updated_at = now
    if cancelled:
        SubjectVisit.objects.bulk_update(cancelled, ["status", "version", "updated_at"])
        audit_events_append(actor=user, drafts=[
            draft_for(v, Action.UPDATE, changes={"status": ["planned", "cancelled"]}, reason=why) for v in cancelled
        ])
    _set_subject_protocol_version(user=user, subject=subject, pv=protocol_version, reason=why)
    if subject.enrolled_on is not None:
        _plan_missing(user=user, subject=subject, pv=protocol_version, after=effective_on, reason=why)


def subject_visits_end(*, user, subject, ended_on: dt.date, why: str) -> list[SubjectVisit]:
    """The subject left the study (completed, withdrawn): planned visits after that date are cancelled,
    so they neither turn into missed-visit deviations nor stay in calendars and feeds."""
    permissions.require(user, "subject.edit", subject)
    _lock_subject(subject)
    now = timezone.now()
    cancelled = list(SubjectVisit.objects.select_for_update(of=("self",))
                     .filter(subject=subject, status="planned", planned_on__gt=ended_on))
    for v in cancelled:
        v.status = "cancelled"
        bump_version(v)
        v.updated_at = now
    if cancelled:
        SubjectVisit.objects.bulk_update(cancelled, ["status", "version", "updated_at"])
        audit_events_append(actor=user, drafts=[
            draft_for(v, Action.UPDATE, changes={"status": ["planned", "cancelled"]}, reason=why) for v in cancelled
        ])
    return cancelled


# --- Recording visits ---------------------------------------------------------------------

@transaction.atomic
def subject_visit_record(*, user, visit: SubjectVisit, actual_on: dt.date | None, modality: str | None,
                         notes: str = "", version: int | None, reason: str = "") -> SubjectVisit:
    """Record that a visit took place. Correcting a completed or missed visit needs a reason."""
    permissions.require(user, "visit.edit", visit)
    check_version(visit, version)
    if visit.status == "cancelled":
        raise InvalidTransition("This visit was cancelled when the subject's schedule changed; it cannot be recorded.",
                                errors={"status": ["The visit is cancelled."]})
    errors: dict[str, list[str]] = {}
    today = timezone.localdate()
    if actual_on is None:
        errors["actual_on"] = ["The date of the visit is required."]
    elif actual_on > today:
        errors["actual_on"] = ["A visit cannot be recorded with a date in the future."]
    elif visit.subject.consented_on and actual_on < visit.subject.consented_on:
        errors["actual_on"] = [f"The visit date is before the subject's consent "
                               f"({visit.subject.consented_on.isoformat()})."]
    modality = (modality or "").strip() or visit.definition.modality
    if modality not in MODALITY_CODES:
        errors["modality"] = [f"Choose one of: {', '.join(sorted(MODALITY_CODES))}."]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    new = {"actual_on": actual_on, "modality": modality, "notes": (notes or "").strip(), "status": "completed",
           "out_of_window": is_out_of_window(actual_on, visit.window_start, visit.window_end)}
    if not any(to_jsonable(getattr(visit, name)) != to_jsonable(value) for name, value in new.items()):
        return visit
    # Checked before the instance is touched, so a refused call leaves it as it was.
    reason = require_reason(reason) if visit.status != "planned" else (reason or "").strip()
    changes = apply_changes(visit, new, allowed=frozenset(new))
    validate(visit)
    bump_version(visit)
    visit.save()
    audit_event_create(actor=user, action=Action.UPDATE, record=visit, changes=changes, reason=reason)
    return visit


@transaction.atomic
def subject_visit_mark_missed(*, user, visit: SubjectVisit, version: int | None, reason: str) -> SubjectVisit:
    permissions.require(user, "visit.edit", visit)
    check_version(visit, version)
    if visit.status != "planned":
        raise InvalidTransition(f"Only a planned visit can be marked missed; this one is "
                                f"{visit.get_status_display().lower()}.",
                                errors={"status": ["Only a planned visit can be marked missed."]})
    reason = require_reason(reason)
    visit.status = "missed"
    bump_version(visit)
    visit.save(update_fields=["status", "version", "updated_at"])
    audit_event_create(actor=user, action=Action.UPDATE, record=visit, changes={"status": ["planned", "missed"]},
                       reason=reason)
    return visit


@transaction.atomic
def subject_visits_flag_missed(*, today: dt.date | None = None) -> dict[int, int]:
    """System job: planned visits whose window ended before today become missed. Returns {study_id: count}."""
    today = today or timezone.localdate()
    now = timezone.now()
    overdue = [v for v in SubjectVisit.objects.select_for_update(of=("self",)).select_related("definition", "subject")
               .filter(status="planned", window_end__lt=today).order_by("id") if is_missed(v.window_end, today)]
    for v in overdue:
        v.status = "missed"
        bump_version(v)
        v.updated_at = now
    if not overdue:
        return {}
    SubjectVisit.objects.bulk_update(overdue, ["status", "version", "updated_at"], batch_size=500)
    audit_events_append(actor=None, drafts=[
        draft_for(v, Action.UPDATE, changes={"status": ["planned", "missed"]},
                  reason=f"Visit window ended on {v.window_end.isoformat()} without a recorded visit")
        for v in overdue
    ])
    counts: dict[int, int] = {}
    for v in overdue:
        counts[v.study_id] = counts.get(v.study_id, 0) + 1
    return counts
