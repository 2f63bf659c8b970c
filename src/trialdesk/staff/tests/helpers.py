"""Test helpers other areas' tests use too: train a person on the study's protocol, put people on a site's roster
and give them signed delegations — all through the real services (nothing is written around them)."""

from __future__ import annotations

import datetime as dt

from conftest import PASSWORD
from trialdesk.training.tests.helpers import complete_protocol_training

__all__ = ["complete_protocol_training", "delegate", "make_site_pi", "put_on_roster"]


def put_on_roster(actor, site, person, role: str = "study_coordinator", *, start: dt.date,
                  gcp_expiry: dt.date | None = dt.date(2030, 12, 31)):
    """A roster entry with a valid GCP certificate (or the person's existing open entry at the site)."""
    from trialdesk.staff.models import SiteStaff
    from trialdesk.staff.services import site_staff_create

    existing = SiteStaff.objects.filter(site=site, person=person, end_date__isnull=True).first()
    if existing is not None:
        return existing
    return site_staff_create(user=actor, site=site, data={
        "person": person, "role": role, "start_date": start,
        "gcp_certificate_date": min(start, dt.date.today()) - dt.timedelta(days=30), "gcp_expiry": gcp_expiry})


def make_site_pi(actor, site, pi_user, *, start: dt.date):
    """Name `pi_user` the site's principal investigator, their roster entry starting on `start`."""
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_update
    from trialdesk.staff.models import SiteStaff
    from trialdesk.staff.services import site_staff_update

    site = StudySite.objects.get(pk=site.pk)
    if site.principal_investigator_id != pi_user.person_id:
        site = site_update(user=actor, site=site, data={"principal_investigator": pi_user.person},
                           version=site.version, reason="test set-up: principal investigator")
    entry = SiteStaff.objects.get(site=site, person=pi_user.person, role="principal_investigator",
                                  end_date__isnull=True)
    if entry.start_date != start:
        entry = site_staff_update(user=actor, staff=entry, data={"start_date": start}, version=entry.version,
                                  reason="test set-up: in post since")
    return entry


def delegate(actor, site, person, task_list, *, pi_user, start: dt.date, role: str = "study_coordinator"):
    """Signed delegations of `task_list` to the person at the site from `start`: on the roster, trained on the
    current protocol, proposed by `actor` and signed by `pi_user` (who must be the site's principal
    investigator: see make_site_pi)."""
    from trialdesk.staff.services import delegation_sign, delegations_create

    staff = put_on_roster(actor, site, person, role, start=start)
    complete_protocol_training(actor, site.study, person)
    out = []
    for delegation in delegations_create(user=actor, staff=staff, task_list=list(task_list), start_date=start):
        out.append(delegation_sign(user=pi_user, delegation=delegation, password=PASSWORD,
                                   version=delegation.version))
    return out
