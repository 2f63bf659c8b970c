"""Writes for the site staff roster and the delegation log.

Every function checks permissions (staff.edit for the roster, delegation.edit to propose / change / end /
withdraw delegations, delegation.sign plus being the site's principal investigator to sign), validates,
versions and audits. Signing re-checks the delegate's qualification and says exactly what is missing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.audit.services import Action, audit_event_create
from trialdesk.core.crud import editable_fields, record_create, record_soft_delete, record_update
from trialdesk.core.errors import AccessDenied, InvalidTransition, ValidationFailed
from trialdesk.core.records import bump_version, check_version, require_reason, to_jsonable
from trialdesk.staff import selectors, tasks
from trialdesk.staff.models import Delegation, SiteStaff

STAFF_FIELDS = editable_fields(SiteStaff, exclude={"site"})
STAFF_UPDATE_FIELDS = STAFF_FIELDS - {"person"}
DELEGATION_FIELDS = frozenset({"task", "task_detail", "start_date", "end_date"})
SIGN_MEANING = "approved"
# Site start-up dates, earliest first: a site created with its history has had its PI since the first of them.
PI_SINCE_MILESTONES = ("selected", "qualification_visit", "contract_executed", "irb_approval", "initiation_visit",
                       "activated")


def _site_label(site) -> str:
    return f"site {site.site_number}"


# --- Roster ------------------------------------------------------------------------------------------------------

def _roster_rules(staff: SiteStaff) -> None:
    """One open entry per person per site; one principal investigator per site at a time (a handover day, when
    one ends and the next starts, is allowed)."""
    if staff.person_id is None or staff.start_date is None:
        return  # model validation names the missing field
    others = SiteStaff.objects.filter(site_id=staff.site_id).exclude(pk=staff.pk).select_related("person")
    for other in others.filter(person_id=staff.person_id):
        if tasks.overlaps(staff.start_date, staff.end_date, other.start_date, other.end_date):
            until = f" to {other.end_date.isoformat()}" if other.end_date else ""
            raise ValidationFailed.field(
                "person", f"{other.person.full_name} is already on the roster of {_site_label(staff.site)} as "
                          f"{other.role_label} from {other.start_date.isoformat()}{until}. Change that entry, or "
                          "end it before adding another.")
    if staff.role == tasks.PI_ROLE:
        for other in others.filter(role=tasks.PI_ROLE):
            handover = staff.start_date == other.end_date or (staff.end_date is not None
                                                               and staff.end_date == other.start_date)
            if tasks.overlaps(staff.start_date, staff.end_date, other.start_date, other.end_date) and not handover:
                raise ValidationFailed.field(
                    "role", f"{_site_label(staff.site).capitalize()} already has a principal investigator on the "
                            f"roster for this period: {other.person.full_name} (from "
                            f"{other.start_date.isoformat()}). End that entry first.")


def _check_staff_dates_hold_delegations(staff: SiteStaff) -> None:
    """A roster period cannot shrink away from under the delegations recorded in it."""
    for delegation in staff.delegations.filter(status__in=("pending", "active")):
        if delegation.start_date < staff.start_date:
            raise ValidationFailed.field(
                "start_date", f"The delegation of {delegation.task_label} starts on "
                              f"{delegation.start_date.isoformat()}, before this start date. End or withdraw it "
                              "first.")


@transaction.atomic
def site_staff_create(*, user, site, data: dict[str, Any], reason: str = "") -> SiteStaff:
    permissions.require(user, "staff.edit", site)
    staff = record_create(actor=user, instance=SiteStaff(site=site), data=data, allowed=STAFF_FIELDS, reason=reason)
    _roster_rules(staff)  # raising rolls the whole write back
    return staff


@transaction.atomic
def site_staff_update(*, user, staff: SiteStaff, data: dict[str, Any], version: int | None,
                      reason: str) -> SiteStaff:
    permissions.require(user, "staff.edit", staff)
    check_version(staff, version)
    if staff.delegations.filter(status__in=("active", "ended")).exists():
        for name in ("role", "role_detail"):
            if name in data and (data[name] or "") != getattr(staff, name):
                raise ValidationFailed.field(
                    name, "Signed delegations name this role: end this roster entry and add a new one for the new "
                          "role, so the signed delegation log stays as it was signed.")
    staff, _ = record_update(actor=user, instance=staff, data=data, allowed=STAFF_UPDATE_FIELDS, version=version,
                             reason=reason)
    _roster_rules(staff)
    _check_staff_dates_hold_delegations(staff)
    return staff


@transaction.atomic
def site_staff_delete(*, user, staff: SiteStaff, version: int | None, reason: str) -> SiteStaff:
    """Remove an entry made in error. Entries with signed delegations stay: end them instead."""
    permissions.require(user, "staff.edit", staff)
    check_version(staff, version)
    if staff.delegations.filter(status__in=("active", "ended")).exists():
        raise InvalidTransition("This roster entry has signed delegations; set its end date instead of deleting it.")
    reason = require_reason(reason)
    for delegation in staff.delegations.filter(status="pending"):
        _delegation_set_status(user=user, delegation=delegation, status="withdrawn", reason=reason)
    return record_soft_delete(actor=user, instance=staff, version=version, reason=reason)


def site_pi_sync(*, user, site, on: dt.date | None = None) -> SiteStaff | None:
    """Keep the roster in step with the site's principal investigator (called by the site services when the PI
    is set or changed): the PI gets an open principal-investigator entry from today (the site's first PI: from
    its earliest recorded start-up date, when that is earlier); another person's open PI entry ends.

    The caller has checked site.edit; changing who the site's PI is carries this roster change with it.
    """
    person = site.principal_investigator
    if person is None:
        return None
    today = on or timezone.localdate()
    open_pis = list(SiteStaff.objects.select_for_update().filter(site_id=site.pk, role=tasks.PI_ROLE)
                    .filter(selectors._not_ended(today)).select_related("person"))
    current = next((s for s in open_pis if s.person_id == person.pk), None)
    if current is not None:
        return current
    start = today
    if not SiteStaff.all_objects.filter(site_id=site.pk, role=tasks.PI_ROLE).exists():
        # The site's first PI: in post since the earliest start-up date recorded for the site, if any (a site
        # brought in with its history), else from today.
        recorded = [d for d in (getattr(site, f"actual_{key}") for key in PI_SINCE_MILESTONES) if d is not None]
        start = min([today, *recorded])
    for old in open_pis:
        end = max(today, old.start_date)
        record_update(actor=user, instance=old, data={"end_date": end}, allowed=frozenset({"end_date"}),
                      version=old.version, reason=f"The site's principal investigator changed to {person.full_name}")
        start = max(start, end)
    existing = (SiteStaff.objects.filter(site_id=site.pk, person_id=person.pk).filter(selectors._not_ended(start))
                .first())
    if existing is not None:
        # Already on the roster in another role: that entry ends; the PI entry starts the next day.
        end = max(start, existing.start_date)
        record_update(actor=user, instance=existing, data={"end_date": end}, allowed=frozenset({"end_date"}),
                      version=existing.version, reason=f"{person.full_name} became the site's principal investigator")
        start = end + dt.timedelta(days=1)
    staff = SiteStaff(site=site)
    return record_create(actor=user, instance=staff, data={"person": person, "role": tasks.PI_ROLE,
                                                           "start_date": start},
                         allowed=STAFF_FIELDS, reason="The site's principal investigator")


# --- Delegation log ---------------------------------------------------------------------------------------------

def _delegation_rules(delegation: Delegation) -> None:
    staff = delegation.staff
    errors: dict[str, list[str]] = {}
    if staff.role == tasks.PI_ROLE:
        raise ValidationFailed.field(
            "staff", f"{staff.person.full_name} is the principal investigator of {_site_label(staff.site)}: the "
                     "investigator holds every study task and delegates them; nothing is delegated to them.")
    if delegation.task not in tasks.TASKS:
        errors["task"] = [f"Choose one of: {', '.join(tasks.TASKS)}."]
    if delegation.task != tasks.STUDY_SPECIFIC and delegation.task_detail:
        errors["task_detail"] = ["Only a study-specific task takes a description."]
    start, end = delegation.start_date, delegation.end_date
    if start is not None:
        if start < staff.start_date:
            errors["start_date"] = [f"{staff.person.full_name} is on the roster from "
                                    f"{staff.start_date.isoformat()}; a delegation cannot start before that."]
        if staff.end_date is not None and start > staff.end_date:
            errors["start_date"] = [f"{staff.person.full_name}'s roster entry ends on {staff.end_date.isoformat()}."]
    if end is not None and staff.end_date is not None and end > staff.end_date:
        errors["end_date"] = [f"{staff.person.full_name}'s roster entry ends on {staff.end_date.isoformat()}; "
                              "a delegation cannot outlast it."]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    if start is None:
        return
    twins = (Delegation.objects.filter(staff_id=staff.pk, task=delegation.task, status__in=("pending", "active"))
             .exclude(pk=delegation.pk))
    if delegation.task == tasks.STUDY_SPECIFIC:
        twins = twins.filter(task_detail__iexact=(delegation.task_detail or "").strip())
    for twin in twins:
        if tasks.overlaps(start, end, twin.start_date, twin.effective_end):
            state = "pending signature" if twin.status == "pending" else "signed"
            raise ValidationFailed.field(
                "task", f"{staff.person.full_name} already has a delegation of {twin.task_label} ({state}, from "
                        f"{twin.start_date.isoformat()}) that overlaps these dates.")


@transaction.atomic
def delegation_create(*, user, staff: SiteStaff, data: dict[str, Any], reason: str = "") -> Delegation:
    """Propose a delegation (pending until the site's principal investigator signs it)."""
    permissions.require(user, "delegation.edit", staff)
    delegation = Delegation(staff=staff, status="pending", proposed_by=user if user is not None else None)
    delegation = record_create(actor=user, instance=delegation, data=data, allowed=DELEGATION_FIELDS, reason=reason)
    _delegation_rules(delegation)  # raising rolls the whole write back
    return delegation


@transaction.atomic
def delegations_create(*, user, staff: SiteStaff, task_list: list[str], task_detail: str = "",
                       start_date: dt.date | None, end_date: dt.date | None = None, reason: str = ""
                       ) -> list[Delegation]:
    """Propose several tasks for one person at once (all or nothing)."""
    if not task_list:
        raise ValidationFailed.field("tasks", "Choose at least one task.")
    out = []
    for task in dict.fromkeys(task_list):
        data = {"task": task, "start_date": start_date, "end_date": end_date}
        if task == tasks.STUDY_SPECIFIC:
            data["task_detail"] = task_detail
        out.append(delegation_create(user=user, staff=staff, data=data, reason=reason))
    return out


@transaction.atomic
def delegation_update(*, user, delegation: Delegation, data: dict[str, Any], version: int | None,
                      reason: str) -> Delegation:
    """Change a delegation that is still pending signature (a signed one is ended and proposed again)."""
    permissions.require(user, "delegation.edit", delegation)
    check_version(delegation, version)
    if delegation.status != "pending":
        raise InvalidTransition(f"Only a delegation pending signature can be changed; this one is "
                                f"{delegation.get_status_display().lower()}. End it and propose a new one.")
    data = dict(data)
    if data.get("task", delegation.task) != tasks.STUDY_SPECIFIC and "task_detail" not in data:
        data["task_detail"] = ""
    delegation, _ = record_update(actor=user, instance=delegation, data=data, allowed=DELEGATION_FIELDS,
                                  version=version, reason=reason)
    _delegation_rules(delegation)
    return delegation


def _delegation_set_status(*, user, delegation: Delegation, status: str, reason: str,
                           extra: dict[str, Any] | None = None) -> Delegation:
    changes: dict[str, list] = {"status": [delegation.status, status]}
    fields = ["status", "version", "updated_at"]
    for name, value in (extra or {}).items():
        old = getattr(delegation, name)
        if old != value:
            changes[name] = [to_jsonable(old), to_jsonable(value)]
            setattr(delegation, name, value)
            fields.append(name)
    delegation.status = status
    bump_version(delegation)
    delegation.save(update_fields=fields)
    audit_event_create(actor=user, action=Action.TRANSITION, record=delegation, changes=changes, reason=reason)
    return delegation


@transaction.atomic
def delegation_withdraw(*, user, delegation: Delegation, version: int | None, reason: str) -> Delegation:
    """Withdraw a delegation that was never signed."""
    permissions.require(user, "delegation.edit", delegation)
    check_version(delegation, version)
    if delegation.status != "pending":
        raise InvalidTransition(f"Only a delegation pending signature can be withdrawn; this one is "
                                f"{delegation.get_status_display().lower()}. End it instead.")
    reason = require_reason(reason)
    return _delegation_set_status(user=user, delegation=delegation, status="withdrawn", reason=reason)


@transaction.atomic
def delegation_end(*, user, delegation: Delegation, ended_on: dt.date | None, version: int | None,
                   reason: str) -> Delegation:
    """End a signed delegation on `ended_on` (the last day it covers). The signed entry stays as signed."""
    permissions.require(user, "delegation.edit", delegation)
    check_version(delegation, version)
    if delegation.status != "active":
        raise InvalidTransition(f"Only a signed delegation can be ended; this one is "
                                f"{delegation.get_status_display().lower()}.")
    if ended_on is None:
        raise ValidationFailed.field("ended_on", "Give the last day the delegation covers.")
    if ended_on < delegation.start_date:
        raise ValidationFailed.field("ended_on", f"The delegation starts on {delegation.start_date.isoformat()}; "
                                                 "it cannot end before that.")
    if delegation.end_date is not None and ended_on > delegation.end_date:
        raise ValidationFailed.field("ended_on", f"The delegation already ends on {delegation.end_date.isoformat()}.")
    reason = require_reason(reason)
    return _delegation_set_status(user=user, delegation=delegation, status="ended", reason=reason,
                                  extra={"ended_on": ended_on, "ended_reason": reason})


def delegation_sign(*, user, delegation: Delegation, password: str, version: int | None,
                    comment: str = "") -> Delegation:
    """The site's principal investigator signs a pending delegation (meaning: approved).

    Refused, naming everything missing, unless the delegate's roster entry covers the start, their protocol
    training for the study's current protocol version is complete and their GCP certificate is recorded and valid.
    The password is checked outside the transaction so a failed attempt's audit event is kept.
    """
    site = delegation.staff.site
    problem = selectors.signer_problem(user, site)
    if problem:
        raise AccessDenied(problem)
    check_version(delegation, version)
    if delegation.status != "pending":
        raise InvalidTransition(f"Only a delegation pending signature can be signed; this one is "
                                f"{delegation.get_status_display().lower()}.")
    blockers = selectors.delegation_sign_blockers(delegation)
    if blockers:
        errors: dict[str, list[str]] = {}
        for field, message in blockers:
            errors.setdefault(field, []).append(message)
        raise ValidationFailed(f"This delegation cannot be signed: {' '.join(m for _, m in blockers)}",
                               errors=errors)
    from trialdesk.signatures.services import signature_create

    signature = signature_create(user=user, password=password, record=delegation, meaning=SIGN_MEANING,
                                 comment=comment)
    return _delegation_mark_signed(user=user, delegation=delegation, signature=signature)


@transaction.atomic
def _delegation_mark_signed(*, user, delegation: Delegation, signature) -> Delegation:
    current = Delegation.objects.select_for_update().get(pk=delegation.pk)
    if current.status != "pending" or current.version != delegation.version:
        raise InvalidTransition("The delegation changed while it was being signed; reload it and sign again.")
    return _delegation_set_status(user=user, delegation=delegation, status="active",
                                  reason=signature.comment or "Signed by the principal investigator",
                                  extra={"signature_id": signature.pk, "signed_at": signature.signed_at})
