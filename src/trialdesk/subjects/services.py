"""Writes for subjects: screening log, consent forms and consent events, re-consent, randomization, settings.

Every function checks permissions, validates, versions and audits. Site enrollment counts are kept equal
to the number of the site's subjects with an enrollment date, in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.audit.services import Action, audit_event_create, audit_events_append, draft_for
from trialdesk.core.crud import record_create, record_soft_delete, record_update
from trialdesk.core.errors import AccessDenied, Conflict, InvalidTransition, ValidationFailed
from trialdesk.core.records import bump_version, check_version, require_reason, to_jsonable
from trialdesk.sites.lifecycle import SITE_STATUSES
from trialdesk.sites.models import StudySite
from trialdesk.studies.lifecycle import transition_error
from trialdesk.studies.models import Arm, ProtocolVersion
from trialdesk.subjects import rules
from trialdesk.subjects.lifecycle import (
    ON_STUDY_STATUSES,
    STATUS_DATE_FIELD,
    SUBJECT_STATUSES,
    SUBJECT_TRANSITIONS,
    WITHDRAWAL_REASONS,
)
from trialdesk.subjects.models import (
    ConsentEvent,
    IcfVersion,
    Randomization,
    ReconsentRequirement,
    Subject,
    SubjectSettings,
)

# --- Delegation -------------------------------------------------------------------------------------------

TASKS = {"consent": ("obtained_by", "obtain informed consent"),
         "eligibility": ("eligibility_confirmed_by", "confirm eligibility")}


class DelegationRefused(ValidationFailed):
    """The person is not delegated for the task at the site."""


def delegation_check(person, site: StudySite, task: str, on: dt.date | None = None) -> None:
    """Refuse unless `person` may do `task` ("consent" or "eligibility") at `site` on `on` (default today).

    The site's delegation log decides (staff area): the person holds a delegation of the task at the site,
    signed by the principal investigator and in force on that day (their roster entry too), or they are the
    site's principal investigator on its staff roster that day.
    """
    from trialdesk.staff import selectors as staff
    from trialdesk.staff.tasks import SUBJECT_TASKS
    from trialdesk.staff.tasks import TASKS as STAFF_TASKS

    field, doing = TASKS[task]
    if person is None:
        raise DelegationRefused.field(field, f"Name the person who did this ({doing}).")
    on = on or timezone.localdate()
    if staff.site_pi_entry(person, site, on) is not None:
        return
    staff_task = SUBJECT_TASKS[task]
    if staff.delegation_covering(person, site, staff_task, on) is not None:
        return
    who = person.full_name
    where = f"site {site.site_number} of {site.study.protocol_number}"
    raise DelegationRefused.field(field, f"{who} is not delegated to {doing} at {where} on {on.isoformat()}: the "
                                         f"site's delegation log has no signed delegation of "
                                         f"\"{STAFF_TASKS[staff_task]}\" to them in force that day, and they are not "
                                         "its principal investigator on the staff roster.")


# --- Settings ---------------------------------------------------------------------------------------------

SETTINGS_FIELDS = frozenset({"id_pattern", "screen_fail_reasons", "no_enrollment_alert_days",
                             "on_time_probability_threshold", "screen_fail_alert_ratio"})


@transaction.atomic
def subject_settings_get_or_create(*, user, study) -> SubjectSettings:
    """The study's screening-log settings, created with the defaults on first use (audited)."""
    existing = SubjectSettings.objects.filter(study=study).first()
    if existing is not None:
        return existing
    if not any(permissions.has_perm(user, perm, study) for perm in ("subject.edit", "subject.import", "study.edit")):
        raise AccessDenied("You do not have permission to configure subjects of this study.")
    try:
        with transaction.atomic():
            return record_create(actor=user, instance=SubjectSettings(study=study), data={}, allowed=frozenset(),
                                 reason="Default screening-log settings")
    except Conflict:
        # Someone else created them at the same moment.
        return SubjectSettings.objects.get(study=study)


@transaction.atomic
def subject_settings_update(*, user, study, data: dict[str, Any], version: int | None, reason: str
                            ) -> SubjectSettings:
    permissions.require(user, "study.edit", study)
    settings = subject_settings_get_or_create(user=user, study=study)
    data = dict(data)
    errors: dict[str, list[str]] = {}
    if "id_pattern" in data:
        data["id_pattern"] = (data["id_pattern"] or "").strip()
        longest_site = max(study.sites.values_list("site_number", flat=True), key=len, default="101")
        problems = rules.id_pattern_errors(data["id_pattern"], site_number=longest_site,
                                           protocol_number=study.protocol_number)
        if problems:
            errors["id_pattern"] = problems
    if "screen_fail_reasons" in data:
        reasons = data["screen_fail_reasons"]
        problems = rules.screen_fail_reason_errors(reasons)
        if not problems:
            reasons = [{"code": str(r["code"]).strip(), "label": str(r["label"]).strip()} for r in reasons]
            data["screen_fail_reasons"] = reasons
            kept = {r["code"] for r in reasons}
            used = (Subject.all_objects.filter(study=study).exclude(screen_fail_reason_code="")
                    .exclude(screen_fail_reason_code__in=kept).values_list("screen_fail_reason_code", flat=True)
                    .distinct())
            problems = [f"The code {code!r} is recorded for subjects of this study; keep it in the list."
                        for code in sorted(used)]
        if problems:
            errors["screen_fail_reasons"] = problems
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    return record_update(actor=user, instance=settings, data=data, allowed=SETTINGS_FIELDS, version=version,
                         reason=reason)[0]


