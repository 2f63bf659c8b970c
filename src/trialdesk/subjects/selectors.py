"""Reads for subjects, consent and randomization, limited to what the user may see.

Subjects and their consents, re-consent requirements and randomizations are site-scoped: a user limited
to some sites sees only those sites' subjects. Blinded users (User.is_blinded) never see a randomized arm:
`arm_visible` says whether they may, and `redact_audit_changes` hides the arm in audit trails.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.core.keyset import KeysetPage, encode_cursor, keyset_page
from trialdesk.organizations.models import Person
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import Study
from trialdesk.subjects import rules
from trialdesk.subjects.lifecycle import (
    STATUS_DATE_FIELD,
    SUBJECT_STATUSES,
    WITHDRAWAL_REASONS,
)
from trialdesk.subjects.models import ConsentEvent, IcfVersion, ReconsentRequirement, Subject, SubjectSettings

BLINDED = "Blinded"


# --- Blinding ---------------------------------------------------------------------------------------------

def arm_visible(user) -> bool:
    """Blinded users never see treatment assignment."""
    return not getattr(user, "is_blinded", False)


# Audit record types whose `changes` carry the arm, and the keys that hold it.
_ARM_KEYS = {"subjects.randomization": ("arm", "arm_id")}


def redact_audit_changes(user, record_type: str, changes):
    """An audit event's changes as this user may see them: the arm of a randomization is hidden from
    blinded users (old and new values become "Blinded")."""
    keys = _ARM_KEYS.get(record_type)
    if not keys or arm_visible(user) or not isinstance(changes, dict):
        return changes
    redacted = dict(changes)
    for key in keys:
        if key in redacted:
            value = redacted[key]
            redacted[key] = [BLINDED if v is not None else None for v in value] if isinstance(value, list) \
                else BLINDED
    return redacted


# --- Subjects -----------------------------------------------------------------------------------------------

@dataclass
class SubjectFilter:
    study_id: int | None = None
    site_id: int | None = None
    status: str | None = None
    since: dt.date | None = None      # the date of the current status, from
    until: dt.date | None = None      # ... to (inclusive)
    text: str | None = None


def _visible_subjects(user, perm: str = "subject.view") -> QuerySet[Subject]:
    flt = permissions.site_filter(user, perm, prefix="site__")
    # A deleted study or site takes its subjects out of view. Said as "not among the (few) deleted ones"
    # rather than as joins to every subject's study and site: a count of the whole log then reads the
    # subjects alone (a quarter of the time at 100,000 subjects).
    qs = (Subject.objects.exclude(study_id__in=Study.all_objects.filter(is_deleted=True).values("id"))
          .exclude(site_id__in=StudySite.all_objects.filter(is_deleted=True).values("id")))
    return qs if flt is None else qs.filter(flt)


def _filtered(user, flt: SubjectFilter, *, with_status: bool = True) -> QuerySet[Subject]:
    qs = _visible_subjects(user)
    if flt.study_id is not None:
        qs = qs.filter(study_id=flt.study_id)
    if flt.site_id is not None:
        qs = qs.filter(site_id=flt.site_id)
    if with_status and flt.status:
        qs = qs.filter(status=flt.status)
    if flt.since or flt.until:
        date_q = Q()
        for status, field in STATUS_DATE_FIELD.items():
            cond = Q(status=status)
            if flt.since:
                cond &= Q(**{f"{field}__gte": flt.since})
            if flt.until:
                cond &= Q(**{f"{field}__lte": flt.until})
            date_q |= cond
        qs = qs.filter(date_q)
    if flt.text:
        t = flt.text.strip()
        qs = qs.filter(Q(subject_number__icontains=t) | Q(site__site_number__iexact=t)
                       | Q(screen_fail_reason_text__icontains=t))
    return qs


# The screening log's order, unique per row (UniqueConstraint study + subject_number), so it doubles as the
# keyset of deep pages: (study_id, subject_number) > (the last row's) is one range scan of that index.
SUBJECT_ORDER = ["study_id", "subject_number"]


def subject_list(user, flt: SubjectFilter | None = None) -> QuerySet[Subject]:
    flt = flt or SubjectFilter()
    return (_filtered(user, flt)
            .select_related("site__institution", "study", "randomization__arm", "eligibility_confirmed_by",
                            "protocol_version")
            .order_by(*SUBJECT_ORDER))


def subject_page(user, flt: SubjectFilter | None = None, *, cursor: str | None = None, limit: int = 50,
                 offset: int = 0, count: int | None = None) -> KeysetPage:
    """One page of the screening log: after/before `cursor` (keyset, any depth at the cost of the first page),
    else at `offset`. Either way the page carries the cursors of its neighbours. `count` (rows in the whole
    filtered log) is counted unless the caller knows it. Two queries."""
    qs = subject_list(user, flt)
    if count is None:
        count = qs.count()
    if cursor:
        return keyset_page(qs, SUBJECT_ORDER, cursor=cursor, limit=limit, count=count)
    limit, offset = max(1, limit), max(0, offset)
    items = list(qs[offset: offset + limit])
    end = offset + len(items)
    return KeysetPage(
        items=items, limit=limit, position=offset, count=count,
        next_cursor=encode_cursor(tuple(getattr(items[-1], f) for f in SUBJECT_ORDER), position=end)
        if items and end < count else None,
        previous_cursor=encode_cursor(tuple(getattr(items[0], f) for f in SUBJECT_ORDER), before=True,
                                      position=offset) if items and offset > 0 else None)


def subject_status_counts(user, flt: SubjectFilter | None = None) -> list[dict]:
    """Subjects per status for the filtered log (the status filter itself ignored), in lifecycle order."""
    flt = flt or SubjectFilter()
    rows = dict(_filtered(user, flt, with_status=False).order_by().values_list("status")
                .annotate(n=Count("id")).values_list("status", "n"))
    return [{"status": s, "label": label, "count": rows.get(s, 0)} for s, label in SUBJECT_STATUSES.items()]


def subject_get(user, subject_id: int) -> Subject:
    subject = (Subject.objects.select_related("site__study", "site__institution", "study", "eligibility_confirmed_by",
                                              "protocol_version", "randomization__arm")
               .filter(pk=subject_id).first())
    if subject is None or subject.study.is_deleted or subject.site.is_deleted \
            or not permissions.has_perm(user, "subject.view", subject):
        raise NotFound("Subject not found.")
    return subject


def subject_timeline(subject: Subject) -> list[dict]:
    """The subject's recorded status dates, oldest first (first dose included)."""
    events = [{"status": status, "label": rules.status_label(status), "date": date}
              for status, date in rules.recorded_dates({f: getattr(subject, f) for f in STATUS_DATE_FIELD.values()})]
    if subject.first_dose_on:
        events.append({"status": "first_dose", "label": "First dose", "date": subject.first_dose_on})
        events.sort(key=lambda e: e["date"])
    return events


