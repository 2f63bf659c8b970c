"""Fixtures for the training tests: an approved protocol, a site with a nurse on its roster (with a login),
a training manager (the CPM), and shortcuts that run a training through the services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from conftest import PASSWORD
from trialdesk.accounts.roles import Role

D = dt.date


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
def nurse(make_user, study, sites):
    """A study nurse at site 001: a site-limited coordinator login, on the site's roster with a valid GCP."""
    from trialdesk.staff.services import site_staff_create

    user = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[0]], username="nurse")
    site_staff_create(user=_admin(), site=sites[0], data={
        "person": user.person, "role": "study_nurse", "start_date": D(2025, 6, 1),
        "gcp_certificate_date": D(2025, 5, 1), "gcp_expiry": timezone.localdate() + dt.timedelta(days=700)})
    return user


def _admin():
    from trialdesk.accounts.models import User

    return User.objects.get(username="admin")


@pytest.fixture
def training(cpm, study, protocol):
    """An open protocol training on version 1.0 from the built-in template, with one past session."""
    from trialdesk.training import services
    from trialdesk.training.models import TrainingTemplate

    template = TrainingTemplate.objects.get(builtin=True, name="Study nurse protocol training")
    t = services.training_create(user=cpm, study=study, template=template, data={"title": "Protocol v1.0 training"})
    return services.training_transition(user=cpm, training=t, status="open", version=t.version, reason="Ready")


@pytest.fixture
def session(cpm, training, sites):
    from trialdesk.training import services

    return services.training_session_create(user=cpm, training=training, sites=[sites[0]], data={
        "mode": "in_person", "trainer": cpm.person, "starts_at": timezone.now() - dt.timedelta(days=2),
        "duration_minutes": 120, "location": "Seminar room 3", "materials": "Protocol v1.0, slides"})


@pytest.fixture
def attended(cpm, session, nurse):
    """The nurse invited and recorded as attended by the trainer (not yet acknowledged)."""
    from trialdesk.training import services

    att = services.attendance_invite(user=cpm, session=session, people=[nurse.person])[0]
    return services.attendance_record(user=cpm, attendance=att, status="attended", version=att.version)
