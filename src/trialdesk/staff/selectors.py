"""Reads for the site staff roster and the delegation log.

User-facing reads (`*_list`, `*_get`) are limited to the sites the user may see (staff.view): NotFound, not 403,
outside that scope. The study-level reads other areas build on (`active_roster`, `delegated_people`) and the
rule reads the subjects area asks (`delegation_covering`, `site_pi_entry`) are not user-scoped: their callers
have already checked access.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.organizations.models import Person
from trialdesk.staff import tasks
from trialdesk.staff.exports import DelegationLog, LogRow
from trialdesk.staff.models import Delegation, SiteStaff

# --- Study-level reads (used by training, subjects, work items) ----------------------------------------------


def _live_staff() -> QuerySet[SiteStaff]:
    # A deleted study or site takes its roster out of view.
    return SiteStaff.objects.filter(site__is_deleted=False, site__study__is_deleted=False, person__is_deleted=False)


def _not_ended(on: dt.date, prefix: str = "") -> Q:
    return Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gte": on})


def active_roster(study, site=None, *, on: dt.date | None = None) -> QuerySet[SiteStaff]:
    """Roster entries of the study (or one site) that have not ended on `on` (default today).

    Entries starting later are included: people joining a site need their training before they start.
    """
    on = on or timezone.localdate()
    qs = _live_staff().filter(site__study_id=study.pk if hasattr(study, "pk") else study).filter(_not_ended(on))
    if site is not None:
        qs = qs.filter(site_id=site.pk if hasattr(site, "pk") else site)
    return qs.select_related("person", "site").order_by("site__site_number", "person__last_name",
                                                        "person__first_name", "id")


def _in_force(on: dt.date) -> Q:
    """Delegations pending signature or signed and not yet over on `on`."""
    not_over = (Q(end_date__isnull=True) | Q(end_date__gte=on)) & (Q(ended_on__isnull=True) | Q(ended_on__gte=on))
    return Q(status="pending") | (Q(status__in=("active", "ended")) & not_over)


def delegated_people(study, *, on: dt.date | None = None) -> QuerySet[Person]:
    """People with a pending or signed, not yet ended delegation at any site of the study (on `on`, default
    today): those who must be (re)trained on the study's protocol."""
    on = on or timezone.localdate()
    study_id = study.pk if hasattr(study, "pk") else study
    ids = (Delegation.objects.filter(staff__in=_live_staff().filter(site__study_id=study_id))
           .filter(_in_force(on)).values_list("staff__person_id", flat=True))
    return Person.objects.filter(pk__in=ids).order_by("last_name", "first_name", "id")


def site_pi_entry(person, site, on: dt.date) -> SiteStaff | None:
    """The person's principal-investigator roster entry at the site covering `on`, if any."""
    if person is None or person.pk is None:
        return None
    return (_live_staff().filter(site_id=site.pk, person_id=person.pk, role=tasks.PI_ROLE, start_date__lte=on)
            .filter(_not_ended(on)).order_by("-start_date").first())


def site_pi_people(site, on: dt.date | None = None) -> QuerySet[Person]:
    """The site's principal investigator(s) on the roster on `on` (default today)."""
    on = on or timezone.localdate()
    ids = (_live_staff().filter(site_id=site.pk, role=tasks.PI_ROLE, start_date__lte=on).filter(_not_ended(on))
           .values_list("person_id", flat=True))
    return Person.objects.filter(pk__in=ids)


def delegation_covering(person, site, task: str, on: dt.date) -> Delegation | None:
    """A signed delegation of `task` to the person at the site in force on `on` (roster entry active too)."""
    if person is None or person.pk is None:
        return None
    rows = (Delegation.objects.filter(staff__in=_live_staff().filter(site_id=site.pk, person_id=person.pk,
                                                                     start_date__lte=on).filter(_not_ended(on)),
                                      task=task, status__in=("active", "ended"), start_date__lte=on)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
            .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=on)))
    return rows.order_by("start_date", "id").first()


def people_delegated_for(site, task: str, on: dt.date | None = None) -> QuerySet[Person]:
    """People who may do `task` at the site on `on` (default today): its principal investigator(s) on the
    roster and everyone holding a signed delegation for the task then."""
    on = on or timezone.localdate()
    staff = _live_staff().filter(site_id=site.pk, start_date__lte=on).filter(_not_ended(on))
    delegated = (Delegation.objects.filter(staff__in=staff, task=task, status__in=("active", "ended"),
                                           start_date__lte=on)
                 .filter(Q(end_date__isnull=True) | Q(end_date__gte=on))
                 .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=on))
                 .values_list("staff__person_id", flat=True))
    pis = staff.filter(role=tasks.PI_ROLE).values_list("person_id", flat=True)
    return Person.objects.filter(Q(pk__in=delegated) | Q(pk__in=pis)).order_by("last_name", "first_name", "id")


# --- User-facing reads -----------------------------------------------------------------------------------------