def screen_fail_label(subject: Subject, settings: SubjectSettings) -> str:
    codes = rules.reason_codes(settings.screen_fail_reasons)
    return codes.get(subject.screen_fail_reason_code, subject.screen_fail_reason_code)


def subject_sites_for_entry(user, study, perm: str = "subject.edit"):
    """The study's sites where the user may add subjects (or import: perm="subject.import")."""
    return permissions.visible_sites(user, perm).filter(study=study).select_related("institution") \
        .order_by("site_number")


# --- Settings ---------------------------------------------------------------------------------------------

def subject_settings_get(user, study) -> SubjectSettings:
    """The study's settings; the defaults (unsaved) until someone changes them or adds a subject."""
    if not permissions.has_perm(user, "subject.view", study):
        raise NotFound("Study not found.")
    return SubjectSettings.objects.filter(study=study).first() or SubjectSettings(study=study)


# --- Consent ----------------------------------------------------------------------------------------------

def consent_list(user, subject: Subject) -> QuerySet[ConsentEvent]:
    """Consent events of a subject the caller already read with subject_get."""
    if not permissions.has_perm(user, "subject.view", subject):
        raise NotFound("Subject not found.")
    return (ConsentEvent.objects.filter(subject=subject).select_related("icf_version__protocol_version",
                                                                        "icf_version__site", "obtained_by")
            .order_by("consented_on", "id"))


def _reconsent_count_filter(user) -> Q:
    flt = Q(reconsent_requirements__status="open", reconsent_requirements__is_deleted=False)
    site_q = permissions.site_filter(user, "subject.view", prefix="reconsent_requirements__subject__site__")
    return flt if site_q is None else flt & site_q


def icf_version_list(user, *, study_id: int | None = None, status: str | None = None) -> QuerySet[IcfVersion]:
    qs = IcfVersion.objects.filter(study__in=permissions.visible_studies(user))
    if study_id is not None:
        qs = qs.filter(study_id=study_id)
    if status:
        qs = qs.filter(status=status)
    return (qs.select_related("study", "site", "protocol_version")
            .annotate(open_reconsents=Count("reconsent_requirements", filter=_reconsent_count_filter(user),
                                            distinct=True))
            .order_by("study_id", "-version_date", "-id"))


def icf_version_get(user, icf_id: int) -> IcfVersion:
    icf = icf_version_list(user).filter(pk=icf_id).first()
    if icf is None:
        raise NotFound("Consent form version not found.")
    return icf