# --- Subject numbers ----------------------------------------------------------------------------------------

class NumberAllocator:
    """Hands out subject numbers and per-site sequences for one study; never reuses either.

    The sequence continues after the highest ever used at the site, soft-deleted subjects included.
    """

    def __init__(self, study, pattern: str):
        self.study = study
        self.pattern = pattern
        self.taken = set(Subject.all_objects.filter(study=study).values_list("subject_number", flat=True))
        self.max_seq: dict[int, int] = dict(
            Subject.all_objects.filter(study=study).values("site_id").annotate(m=Max("site_sequence"))
            .values_list("site_id", "m"))
        self.used_seq: dict[int, set[int]] = {}

    def _seq_used(self, site_id: int, seq: int) -> bool:
        if site_id not in self.used_seq:
            self.used_seq[site_id] = set(Subject.all_objects.filter(site_id=site_id)
                                         .values_list("site_sequence", flat=True))
        return seq in self.used_seq[site_id]

    def is_taken(self, number: str) -> bool:
        return number in self.taken

    def allocate(self, site: StudySite, number: str = "") -> tuple[int, str]:
        """(site_sequence, subject_number). A given number keeps its own sequence when the pattern made it."""
        number = (number or "").strip()
        if number:
            if number in self.taken:
                raise Conflict(f"Subject number {number} is already used in this study (numbers are never reused).",
                               errors={"subject_number": [f"{number} is already used in this study."]})
            regex = rules.subject_number_regex(self.pattern, site_number=site.site_number,
                                               protocol_number=self.study.protocol_number)
            seq = rules.sequence_in_number(number, regex)
            if seq is None or seq < 1 or self._seq_used(site.pk, seq):
                seq = self.max_seq.get(site.pk, 0) + 1
        else:
            seq = self.max_seq.get(site.pk, 0) + 1
            for _ in range(10_000):
                number = rules.format_subject_number(self.pattern, site_number=site.site_number, seq=seq,
                                                     protocol_number=self.study.protocol_number)
                if number not in self.taken:
                    break
                seq += 1
            else:  # pragma: no cover - would need 10,000 collisions
                raise Conflict("Could not find a free subject number; check the subject number pattern.")
            if len(number) > 60:
                raise ValidationFailed.field("subject_number", f"The subject number {number!r} made by the pattern "
                                                               "is longer than 60 characters; shorten the pattern.")
        self.taken.add(number)
        self.max_seq[site.pk] = max(self.max_seq.get(site.pk, 0), seq)
        self.used_seq.setdefault(site.pk, set()).add(seq)
        return seq, number


# --- Site enrollment counts -------------------------------------------------------------------------------

def site_enrollment_sync(*, user, site_ids, reason: str) -> None:
    """Make each site's enrolled_count equal its subjects with an enrollment date (locked, versioned, audited).

    Also records the site's actual first-subject-in date when it is still empty.
    """
    drafts = []
    for site in StudySite.objects.select_for_update().filter(pk__in=sorted(set(site_ids))).order_by("pk"):
        enrolled = Subject.objects.filter(site=site, enrolled_on__isnull=False)
        count = enrolled.count()
        changes: dict[str, list] = {}
        if site.enrolled_count != count:
            changes["enrolled_count"] = [site.enrolled_count, count]
            site.enrolled_count = count
        if site.actual_first_subject_in is None and count:
            first = enrolled.order_by("enrolled_on").values_list("enrolled_on", flat=True).first()
            changes["actual_first_subject_in"] = [None, first]
            site.actual_first_subject_in = first
        if changes:
            bump_version(site)
            site.save(update_fields=["enrolled_count", "actual_first_subject_in", "version", "updated_at"])
            drafts.append(draft_for(site, Action.UPDATE, changes=changes, reason=reason))
    audit_events_append(actor=user, drafts=drafts)


# Leaving the study ends the visit schedule (lost to follow-up keeps it: the subject may come back).
ENDED_STATUSES = frozenset({"completed", "withdrawn"})


def _visits():
    # Imported when called: the visits area imports subjects' models, not the other way round.
    from trialdesk.visits import services as visit_services

    return visit_services


# --- Subjects ---------------------------------------------------------------------------------------------

def _today() -> dt.date:
    return timezone.localdate()


