"""Fixtures for the staff tests: a site with its principal investigator (a user who can sign), a study nurse on the
roster, an approved protocol, and helpers to train people and sign delegations."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import PASSWORD
from trialdesk.accounts.roles import Role

D = dt.date
TODAY = dt.date.today  # the services' "today" (timezone.localdate) is the same date in the test settings


@pytest.fixture
def api_client(db):
    """api_client(user): a django.test.Client that authenticates as `user` with a new API token."""
    from django.test import Client

    from trialdesk.accounts.services import api_token_create

    def _client(user):
        _, secret = api_token_create(actor=None, user=user, name="api tests")
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return _client


@pytest.fixture
def web(client):
    def _as(user):
        client.force_login(user)
        return client

    return _as


@pytest.fixture
def protocol(admin_user, study):
    """Protocol version 1.0 of the study, approved."""
    from trialdesk.studies.services import protocol_version_approve, protocol_version_create

    pv = protocol_version_create(user=admin_user, study=study, data={"version_number": "1.0",
                                                                     "version_date": D(2026, 1, 10)})
    return protocol_version_approve(user=admin_user, protocol_version=pv, password=PASSWORD, version=pv.version)


@pytest.fixture
def pi(make_user, study, sites, admin_user):
    """The principal investigator of site 001: a PI user limited to that site, set as the site's PI (which puts
    them on the roster)."""
    from trialdesk.sites.services import site_update

    user = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, sites=[sites[0]], username="pi")
    site = sites[0]
    site_update(user=admin_user, site=site, data={"principal_investigator": user.person}, version=site.version,
                reason="PI named")
    sites[0].refresh_from_db()
    return user


@pytest.fixture
def site(pi, sites):
    sites[0].refresh_from_db()
    return sites[0]


@pytest.fixture
def coordinator(make_user, study, site):
    """A site coordinator user of site 001 (keeps the roster and proposes delegations)."""
    return make_user(Role.SITE_COORDINATOR, study=study, sites=[site], username="coord")


@pytest.fixture
def nurse_person(admin_user):
    from trialdesk.organizations.services import person_create

    return person_create(user=admin_user, data={"first_name": "Nora", "last_name": "Nurse", "degrees": "RN"})


@pytest.fixture
def nurse(admin_user, site, nurse_person):
    """Nora Nurse on the roster of site 001 since 2026-01-01, GCP certificate valid until 2028-12-31."""
    from trialdesk.staff.services import site_staff_create

    return site_staff_create(user=admin_user, site=site, data={
        "person": nurse_person, "role": "study_nurse", "start_date": D(2026, 1, 1),
        "gcp_certificate_date": D(2025, 12, 1), "gcp_expiry": D(2028, 12, 31), "licence_number": "RN-4711"})


@pytest.fixture
def train(admin_user, study):
    """train(person): give the person a valid protocol-training certificate for the study's current approved
    protocol version, through the training services."""
    from trialdesk.staff.tests.helpers import complete_protocol_training

    def _train(person):
        return complete_protocol_training(admin_user, study, person)

    return _train


@pytest.fixture
def propose(admin_user):
    """propose(staff, task, start=...): a pending delegation."""
    from trialdesk.staff.services import delegation_create

    def _propose(staff, task="informed_consent", start=None, end=None, detail="", user=None):
        data = {"task": task, "start_date": start or D(2026, 2, 1), "end_date": end}
        if detail:
            data["task_detail"] = detail
        return delegation_create(user=user or admin_user, staff=staff, data=data)

    return _propose


@pytest.fixture
def sign(pi):
    """sign(delegation): the site's PI signs it."""
    from trialdesk.staff.services import delegation_sign

    def _sign(delegation, user=None):
        delegation.refresh_from_db()
        return delegation_sign(user=user or pi, delegation=delegation, password=PASSWORD,
                               version=delegation.version)

    return _sign