def _visible_staff(user, perm: str = "staff.view") -> QuerySet[SiteStaff]:
    flt = permissions.site_filter(user, perm, prefix="site__")
    qs = _live_staff()
    return qs if flt is None else qs.filter(flt)


@dataclass
class StaffFilter:
    study_id: int | None = None
    site_id: int | None = None
    person_id: int | None = None
    role: str | None = None
    current: bool | None = None      # True: not ended today; False: ended
    text: str | None = None


def staff_list(user, flt: StaffFilter | None = None) -> QuerySet[SiteStaff]:
    flt = flt or StaffFilter()
    qs = _visible_staff(user).select_related("person", "site__study", "site__institution")
    if flt.study_id is not None:
        qs = qs.filter(site__study_id=flt.study_id)
    if flt.site_id is not None:
        qs = qs.filter(site_id=flt.site_id)
    if flt.person_id is not None:
        qs = qs.filter(person_id=flt.person_id)
    if flt.role:
        qs = qs.filter(role=flt.role)
    if flt.current is not None:
        today = timezone.localdate()
        qs = qs.filter(_not_ended(today)) if flt.current else qs.exclude(_not_ended(today))
    if flt.text:
        t = flt.text.strip()
        qs = qs.filter(Q(person__first_name__icontains=t) | Q(person__last_name__icontains=t)
                       | Q(role_detail__icontains=t))
    # Principal investigators first, then by name.
    pi_first = Case(When(role=tasks.PI_ROLE, then=Value(0)), default=Value(1), output_field=IntegerField())
    return qs.order_by("site__study_id", "site__site_number", pi_first, "person__last_name", "person__first_name",
                       "start_date", "id")


def staff_get(user, staff_id: int) -> SiteStaff:
    staff = _visible_staff(user).select_related("person", "site__study", "site__institution") \
        .filter(pk=staff_id).first()
    if staff is None:
        raise NotFound("Site staff member not found.")
    return staff


@dataclass
class DelegationFilter:
    study_id: int | None = None
    site_id: int | None = None
    staff_id: int | None = None
    person_id: int | None = None
    task: str | None = None
    status: str | None = None


def _visible_delegations(user, perm: str = "staff.view") -> QuerySet[Delegation]:
    flt = permissions.site_filter(user, perm, prefix="staff__site__")
    qs = Delegation.objects.filter(staff__is_deleted=False, staff__site__is_deleted=False,
                                   staff__site__study__is_deleted=False)
    return qs if flt is None else qs.filter(flt)


def delegation_list(user, flt: DelegationFilter | None = None) -> QuerySet[Delegation]:
    flt = flt or DelegationFilter()
    qs = _visible_delegations(user).select_related("staff__person", "staff__site__study", "signature",
                                                   "signature__signer")
    if flt.study_id is not None:
        qs = qs.filter(staff__site__study_id=flt.study_id)
    if flt.site_id is not None:
        qs = qs.filter(staff__site_id=flt.site_id)
    if flt.staff_id is not None:
        qs = qs.filter(staff_id=flt.staff_id)
    if flt.person_id is not None:
        qs = qs.filter(staff__person_id=flt.person_id)
    if flt.task:
        qs = qs.filter(task=flt.task)
    if flt.status:
        qs = qs.filter(status=flt.status)
    return qs.order_by("staff__site__study_id", "staff__site__site_number", "staff__person__last_name",
                       "staff__person__first_name", "staff_id", "start_date", "id")


def delegation_get(user, delegation_id: int) -> Delegation:
    delegation = _visible_delegations(user).select_related("staff__person", "staff__site__study", "signature") \
        .filter(pk=delegation_id).first()
    if delegation is None:
        raise NotFound("Delegation not found.")
    return delegation


# --- Signing readiness ---------------------------------------------------------------------------------------------

def delegation_sign_blockers(delegation: Delegation, today: dt.date | None = None) -> list[tuple[str, str]]:
    """What stops the delegation from being signed, as (field, message) pairs; empty when it can be signed.

    Checked on the later of its start date and today: the delegate's roster entry must not have ended, their
    protocol training for the study's current approved protocol version must be complete
    (training.selectors.protocol_training_gap) and their GCP certificate recorded and not expired.
    """
    from trialdesk.training.selectors import protocol_training_gap

    today = today or timezone.localdate()
    on = max(delegation.start_date, today)
    staff = delegation.staff
    person = staff.person
    name = person.full_name
    out: list[tuple[str, str]] = []
    if staff.is_deleted:
        out.append(("roster", f"{name}'s roster entry was deleted."))
    elif staff.end_date is not None and staff.end_date < on:
        out.append(("roster", f"{name}'s roster entry at site {staff.site.site_number} ends on "
                              f"{staff.end_date.isoformat()}."))
    gap = protocol_training_gap(person, staff.site.study, on=on)
    if gap:
        out.append(("training", f"{name}: {gap}" if not gap.startswith(name) else gap))
    gcp = tasks.gcp_problem(name, staff.gcp_certificate_date, staff.gcp_expiry, on)
    if gcp:
        out.append(("gcp", gcp))
    return out