def _check_not_future(on: dt.date, field: str) -> None:
    if on > _today():
        raise ValidationFailed.field(field, f"The date {on} is in the future.")


def latest_status_date(subject: Subject) -> tuple[str, dt.date] | None:
    events = rules.recorded_dates({f: getattr(subject, f) for f in STATUS_DATE_FIELD.values()})
    return events[-1] if events else None


def _check_after_previous(subject: Subject, on: dt.date, field: str) -> None:
    latest = latest_status_date(subject)
    if latest and on < latest[1]:
        raise ValidationFailed.field(field, f"The date {on} is before the subject's {rules.status_label(latest[0])} "
                                            f"date ({latest[1]}).")


def _locked(subject: Subject) -> Subject:
    """The subject reloaded under a row lock (after check_version), so its status cannot change underneath us."""
    return Subject.objects.select_for_update(of=("self",)).select_related("site__study", "study").get(pk=subject.pk)


@transaction.atomic
def subject_create(*, user, site: StudySite, status: str = "pre_screened", on: dt.date | None = None,
                   subject_number: str = "", reason: str = "") -> Subject:
    """Add a subject to a site's screening log as pre-screened or screened; the number comes from the pattern."""
    permissions.require(user, "subject.edit", site)
    if status not in rules.ENTRY_STATUSES:
        allowed = " or ".join(rules.status_label(s) for s in rules.ENTRY_STATUSES)
        raise ValidationFailed.field("status", f"A new subject starts as {allowed}; consent, enrollment and later "
                                               "steps are recorded afterwards.")
    on = on or _today()
    _check_not_future(on, "on")
    # Lock the site: numbering and enrollment counts of one site are decided one writer at a time.
    site = StudySite.objects.select_for_update(of=("self",)).select_related("study").get(pk=site.pk)
    if site.is_deleted:
        raise ValidationFailed.field("site", "This site is deleted.")
    settings = subject_settings_get_or_create(user=user, study=site.study)
    seq, number = NumberAllocator(site.study, settings.id_pattern).allocate(site, subject_number)
    subject = Subject(study=site.study, site=site, site_sequence=seq, subject_number=number, status=status)
    setattr(subject, STATUS_DATE_FIELD[status], on)
    return record_create(actor=user, instance=subject, data={}, allowed=frozenset(), reason=reason)


def _current_protocol_version(study_id: int) -> ProtocolVersion | None:
    return (ProtocolVersion.objects.filter(study_id=study_id, status="approved")
            .order_by("-version_date", "-id").first())


def _enter_status(*, user, subject: Subject, status: str, on: dt.date, reason: str, extra: dict[str, Any] | None = None,
                  field: str = "on") -> Subject:
    """Move a (locked) subject to `status` on `on`, with extra field values; audited as a transition."""
    error = transition_error(subject.status, status, SUBJECT_STATUSES,
                             SUBJECT_TRANSITIONS.get(subject.status, frozenset()))
    if error:
        raise InvalidTransition(error, errors={"status": [error]})
    _check_not_future(on, field)
    _check_after_previous(subject, on, field)
    old_status = subject.status
    values = {"status": status, STATUS_DATE_FIELD[status]: on, **(extra or {})}
    changes: dict[str, list] = {}
    for name, value in values.items():
        old = getattr(subject, subject._meta.get_field(name).attname)
        new = value.pk if hasattr(value, "pk") else value
        if to_jsonable(old) != to_jsonable(new):
            changes[name] = [to_jsonable(old), to_jsonable(new)]
        setattr(subject, name, value)
    bump_version(subject)
    subject.save()
    audit_event_create(actor=user, action=Action.TRANSITION, record=subject, changes=changes, reason=reason)
    if old_status in ON_STUDY_STATUSES and status not in ON_STUDY_STATUSES:
        _reconsents_close(user=user, subject=subject,
                          reason=f"Subject is {rules.status_label(status)}; re-consent no longer required")
    if status in ENDED_STATUSES:
        _visits().subject_visits_end(user=user, subject=subject, ended_on=on,
                                     why=f"Subject {rules.status_label(status).lower()} on {on.isoformat()}")
    return subject


