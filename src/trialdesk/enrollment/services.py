"""Writes for enrollment plans: baselines, re-baselining and plan entries. Every change is audited.

A plan's baselines are kept: re-baselining copies the current plan into baseline n+1 (with a reason) and
marks the old one as no longer current. Only the current baseline's entries may change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from trialdesk.accounts import permissions
from trialdesk.audit.services import Action, audit_events_append, draft_for
from trialdesk.core.crud import record_create, record_soft_delete, record_update
from trialdesk.core.errors import Conflict, ValidationFailed
from trialdesk.core.records import apply_changes, bump_version, check_version, require_reason, snapshot, validate
from trialdesk.enrollment.models import EnrollmentPlan, EnrollmentPlanEntry
from trialdesk.enrollment.selectors import EARLIEST_DATE, LATEST_DATE, check_date
from trialdesk.sites.models import StudySite

PLAN_FIELDS = frozenset({"label", "target", "planned_last_subject_in"})
ENTRY_FIELDS = frozenset({"site", "country", "planned_activation", "planned_rate_per_month", "planned_subjects"})
# Sites that will not enroll: generating entries skips them.
NON_ENROLLING_SITE_STATUSES = frozenset({"not_selected", "closed_out"})


def _check_plan_data(data: dict[str, Any]) -> None:
    if data.get("target") is not None and data["target"] < 1:
        raise ValidationFailed.field("target", "The target must be at least 1 subject.")
    check_date("planned_last_subject_in", data.get("planned_last_subject_in"))


def _require_current(plan: EnrollmentPlan) -> None:
    if plan.is_deleted or not plan.is_current:
        message = (f"Baseline {plan.baseline} is not the current plan; only the current baseline can change. "
                   "Re-baseline to change the plan.")
        raise Conflict(message, errors={"plan": [message]})


# --- Plans ---------------------------------------------------------------------------------------------

@transaction.atomic
def enrollment_plan_create(*, user, study, data: dict[str, Any] | None = None, reason: str = "") -> EnrollmentPlan:
    """The study's first plan (baseline 1). Later changes of the whole plan are re-baselines."""
    permissions.require(user, "enrollment.plan", study)
    data = dict(data or {})
    _check_plan_data(data)
    if EnrollmentPlan.all_objects.filter(study=study).select_for_update().exists():
        raise Conflict("This study has an enrollment plan already; re-baseline it instead.",
                       errors={"plan": ["The study has a plan already."]})
    plan = EnrollmentPlan(study=study, baseline=1, is_current=True)
    data.setdefault("target", study.planned_enrollment)
    data.setdefault("planned_last_subject_in", study.planned_last_subject_in)
    return record_create(actor=user, instance=plan, data=data, allowed=PLAN_FIELDS, reason=reason)


@transaction.atomic
def enrollment_plan_update(*, user, plan: EnrollmentPlan, data: dict[str, Any], version: int | None,
                           reason: str) -> EnrollmentPlan:
    """Correct the current baseline's label, target or planned last-subject-in (with a reason)."""
    permissions.require(user, "enrollment.plan", plan.study)
    _require_current(plan)
    _check_plan_data(data)
    return record_update(actor=user, instance=plan, data=data, allowed=PLAN_FIELDS, version=version,
                         reason=reason)[0]


@transaction.atomic
def enrollment_plan_rebaseline(*, user, plan: EnrollmentPlan, reason: str, version: int | None,
                               data: dict[str, Any] | None = None) -> EnrollmentPlan:
    """Copy the current plan (and its entries) into baseline n+1, optionally with a new label, target or
    planned last-subject-in; the old baseline is kept, no longer current. A reason is required."""
    permissions.require(user, "enrollment.plan", plan.study)
    check_version(plan, version)
    _require_current(plan)
    reason = require_reason(reason)
    data = dict(data or {})
    _check_plan_data(data)
    unknown = sorted(set(data) - PLAN_FIELDS)
    if unknown:
        raise ValidationFailed("Some fields cannot be set here.",
                               errors={name: ["This field cannot be set here."] for name in unknown})

    plan.is_current = False
    bump_version(plan)
    plan.save(update_fields=["is_current", "version", "updated_at"])
    drafts = [draft_for(plan, Action.UPDATE, changes={"is_current": [True, False]}, reason=reason)]

    last = EnrollmentPlan.all_objects.filter(study_id=plan.study_id).order_by("-baseline") \
        .values_list("baseline", flat=True).first()
    new = EnrollmentPlan(study_id=plan.study_id, baseline=(last or plan.baseline) + 1, is_current=True,
                         label=data.get("label", ""),
                         target=data.get("target", plan.target),
                         planned_last_subject_in=data.get("planned_last_subject_in", plan.planned_last_subject_in))
    validate(new)
    new.save()
    drafts.append(draft_for(new, Action.CREATE, changes={
        **{k: [None, v] for k, v in snapshot(new).items() if v not in (None, "") and k not in {"version",
                                                                                              "is_deleted"}},
        "copied_from_baseline": [None, plan.baseline]}, reason=reason))
    for entry in plan.entries.filter(is_deleted=False).order_by("id"):
        copy = EnrollmentPlanEntry(plan=new, site_id=entry.site_id, country=entry.country,
                                   planned_activation=entry.planned_activation,
                                   planned_rate_per_month=entry.planned_rate_per_month,
                                   planned_subjects=entry.planned_subjects)
        copy.save()
        drafts.append(draft_for(copy, Action.CREATE, changes=_entry_creation_changes(copy), reason=reason))
    audit_events_append(actor=user, drafts=drafts)
    return new


