"""Work-queue provider for the staff area (registered in `trialdesk.workqueue.registry`).

* Delegations waiting for the principal investigator's signature: one item per site, for the site's PI
  (who holds delegation.sign there): overdue once the earliest waiting delegation's start date has passed.
* Qualification records expiring within 60 days or expired (GCP certificate, licence, CV renewal) of current
  roster entries: for the person themselves (their user) and for users holding staff.edit on that site.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Q
from django.urls import reverse

from trialdesk.accounts import permissions
from trialdesk.staff import tasks
from trialdesk.staff.models import Delegation, SiteStaff
from trialdesk.workqueue.items import WorkItem

KIND_LABELS = {
    "staff.delegation_unsigned": "Delegations to sign",
    "staff.gcp_expiring": "GCP certificate expiring",
    "staff.licence_expiring": "Licence expiring",
    "staff.cv_expiring": "CV renewal due",
}
_WHAT = {"gcp": ("gcp_expiry", "GCP certificate"), "licence": ("licence_expiry", "licence"),
         "cv": ("cv_expiry", "CV renewal")}


def _live_staff():
    return SiteStaff.objects.filter(site__is_deleted=False, site__study__is_deleted=False, person__is_deleted=False)


def _not_ended(on: dt.date) -> Q:
    return Q(end_date__isnull=True) | Q(end_date__gte=on)


def work_items(user, today: dt.date) -> list[WorkItem]:
    return [*_to_sign(user, today), *_expiring(user, today)]


def _to_sign(user, today: dt.date) -> list[WorkItem]:
    person_id = getattr(user, "person_id", None)
    if person_id is None:
        return []
    pi_sites = set(_live_staff().filter(person_id=person_id, role=tasks.PI_ROLE, start_date__lte=today)
                   .filter(_not_ended(today)).values_list("site_id", flat=True))
    from trialdesk.sites.models import StudySite

    pi_sites |= set(StudySite.objects.filter(principal_investigator_id=person_id, is_deleted=False,
                                             study__is_deleted=False).values_list("pk", flat=True))
    if not pi_sites:
        return []
    pending = (Delegation.objects.filter(status="pending", staff__in=_live_staff().filter(site_id__in=pi_sites))
               .select_related("staff__person", "staff__site__study").order_by("start_date", "id"))
    by_site: dict[int, list[Delegation]] = defaultdict(list)
    for d in pending:
        by_site[d.staff.site_id].append(d)
    items = []
    for rows in by_site.values():
        site = rows[0].staff.site
        if not permissions.has_perm(user, "delegation.sign", site):
            continue
        first = rows[0].start_date
        n = len(rows)
        people = sorted({d.staff.person.full_name for d in rows})
        items.append(WorkItem(
            kind="staff.delegation_unsigned",
            title=f"Sign {n} delegation{'s' if n != 1 else ''} — site {site.site_number}",
            severity="overdue" if first < today else "due", due_date=first, study_id=site.study_id,
            study_label=site.study.protocol_number, site_id=site.pk, site_label=site.site_number,
            url=reverse("site-staff", args=[site.pk]),
            detail="Waiting for your signature as principal investigator: " + ", ".join(people) + ".",
            key=f"site:{site.pk}:delegations"))
    return items


def _expiring(user, today: dt.date) -> list[WorkItem]:
    horizon = today + dt.timedelta(days=tasks.EXPIRY_WARNING_DAYS)
    soon = Q(gcp_expiry__lte=horizon) | Q(licence_expiry__lte=horizon) | Q(cv_expiry__lte=horizon)
    current = _live_staff().filter(_not_ended(today)).filter(soon)
    mine = Q(person_id=user.person_id) if getattr(user, "person_id", None) else Q(pk__in=[])
    edit_filter = permissions.site_filter(user, "staff.edit", prefix="site__")
    scope = Q() if edit_filter is None else mine | edit_filter
    rows = current.filter(scope).select_related("person", "site__study").order_by("site__study_id",
                                                                                  "site__site_number", "id")
    items = []
    for staff in rows:
        own = staff.person_id == getattr(user, "person_id", None)
        for key, (field, label) in _WHAT.items():
            expiry = getattr(staff, field)
            state = tasks.expiry_state(expiry, today)
            if state is None:
                continue
            who = "Your" if own else f"{staff.person.full_name}'s"
            if key == "cv":
                when = f"was due on {expiry.isoformat()}" if state == "expired" else f"is due on {expiry.isoformat()}"
            else:
                when = f"expired on {expiry.isoformat()}" if state == "expired" else f"expires on {expiry.isoformat()}"
            site = staff.site
            items.append(WorkItem(
                kind=f"staff.{key}_expiring", title=f"{who} {label} {when}",
                severity="overdue" if state == "expired" else "due", due_date=expiry, study_id=site.study_id,
                study_label=site.study.protocol_number, site_id=site.pk, site_label=site.site_number,
                url=reverse("site-staff", args=[site.pk]),
                detail=f"{staff.person.full_name}, {staff.role_label} at site {site.site_number}.",
                key=f"sitestaff:{staff.pk}:{key}"))
    return items