@transaction.atomic
def subject_transition(*, user, subject: Subject, status: str, version: int | None, reason: str,
                       on: dt.date | None = None, screen_fail_reason_code: str = "", screen_fail_reason_text: str = "",
                       withdrawal_reason: str = "", withdrawal_text: str = "", eligibility_confirmed_by=None
                       ) -> Subject:
    """Record a screening-log status change on a date (default today; never in the future, never before the
    previous status date). Consent and randomization are recorded with their own services."""
    permissions.require(user, "subject.edit", subject)
    check_version(subject, version)
    subject = _locked(subject)
    if status == "consented":
        raise ValidationFailed.field("status", "Record the informed consent (form version, date, method and who "
                                               "obtained it) to move a subject to Consented.")
    if status == "randomized":
        raise ValidationFailed.field("status", "Record the randomization (arm, stratum, date and IRT/EDC "
                                               "reference) to move a subject to Randomized.")
    error = transition_error(subject.status, status, SUBJECT_STATUSES,
                             SUBJECT_TRANSITIONS.get(subject.status, frozenset()))
    if error:
        raise InvalidTransition(error, errors={"status": [error]})
    reason = require_reason(reason)
    on = on or _today()
    extra: dict[str, Any] = {}
    site = subject.site
    if status == "screen_failed":
        settings = subject_settings_get_or_create(user=user, study=subject.study)
        codes = rules.reason_codes(settings.screen_fail_reasons)
        code = (screen_fail_reason_code or "").strip()
        if code not in codes:
            raise ValidationFailed.field("screen_fail_reason_code", "Choose a screen-failure reason from the "
                                         f"study's list ({', '.join(codes)}).")
        text = (screen_fail_reason_text or "").strip()
        if code == "other" and not text:
            raise ValidationFailed.field("screen_fail_reason_text", "Describe the reason when it is 'Other'.")
        extra.update(screen_fail_reason_code=code, screen_fail_reason_text=text)
    elif status == "withdrawn":
        code = (withdrawal_reason or "").strip()
        if code not in WITHDRAWAL_REASONS:
            raise ValidationFailed.field("withdrawal_reason", "Choose the withdrawal reason ("
                                         f"{', '.join(WITHDRAWAL_REASONS.values())}).")
        text = (withdrawal_text or "").strip()
        if code == "other" and not text:
            raise ValidationFailed.field("withdrawal_text", "Describe the reason when it is 'Other'.")
        extra.update(withdrawal_reason=code, withdrawal_text=text)
    elif status == "enrolled":
        site = StudySite.objects.select_for_update(of=("self",)).select_related("study").get(pk=subject.site_id)
        if site.status not in rules.ENROLLING_SITE_STATUSES:
            message = (f"Site {site.site_number} is {SITE_STATUSES.get(site.status, site.status)}: subjects can be "
                       "enrolled only at an Activated or Enrolling site. Change the site's status first.")
            raise InvalidTransition(message, errors={"status": [message]})
        if site.actual_activated and on < site.actual_activated:
            raise ValidationFailed.field("on", f"The enrollment date {on} is before the site's activation "
                                               f"({site.actual_activated}).")
        if eligibility_confirmed_by is None:
            raise ValidationFailed.field("eligibility_confirmed_by", "Enrollment needs the investigator who "
                                                                     "confirmed eligibility.")
        delegation_check(eligibility_confirmed_by, site, "eligibility", on)
        extra["eligibility_confirmed_by"] = eligibility_confirmed_by
        if subject.protocol_version_id is None:
            current = _current_protocol_version(subject.study_id)
            if current is not None:
                extra["protocol_version"] = current
    subject = _enter_status(user=user, subject=subject, status=status, on=on, reason=reason, extra=extra)
    if status == "enrolled":
        site_enrollment_sync(user=user, site_ids=[subject.site_id],
                             reason=f"Subject {subject.subject_number} enrolled")
        subject.site.refresh_from_db()
        _visits().subject_visits_generate(user=user, subject=subject)
    return subject


@transaction.atomic
def subject_randomize(*, user, subject: Subject, arm: Arm, version: int | None, randomized_on: dt.date | None = None,
                      stratum: str = "", irt_reference: str = "", reason: str = "") -> Randomization:
    """Record the treatment assignment and move the subject to Randomized, in one step."""
    permissions.require(user, "consent.record", subject)
    if getattr(user, "is_blinded", False):
        raise AccessDenied("Blinded users cannot record a treatment assignment (they would see the arm).")
    check_version(subject, version)
    subject = _locked(subject)
    if Randomization.all_objects.filter(subject=subject).exists():
        raise Conflict(f"Subject {subject.subject_number} is already randomized.",
                       errors={"status": ["Already randomized."]})
    if arm is None or arm.study_id != subject.study_id or arm.is_deleted:
        raise ValidationFailed.field("arm", "Choose one of this study's arms.")
    randomized_on = randomized_on or _today()
    reference = (irt_reference or "").strip()
    reason = (reason or "").strip() or ("Randomization recorded" + (f" (IRT/EDC reference {reference})"
                                                                     if reference else ""))
    _enter_status(user=user, subject=subject, status="randomized", on=randomized_on, reason=reason,
                  field="randomized_on")
    randomization = record_create(
        actor=user, instance=Randomization(subject=subject), reason=reason,
        data={"arm": arm, "stratum": (stratum or "").strip(), "randomized_on": randomized_on,
              "irt_reference": reference},
        allowed=frozenset({"arm", "stratum", "randomized_on", "irt_reference"}))
    _visits().subject_visits_reanchor(user=user, subject=subject)
    return randomization