def signer_problem(user, site) -> str | None:
    """Why `user` may not sign the site's delegation log; None when they may (delegation.sign on the site and
    they are its principal investigator: the site's PI, or an active PI on its roster)."""
    if not permissions.has_perm(user, "delegation.sign", site):
        return "You do not have permission to sign delegations at this site (delegation.sign)."
    person = getattr(user, "person", None)
    if person is not None and (site.principal_investigator_id == person.pk
                               or site_pi_entry(person, site, timezone.localdate()) is not None):
        return None
    return (f"Only the principal investigator of site {site.site_number} can sign its delegation log; you are not its "
            "principal investigator.")


# --- Flags and the printable log --------------------------------------------------------------------------------------

def staff_flags(staff: SiteStaff, today: dt.date) -> list[str]:
    """Qualification flags of a roster entry: cv_/licence_/gcp_ + expired or expiring, and gcp_missing."""
    flags = []
    for prefix, expiry in (("cv", staff.cv_expiry), ("licence", staff.licence_expiry), ("gcp", staff.gcp_expiry)):
        state = tasks.expiry_state(expiry, today)
        if state:
            flags.append(f"{prefix}_{state}")
    if staff.gcp_certificate_date is None:
        flags.append("gcp_missing")
    return flags


def delegation_log(user, site) -> DelegationLog:
    """The site's delegation log as printed and exported: every entry except withdrawn ones, with signatures.

    `site` was read through sites.selectors.site_get (so the user may see it); rows are limited to staff.view.
    """
    from trialdesk.signatures.selectors import signature_check
    from trialdesk.training.selectors import current_protocol_version

    study = site.study
    pv = current_protocol_version(study)
    rows = []
    entries = delegation_list(user, DelegationFilter(site_id=site.pk)).exclude(status="withdrawn")
    for d in entries:
        person = d.staff.person
        signature, state = "", ""
        if d.signature_id is not None:
            sig = d.signature
            view = signature_check(sig, d)
            signature = (f"{sig.printed_name}, {sig.signed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC, "
                         f"{sig.get_meaning_display()}")
            state = view.status_label
        rows.append(LogRow(name=person.full_name, initials=tasks.initials(person.first_name, person.last_name),
                           role=d.staff.role_label, task_number=d.task_number, task=d.task_label,
                           start=d.start_date, end=d.end_date, ended_on=d.ended_on,
                           status=tasks.STATUSES.get(d.status, d.status), signature=signature, signature_state=state))
    pis = list(site_pi_people(site))
    investigator = ", ".join(p.full_name for p in pis) or \
        (site.principal_investigator.full_name if site.principal_investigator_id else "")
    return DelegationLog(
        study=f"{study.protocol_number}{' · ' + study.acronym if study.acronym else ''}",
        protocol=f"Protocol version {pv.version_number}" + (f" ({pv.version_date.isoformat()})"
                                                              if pv.version_date else "") if pv else "—",
        site=site.site_number, institution=site.institution.name if site.institution_id else "",
        investigator=investigator or "—", generated_at=timezone.now(),
        legend=[(i, label) for i, label in enumerate(tasks.TASKS.values(), start=1)], rows=rows)


FLAG_LABELS = {"cv_expired": "CV renewal overdue", "cv_expiring": "CV renewal due", "licence_expired":
               "licence expired", "licence_expiring": "licence expiring", "gcp_expired": "GCP certificate expired",
               "gcp_expiring": "GCP certificate expiring", "gcp_missing": "no GCP certificate"}


def roster_rows(entries, today: dt.date | None = None) -> list[list]:
    """Roster entries as export rows (staff.exports.ROSTER_COLUMNS order)."""
    today = today or timezone.localdate()
    return [[s.site.site_number, s.person.full_name, s.role_label, s.start_date, s.end_date, s.cv_date, s.cv_expiry,
             s.licence_number, s.licence_expiry, s.gcp_certificate_date, s.gcp_expiry,
             ", ".join(FLAG_LABELS[f] for f in staff_flags(s, today)), s.notes] for s in entries]


def people_named_in_log(site, task_keys: list[str]) -> QuerySet[Person]:
    """People the site's log names for any of the tasks at any time (signed delegations, ended ones included)
    and the site's principal investigators on the roster: the choices offered where such a task is recorded."""
    staff = _live_staff().filter(site_id=site.pk)
    delegated = (Delegation.objects.filter(staff__in=staff, task__in=task_keys, status__in=("active", "ended"))
                 .values_list("staff__person_id", flat=True))
    pis = staff.filter(role=tasks.PI_ROLE).values_list("person_id", flat=True)
    return Person.objects.filter(Q(pk__in=delegated) | Q(pk__in=pis)).order_by("last_name", "first_name", "id")