def icf_choices_for(subject: Subject) -> list[IcfVersion]:
    """Approved consent forms that apply at the subject's site, the current one first."""
    approved = list(IcfVersion.objects.filter(study_id=subject.study_id, status="approved")
                    .select_related("site", "protocol_version"))
    current = rules.current_icf(subject.site, approved)
    applicable = [i for i in approved if rules.icf_applies(i, subject.site)]
    return sorted(applicable, key=lambda i: (current is None or i.pk != current.pk, -i.version_date.toordinal()))


def current_icf_for_site(site) -> IcfVersion | None:
    return rules.current_icf(site, IcfVersion.objects.filter(study_id=site.study_id, status="approved")
                             .select_related("site"))


@dataclass
class ReconsentFilter:
    study_id: int | None = None
    site_id: int | None = None
    subject_id: int | None = None
    icf_id: int | None = None
    status: str | None = None


def reconsent_list(user, flt: ReconsentFilter | None = None) -> QuerySet[ReconsentRequirement]:
    flt = flt or ReconsentFilter()
    site_q = permissions.site_filter(user, "subject.view", prefix="subject__site__")
    qs = ReconsentRequirement.objects.filter(subject__is_deleted=False, subject__study__is_deleted=False,
                                             subject__site__is_deleted=False)
    if site_q is not None:
        qs = qs.filter(site_q)
    if flt.study_id is not None:
        qs = qs.filter(subject__study_id=flt.study_id)
    if flt.site_id is not None:
        qs = qs.filter(subject__site_id=flt.site_id)
    if flt.subject_id is not None:
        qs = qs.filter(subject_id=flt.subject_id)
    if flt.icf_id is not None:
        qs = qs.filter(icf_version_id=flt.icf_id)
    if flt.status:
        qs = qs.filter(status=flt.status)
    return (qs.select_related("subject__site", "icf_version__site", "fulfilled_by")
            .order_by("status", "subject__site__site_number", "subject__subject_number", "id"))


# --- Delegation (the people delegation_check accepts) ------------------------------------------------------

def delegated_people(site, task: str | None = None) -> QuerySet[Person]:
    """People the site's delegation log names for `task` ("consent" or "eligibility"; None: either) at any time:
    signed delegations of the task and the site's principal investigators on the staff roster. The form offers
    them; subjects.services.delegation_check decides for the date in question."""
    from trialdesk.staff import selectors as staff
    from trialdesk.staff.tasks import SUBJECT_TASKS

    tasks = [SUBJECT_TASKS[task]] if task else list(SUBJECT_TASKS.values())
    return staff.people_named_in_log(site, tasks)


# --- Screening-log export -------------------------------------------------------------------------------------

EXPORT_COLUMNS = ["subject_number", "site_number", "status", "prescreened_on", "screened_on", "consented_on",
                  "enrolled_on", "randomized_on", "first_dose_on", "active_on", "completed_on", "screen_failed_on",
                  "screen_fail_reason_code", "screen_fail_reason", "screen_fail_reason_text", "withdrawn_on",
                  "withdrawal_reason", "withdrawal_text", "lost_on", "eligibility_confirmed_by", "arm", "stratum",
                  "irt_reference", "protocol_version"]


def _csv_cell(value) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    # Keep spreadsheet programs from evaluating cell text as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def screening_log_csv(user, qs: QuerySet[Subject], settings: SubjectSettings) -> Iterator[str]:
    """The screening log as CSV; the arm shows as "Blinded" for blinded users."""
    codes = rules.reason_codes(settings.screen_fail_reasons)
    show_arm = arm_visible(user)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for s in qs.iterator(chunk_size=1000):
        randomization = getattr(s, "randomization", None) if s.randomized_on else None
        arm = (randomization.arm.label if show_arm else BLINDED) if randomization else ""
        row = [s.subject_number, s.site.site_number, s.status, s.prescreened_on, s.screened_on, s.consented_on,
               s.enrolled_on, s.randomized_on, s.first_dose_on, s.active_on, s.completed_on, s.screen_failed_on,
               s.screen_fail_reason_code, codes.get(s.screen_fail_reason_code, "") if s.screen_fail_reason_code
               else "", s.screen_fail_reason_text, s.withdrawn_on, WITHDRAWAL_REASONS.get(s.withdrawal_reason, ""),
               s.withdrawal_text, s.lost_on,
               s.eligibility_confirmed_by.full_name if s.eligibility_confirmed_by_id else "", arm,
               randomization.stratum if randomization else "", randomization.irt_reference if randomization else "",
               s.protocol_version.version_number if s.protocol_version_id else ""]
        writer.writerow([_csv_cell(v) for v in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate(0)
    yield buffer.getvalue()