@transaction.atomic
def subject_first_dose_record(*, user, subject: Subject, first_dose_on: dt.date | None, version: int | None,
                              reason: str) -> Subject:
    """Record (or correct) the first dose date; visits anchored on first dose are planned from it."""
    permissions.require(user, "subject.edit", subject)
    if first_dose_on is not None:
        if subject.enrolled_on is None:
            raise ValidationFailed.field("first_dose_on", "The subject is not enrolled yet.")
        _check_not_future(first_dose_on, "first_dose_on")
        earliest = max(d for d in (subject.enrolled_on, subject.randomized_on) if d)
        if first_dose_on < earliest:
            raise ValidationFailed.field("first_dose_on", f"The first dose ({first_dose_on}) cannot be before "
                                                          f"enrollment or randomization ({earliest}).")
    subject, changes = record_update(actor=user, instance=subject, data={"first_dose_on": first_dose_on},
                                     allowed=frozenset({"first_dose_on"}), version=version, reason=reason)
    if changes:
        _visits().subject_visits_reanchor(user=user, subject=subject)
    return subject


@transaction.atomic
def subject_delete(*, user, subject: Subject, version: int | None, reason: str) -> Subject:
    """Soft delete (e.g. entered twice). The number and sequence stay used; the site count is corrected."""
    permissions.require(user, "subject.edit", subject)
    subject = record_soft_delete(actor=user, instance=subject, version=version, reason=reason)
    if subject.enrolled_on is not None:
        site_enrollment_sync(user=user, site_ids=[subject.site_id],
                             reason=f"Subject {subject.subject_number} deleted: {subject.deleted_reason}")
    return subject


# --- Consent forms (ICF versions) -----------------------------------------------------------------------------

ICF_FIELDS = frozenset({"version_number", "version_date", "country", "site", "protocol_version",
                        "irb_approval_date"})


def _check_icf_refs(study, data: dict[str, Any], current: IcfVersion | None = None) -> None:
    site = data.get("site", current.site if current else None)
    pv = data.get("protocol_version", current.protocol_version if current else None)
    country = (data.get("country", current.country if current else "") or "").strip()
    if site is not None and site.study_id != study.pk:
        raise ValidationFailed.field("site", "The site belongs to another study.")
    if pv is not None and pv.study_id != study.pk:
        raise ValidationFailed.field("protocol_version", "The protocol version belongs to another study.")
    if site is not None and country and country.casefold() != (site.country or "").strip().casefold():
        raise ValidationFailed.field("country", f"Site {site.site_number} is in {site.country or 'no country'}; "
                                                "leave the country empty for a site-specific form.")
    irb = data.get("irb_approval_date", current.irb_approval_date if current else None)
    if irb is not None:
        _check_not_future(irb, "irb_approval_date")


@transaction.atomic
def icf_version_create(*, user, study, data: dict[str, Any], reason: str = "") -> IcfVersion:
    permissions.require(user, "icf.edit", study)
    _check_icf_refs(study, data)
    return record_create(actor=user, instance=IcfVersion(study=study, status="draft"), data=data,
                         allowed=ICF_FIELDS, reason=reason)


@transaction.atomic
def icf_version_update(*, user, icf_version: IcfVersion, data: dict[str, Any], version: int | None,
                       reason: str) -> IcfVersion:
    permissions.require(user, "icf.edit", icf_version)
    if icf_version.status != "draft":
        raise InvalidTransition(f"{icf_version} is {icf_version.get_status_display()}: an approved consent form "
                                "cannot be changed; create a new version.",
                                errors={"status": ["Only a draft consent form can be changed."]})
    _check_icf_refs(icf_version.study, data, icf_version)
    return record_update(actor=user, instance=icf_version, data=data, allowed=ICF_FIELDS, version=version,
                         reason=reason)[0]


def _transition_record(*, user, record, status: str, reason: str, extra: dict | None = None) -> None:
    changes = {"status": [record.status, status]}
    record.status = status
    for name, value in (extra or {}).items():
        changes[name] = [to_jsonable(getattr(record, name)), to_jsonable(value)]
        setattr(record, name, value)
    bump_version(record)
    record.save()
    audit_event_create(actor=user, action=Action.TRANSITION, record=record, changes=changes, reason=reason)