# --- Entries -------------------------------------------------------------------------------------------

def _entry_creation_changes(entry: EnrollmentPlanEntry) -> dict:
    return {k: [None, v] for k, v in snapshot(entry).items()
            if v not in (None, "") and k not in {"version", "is_deleted"}}


def _check_entry(entry: EnrollmentPlanEntry) -> None:
    """Exactly one of site or country; the site in the plan's study; one entry per site/country per plan."""
    entry.country = (entry.country or "").strip()
    if entry.site_id and entry.country:
        raise ValidationFailed("An entry is for a site or for a country, not both.",
                               errors={"country": ["Leave the country empty for a site's entry."]})
    if not entry.site_id and not entry.country:
        raise ValidationFailed("Choose a site or enter a country.",
                               errors={"site": ["Choose a site or enter a country."]})
    check_date("planned_activation", entry.planned_activation)
    siblings = EnrollmentPlanEntry.objects.filter(plan_id=entry.plan_id).exclude(pk=entry.pk)
    if entry.site_id:
        site = StudySite.objects.filter(pk=entry.site_id).only("study_id", "is_deleted").first()
        if site is None or site.study_id != entry.plan.study_id or site.is_deleted:
            raise ValidationFailed.field("site", "The site is not part of this study.")
        if siblings.filter(site_id=entry.site_id).exists():
            raise ValidationFailed.field("site", "This plan has an entry for this site already; edit that one.")
    elif siblings.filter(site__isnull=True, country__iexact=entry.country).exists():
        raise ValidationFailed.field("country", "This plan has an entry for this country already; edit that one.")


@transaction.atomic
def enrollment_plan_entry_create(*, user, plan: EnrollmentPlan, data: dict[str, Any], reason: str = ""
                                 ) -> EnrollmentPlanEntry:
    permissions.require(user, "enrollment.plan", plan.study)
    _require_current(plan)
    entry = EnrollmentPlanEntry(plan=plan)
    apply_changes(entry, data, allowed=ENTRY_FIELDS)
    _check_entry(entry)
    return record_create(actor=user, instance=entry, data={}, allowed=ENTRY_FIELDS, reason=reason)


@transaction.atomic
def enrollment_plan_entry_update(*, user, entry: EnrollmentPlanEntry, data: dict[str, Any], version: int | None,
                                 reason: str) -> EnrollmentPlanEntry:
    permissions.require(user, "enrollment.plan", entry.plan.study)
    _require_current(entry.plan)
    # Check the entry as it would become before anything is saved.
    probe = EnrollmentPlanEntry(pk=entry.pk, plan=entry.plan, site_id=entry.site_id, country=entry.country,
                                planned_activation=entry.planned_activation,
                                planned_rate_per_month=entry.planned_rate_per_month,
                                planned_subjects=entry.planned_subjects)
    apply_changes(probe, data, allowed=ENTRY_FIELDS)
    _check_entry(probe)
    return record_update(actor=user, instance=entry, data=data, allowed=ENTRY_FIELDS, version=version,
                         reason=reason)[0]


@transaction.atomic
def enrollment_plan_entry_delete(*, user, entry: EnrollmentPlanEntry, version: int | None, reason: str
                                 ) -> EnrollmentPlanEntry:
    permissions.require(user, "enrollment.plan", entry.plan.study)
    _require_current(entry.plan)
    return record_soft_delete(actor=user, instance=entry, version=version, reason=reason)


@transaction.atomic
def enrollment_plan_entries_generate(*, user, plan: EnrollmentPlan, rate_per_month: float,
                                     activation_date: dt.date | None = None, planned_subjects: int | None = None,
                                     reason: str = "") -> tuple[list[EnrollmentPlanEntry], list[StudySite]]:
    """One entry per study site that has none yet: activation from the site's planned activation date, else
    `activation_date`; rate `rate_per_month`. Returns (entries created, sites skipped for want of a date).
    Sites not selected or closed out are left out."""
    permissions.require(user, "enrollment.plan", plan.study)
    _require_current(plan)
    if not 0 <= rate_per_month <= 1000:
        raise ValidationFailed.field("rate_per_month", "Enter a rate between 0 and 1000 subjects per month.")
    if planned_subjects is not None and planned_subjects < 0:
        raise ValidationFailed.field("planned_subjects", "Enter 0 or more subjects.")
    check_date("activation_date", activation_date)
    planned = set(plan.entries.filter(site__isnull=False).values_list("site_id", flat=True))
    sites = (StudySite.objects.filter(study_id=plan.study_id).exclude(status__in=NON_ENROLLING_SITE_STATUSES)
             .exclude(pk__in=planned).order_by("site_number"))
    created, skipped, drafts = [], [], []
    for site in sites:
        start = site.planned_activated or activation_date
        if start is None or not EARLIEST_DATE <= start <= LATEST_DATE:
            skipped.append(site)
            continue
        entry = EnrollmentPlanEntry(plan=plan, site=site, planned_activation=start,
                                    planned_rate_per_month=float(rate_per_month), planned_subjects=planned_subjects)
        validate(entry)
        entry.save()
        created.append(entry)
        drafts.append(draft_for(entry, Action.CREATE, changes=_entry_creation_changes(entry),
                                reason=reason or "Generated from the study's sites"))
    audit_events_append(actor=user, drafts=drafts)
    return created, skipped

