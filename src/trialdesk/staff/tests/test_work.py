"""The staff area's work items: delegations to sign (the site's PI), expiring qualification records."""

from __future__ import annotations

import datetime as dt

from trialdesk.accounts.roles import Role
from trialdesk.staff import services, work
from trialdesk.staff.tests.conftest import D


def kinds(items):
    return sorted((i.kind, i.severity, i.site_label) for i in items)


def test_pending_delegations_are_the_sites_pis_to_sign(pi, nurse, propose, cpm, coordinator, make_user, study, sites):
    today = dt.date.today()
    assert not [i for i in work.work_items(pi, today) if i.kind == "staff.delegation_unsigned"]
    propose(nurse, start=today + dt.timedelta(days=3))
    propose(nurse, task="eligibility", start=today + dt.timedelta(days=5))
    items = [i for i in work.work_items(pi, today) if i.kind == "staff.delegation_unsigned"]
    assert len(items) == 1
    item = items[0]
    assert item.title == "Sign 2 delegations — site 001" and item.severity == "due"
    assert item.due_date == today + dt.timedelta(days=3) and item.url == f"/sites/{sites[0].pk}/staff/"
    assert "Nora Nurse, RN" in item.detail
    # Waiting past its start date: overdue.
    propose(nurse, task="data_entry", start=D(2026, 2, 1))
    item = next(i for i in work.work_items(pi, today) if i.kind == "staff.delegation_unsigned")
    assert item.severity == "overdue" and item.title.startswith("Sign 3 delegations")
    # Not for those who cannot sign (the CPM holds delegation.sign but is not the site's PI; the coordinator).
    for other in (cpm, coordinator, make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, sites=[sites[1]])):
        assert not [i for i in work.work_items(other, today) if i.kind == "staff.delegation_unsigned"]


def test_expiring_qualifications_reach_the_person_and_the_roster_keepers(admin_user, nurse, make_user, study, sites,
                                                                         coordinator):
    today = dt.date.today()
    nurse = services.site_staff_update(user=admin_user, staff=nurse, version=nurse.version, reason="renewals", data={
        "gcp_expiry": today + dt.timedelta(days=20), "licence_expiry": today - dt.timedelta(days=1),
        "cv_expiry": today + dt.timedelta(days=200)})
    keepers = [i for i in work.work_items(coordinator, today) if i.kind.startswith("staff.")
               and i.key.startswith(f"sitestaff:{nurse.pk}")]
    assert kinds(keepers) == [("staff.gcp_expiring", "due", "001"), ("staff.licence_expiring", "overdue", "001")]
    gcp = next(i for i in keepers if i.kind == "staff.gcp_expiring")
    assert gcp.title == f"Nora Nurse, RN's GCP certificate expires on {(today + dt.timedelta(days=20)).isoformat()}"
    # The person themselves, once they have a login.
    from trialdesk.accounts.services import user_create

    own = user_create(actor=None, username="nora", person=nurse.person)
    mine = work.work_items(own, today)
    assert kinds(mine) == [("staff.gcp_expiring", "due", "001"), ("staff.licence_expiring", "overdue", "001")]
    assert mine[0].title.startswith("Your ")
    # Not for a site coordinator elsewhere, nor for a viewer; ended roster entries are not flagged.
    elsewhere = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]])
    assert not [i for i in work.work_items(elsewhere, today) if i.key.startswith(f"sitestaff:{nurse.pk}")]
    viewer = make_user(Role.VIEWER, study=study)
    assert not [i for i in work.work_items(viewer, today) if i.key.startswith("sitestaff:")]
    nurse = services.site_staff_update(user=admin_user, staff=nurse, version=nurse.version, reason="left",
                                       data={"end_date": today - dt.timedelta(days=2)})
    assert not [i for i in work.work_items(coordinator, today) if i.key.startswith(f"sitestaff:{nurse.pk}")]