@transaction.atomic
def icf_version_approve(*, user, icf_version: IcfVersion, version: int | None, reason: str = "") -> IcfVersion:
    """Mark a draft consent form approved by the IRB/IEC.

    The previously approved form of the same scope is superseded, and every subject still on study for whom
    this form is now the applicable one, and whose latest consent is to an older form (or who has no consent
    on record), gets an open re-consent requirement.
    """
    permissions.require(user, "icf.edit", icf_version)
    check_version(icf_version, version)
    icf = IcfVersion.objects.select_for_update(of=("self",)).select_related("study", "site").get(pk=icf_version.pk)
    if icf.status != "draft":
        raise InvalidTransition(f"Only a draft consent form can be approved; {icf} is {icf.get_status_display()}.",
                                errors={"status": ["Only a draft consent form can be approved."]})
    if icf.irb_approval_date is None:
        raise ValidationFailed.field("irb_approval_date", "Enter the IRB/IEC approval date before approving.")
    _check_not_future(icf.irb_approval_date, "irb_approval_date")
    reason = (reason or "").strip() or f"Approved by the IRB/IEC on {icf.irb_approval_date}"
    today = _today()
    previous = list(IcfVersion.objects.select_for_update()
                    .filter(study_id=icf.study_id, status="approved", country=icf.country, site_id=icf.site_id)
                    .exclude(pk=icf.pk))
    for old in previous:
        _transition_record(user=user, record=old, status="superseded",
                           reason=f"Superseded by consent form {icf.version_number}")
        for req in ReconsentRequirement.objects.select_for_update().filter(icf_version=old, status="open"):
            _transition_record(user=user, record=req, status="not_required", extra={"closed_on": today},
                               reason=f"Consent form {old.version_number} superseded by {icf.version_number}")
    _transition_record(user=user, record=icf, status="approved", reason=reason)
    _reconsents_create(user=user, icf=icf)
    icf_version.refresh_from_db()
    return icf_version


def _latest_consents(subject_ids) -> dict[int, ConsentEvent]:
    latest: dict[int, ConsentEvent] = {}
    for event in (ConsentEvent.objects.filter(subject_id__in=subject_ids).select_related("icf_version")
                  .order_by("subject_id", "consented_on", "id")):
        latest[event.subject_id] = event
    return latest


def _reconsents_create(*, user, icf: IcfVersion) -> list[ReconsentRequirement]:
    approved = list(IcfVersion.objects.filter(study_id=icf.study_id, status="approved"))
    subjects = Subject.objects.filter(study_id=icf.study_id, status__in=ON_STUDY_STATUSES).select_related("site")
    if icf.site_id:
        subjects = subjects.filter(site_id=icf.site_id)
    elif icf.country:
        subjects = subjects.filter(site__country__iexact=icf.country.strip())
    subjects = list(subjects)
    latest = _latest_consents([s.pk for s in subjects])
    existing = set(ReconsentRequirement.all_objects.filter(icf_version=icf).values_list("subject_id", flat=True))
    new = []
    for subject in subjects:
        current = rules.current_icf(subject.site, approved)
        if current is None or current.pk != icf.pk or subject.pk in existing:
            continue
        last = latest.get(subject.pk)
        if last is not None and (last.icf_version_id == icf.pk or last.icf_version.version_date >= icf.version_date):
            continue
        new.append(ReconsentRequirement(subject=subject, icf_version=icf, status="open"))
    if new:
        ReconsentRequirement.objects.bulk_create(new)
        created = list(ReconsentRequirement.objects.filter(icf_version=icf, subject_id__in=[r.subject_id for r in new])
                       .select_related("subject", "icf_version"))
        audit_events_append(actor=user, drafts=[
            draft_for(req, Action.CREATE, changes={"subject": [None, req.subject_id], "icf_version": [None, icf.pk],
                                                   "status": [None, "open"]},
                      reason=f"Consent form {icf.version_number} approved; re-consent required")
            for req in created])
        return created
    return []


def _reconsents_close(*, user, subject: Subject, reason: str) -> None:
    for req in ReconsentRequirement.objects.select_for_update().filter(subject=subject, status="open"):
        _transition_record(user=user, record=req, status="not_required", extra={"closed_on": _today()},
                           reason=reason)


# --- Consent events ------------------------------------------------------------------------------------------

@transaction.atomic
def consent_record(*, user, subject: Subject, icf_version: IcfVersion, consented_on: dt.date, method: str,
                   obtained_by, reason: str = "") -> ConsentEvent:
    """Record a consent or re-consent of a subject, obtained by a person delegated for consent at the site.

    A first consent moves a pre-screened or screened subject to Consented. A re-consent fulfils the open
    re-consent requirement; when the form belongs to another protocol version, the subject moves to that
    version and their future visits are rescheduled from the consent date.
    """
    permissions.require(user, "consent.record", subject)
    subject = Subject.objects.select_for_update(of=("self",)).select_related("site__study", "study").get(pk=subject.pk)
    site = subject.site
    icf = IcfVersion.objects.select_related("site", "protocol_version").filter(pk=getattr(icf_version, "pk", None)) \
        .first()
    if subject.status not in ON_STUDY_STATUSES and subject.status not in rules.ENTRY_STATUSES:
        raise InvalidTransition(f"Subject {subject.subject_number} is {rules.status_label(subject.status)}: "
                                "consent cannot be recorded any more.",
                                errors={"status": ["The subject is no longer on study."]})
    if icf is None or icf.study_id != subject.study_id or icf.is_deleted:
        raise ValidationFailed.field("icf_version", "Choose a consent form of this study.")
    if icf.status == "draft":
        raise ValidationFailed.field("icf_version", f"Consent form {icf.version_number} is not approved by the "
                                                    "IRB/IEC yet.")
    approved = list(IcfVersion.objects.filter(study_id=subject.study_id, status="approved").select_related("site"))
    current = rules.current_icf(site, approved)
    if not rules.icf_applies(icf, site):
        raise ValidationFailed.field("icf_version", f"Consent form {icf.version_number} is for "
                                                    f"{rules.icf_scope_label(icf)}, not for site {site.site_number}"
                                                    f"{f' ({site.country})' if site.country else ''}.")
    if current is None or current.pk != icf.pk:
        hint = f"; the current form for site {site.site_number} is {current.version_number}" if current else ""
        state = "superseded" if icf.status == "superseded" else "not the current form at this site"
        raise ValidationFailed.field("icf_version", f"Consent form {icf.version_number} is {state}{hint}.")
    if method not in dict(ConsentEvent.METHODS):
        raise ValidationFailed.field("method", "Choose paper or e-consent.")
    if consented_on is None:
        raise ValidationFailed.field("consented_on", "Enter the consent date.")
    _check_not_future(consented_on, "consented_on")
    if icf.irb_approval_date and consented_on < icf.irb_approval_date:
        raise ValidationFailed.field("consented_on", f"The consent date {consented_on} is before the IRB/IEC "
                                                     f"approval of form {icf.version_number} "
                                                     f"({icf.irb_approval_date}).")
    delegation_check(obtained_by, site, "consent", consented_on)

    previous = list(ConsentEvent.objects.filter(subject=subject).order_by("consented_on", "id"))
    open_req = ReconsentRequirement.objects.select_for_update().filter(subject=subject, icf_version=icf,
                                                                       status="open").first()
    is_reconsent = bool(previous) or open_req is not None
    method_label = dict(ConsentEvent.METHODS)[method]
    reason = (reason or "").strip() or (f"{'Re-consent' if is_reconsent else 'Informed consent'} to form "
                                        f"{icf.version_number} ({method_label}) recorded")
    if previous:
        last = previous[-1]
        if last.icf_version_id == icf.pk:
            raise Conflict(f"Subject {subject.subject_number} already consented to form {icf.version_number} on "
                           f"{last.consented_on}.", errors={"icf_version": ["Already consented to this form."]})
        if consented_on < last.consented_on:
            raise ValidationFailed.field("consented_on", f"The consent date {consented_on} is before the "
                                                         f"previous consent ({last.consented_on}).")

    pv_changes = icf.protocol_version_id is not None and icf.protocol_version_id != subject.protocol_version_id
    if subject.status in rules.ENTRY_STATUSES:
        extra = {"protocol_version": icf.protocol_version} if pv_changes else {}
        subject = _enter_status(user=user, subject=subject, status="consented", on=consented_on, reason=reason,
                                extra=extra, field="consented_on")
        pv_changes = False
    else:
        changes: dict[str, list] = {}
        if subject.consented_on is None:
            changes["consented_on"] = [None, consented_on]
            subject.consented_on = consented_on
        if pv_changes:
            changes["protocol_version"] = [subject.protocol_version_id, icf.protocol_version_id]
            subject.protocol_version = icf.protocol_version
        if changes:
            bump_version(subject)
            subject.save()
            audit_event_create(actor=user, action=Action.UPDATE, record=subject, changes=changes, reason=reason)
    event = record_create(actor=user, instance=ConsentEvent(subject=subject, is_reconsent=is_reconsent), reason=reason,
                          data={"icf_version": icf, "consented_on": consented_on, "method": method,
                                "obtained_by": obtained_by},
                          allowed=frozenset({"icf_version", "consented_on", "method", "obtained_by"}))
    if open_req is not None:
        _transition_record(user=user, record=open_req, status="done",
                           extra={"fulfilled_by": event, "closed_on": consented_on},
                           reason=f"Re-consented to form {icf.version_number} on {consented_on}")
    if pv_changes and subject.enrolled_on is not None:
        _visits().subject_visits_reschedule(user=user, subject=subject, protocol_version=icf.protocol_version,
                                            effective_on=consented_on)
    return event


# --- Bulk import (see subjects/importer.py for parsing and checks) ---------------------------------------------

def _subject_drafts(subjects: list[Subject], reason: str) -> list:
    from trialdesk.core.records import snapshot

    drafts = []
    for subject in subjects:
        values = {k: v for k, v in snapshot(subject).items()
                  if v not in (None, "", [], {}) and k not in {"version", "is_deleted"}}
        drafts.append(draft_for(subject, Action.IMPORT, changes={k: [None, v] for k, v in values.items()},
                                reason=reason))
    return drafts


def subjects_import_write(*, user, study, rows: list[dict[str, Any]], reason: str) -> list[Subject]:
    """Create checked import rows (called by importer.screening_log_import inside its transaction).

    rows: model values per subject plus "site" (StudySite), "subject_number" (may be empty) and an optional
    "randomization" dict. Numbers are allocated like single creates; everything is audited in one append.
    """
    sites = {row["site"].pk for row in rows}
    list(StudySite.objects.select_for_update().filter(pk__in=sorted(sites)))
    settings = subject_settings_get_or_create(user=user, study=study)
    allocator = NumberAllocator(study, settings.id_pattern)
    current_pv = _current_protocol_version(study.pk)
    # Numbers the file gives are taken first, so generated ones can never collide with them.
    allocated: dict[int, tuple[int, str]] = {}
    for given_first in (True, False):
        for index, row in enumerate(rows):
            if bool(row.get("subject_number")) == given_first:
                allocated[index] = allocator.allocate(row["site"], row.get("subject_number", ""))
    subjects = []
    randomizations = []
    for index, row in enumerate(rows):
        values = dict(row)
        site = values.pop("site")
        randomization = values.pop("randomization", None)
        values.pop("subject_number", None)
        seq, number = allocated[index]
        subject = Subject(study=study, site=site, site_sequence=seq, subject_number=number, **values)
        if subject.enrolled_on is not None and subject.protocol_version_id is None and current_pv is not None:
            subject.protocol_version = current_pv
        subjects.append(subject)
        randomizations.append(randomization)
    try:
        with transaction.atomic():
            Subject.objects.bulk_create(subjects, batch_size=500)
    except IntegrityError:
        raise Conflict("Another user added subjects with the same numbers meanwhile; run the import again.") from None
    if any(s.pk is None for s in subjects):  # pragma: no cover - databases without RETURNING
        by_number = dict(Subject.objects.filter(study=study, subject_number__in=[s.subject_number for s in subjects])
                         .values_list("subject_number", "pk"))
        for subject in subjects:
            subject.pk = subject.id = by_number[subject.subject_number]
    records = [Randomization(subject=s, **r) for s, r in zip(subjects, randomizations, strict=True) if r]
    Randomization.objects.bulk_create(records, batch_size=500)
    if any(r.pk is None for r in records):  # pragma: no cover
        by_subject = dict(Randomization.objects.filter(subject__in=[r.subject for r in records])
                          .values_list("subject_id", "pk"))
        for record in records:
            record.pk = record.id = by_subject[record.subject_id]
    drafts = _subject_drafts(subjects, reason)
    for record in records:
        drafts.append(draft_for(record, Action.IMPORT, reason=reason, changes={
            "subject": [None, record.subject_id], "arm": [None, record.arm_id], "stratum": [None, record.stratum],
            "randomized_on": [None, record.randomized_on], "irt_reference": [None, record.irt_reference]}))
    audit_events_append(actor=user, drafts=drafts)
    enrolled_sites = {s.site_id for s in subjects if s.enrolled_on is not None}
    if enrolled_sites:
        site_enrollment_sync(user=user, site_ids=enrolled_sites, reason=reason)
    visits = _visits()
    for subject in subjects:
        if subject.enrolled_on is not None:
            visits.subject_visits_generate(user=user, subject=subject)
            if subject.randomized_on is not None or subject.first_dose_on is not None:
                visits.subject_visits_reanchor(user=user, subject=subject)
            if subject.status in ENDED_STATUSES:
                ended_on = getattr(subject, STATUS_DATE_FIELD[subject.status])
                visits.subject_visits_end(user=user, subject=subject, ended_on=ended_on,
                                          why=f"Subject {subject.status.replace('_', ' ')} on {ended_on.isoformat()}")
    return subjects


def screening_log_import(*, user, study, content: bytes, filename: str, dry_run: bool = False):
    """Check a screening-log file (CSV or XLSX) and, unless dry_run, import it all or nothing.

    Returns an importer.ImportReport listing every problem by row and column. A dry run writes nothing;
    a real import with any problem raises ValidationFailed (nothing written), else creates every subject
    in one transaction, audited as imports.
    """
    from trialdesk.subjects.importer import check_screening_log

    if not permissions.has_perm(user, "subject.import", study):
        raise AccessDenied("You do not have permission to import subjects into this study (subject.import).")
    settings = SubjectSettings.objects.filter(study=study).first() or SubjectSettings(study=study)
    if dry_run:
        return check_screening_log(user=user, study=study, settings=settings, content=content, filename=filename,
                                   dry_run=True)[0]
    with transaction.atomic():
        # Lock the study's sites first, so no subject is added at them between the check and the write.
        list(StudySite.objects.select_for_update().filter(study=study).order_by("pk"))
        report, rows = check_screening_log(user=user, study=study, settings=settings, content=content,
                                           filename=filename, dry_run=False)
        if not report.ok:
            count = len(report.problems)
            error = ValidationFailed(f"Nothing was imported: the file has {count} problem{'s' if count != 1 else ''} "
                                     f"(first: {report.problems[0]}).", errors=report.error_dict())
            error.report = report  # the web page shows the whole report
            raise error
        reason = f"Imported from screening log {report.filename} (sha256 {report.digest[:12]})"
        report.created = subjects_import_write(user=user, study=study, rows=rows, reason=reason)
    return report
