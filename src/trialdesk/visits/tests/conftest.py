"""Fixtures for the visits tests: a schedule of events on an approved protocol and enrolled subjects."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import PASSWORD

# V1 at enrollment, V2 two weeks after randomization (±3 days), V3 four weeks after (-2/+5), an optional
# phone call and a screening visit before randomization.
SCHEDULE = [
    {"code": "SCR", "name": "Screening", "order": 1, "anchor": "consent", "target_day": 0, "window_before": 0,
     "window_after": 7, "modality": "on_site"},
    {"code": "V1", "name": "Baseline", "order": 2, "anchor": "enrollment", "target_day": 0, "window_before": 0,
     "window_after": 0, "modality": "on_site"},
    {"code": "V2", "name": "Week 2", "order": 3, "anchor": "randomization", "target_day": 14, "window_before": 3,
     "window_after": 3, "modality": "remote"},
    {"code": "V3", "name": "Week 4", "order": 4, "anchor": "randomization", "target_day": 28, "window_before": 2,
     "window_after": 5, "modality": "home"},
    {"code": "FU", "name": "Follow-up call", "order": 5, "anchor": "first_dose", "target_day": 60,
     "window_before": 7, "window_after": 7, "modality": "phone", "required": False},
]


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
def make_protocol(admin_user, study):
    """make_protocol(number, schedule=SCHEDULE, approve=True): a protocol version with its schedule."""
    from trialdesk.studies.services import protocol_version_approve, protocol_version_create
    from trialdesk.visits.services import visit_definition_create

    def _make(number="1.0", schedule=SCHEDULE, approve=True, on=dt.date(2025, 1, 10)):
        pv = protocol_version_create(user=admin_user, study=study, data={"version_number": number,
                                                                         "version_date": on})
        for row in schedule:
            visit_definition_create(user=admin_user, protocol_version=pv, data=row)
        if approve:
            pv = protocol_version_approve(user=admin_user, protocol_version=pv, password=PASSWORD,
                                          version=pv.version)
        return pv

    return _make


@pytest.fixture
def protocol(make_protocol):
    return make_protocol()


@pytest.fixture
def make_subject(study, sites):
    """make_subject(site=sites[0], **dates): an enrolled subject.

    Created with the model because the subjects services are another engineer's work in progress; the
    visits services under test are called explicitly, as the subjects services will call them.
    """
    from trialdesk.subjects.models import Subject

    counter = {"n": 0}

    def _make(site=None, *, status="enrolled", consented_on=dt.date(2025, 3, 1), enrolled_on=dt.date(2025, 3, 3),
              randomized_on=None, first_dose_on=None, protocol_version=None):
        site = site or sites[0]
        counter["n"] += 1
        subject = Subject(study=study, site=site, subject_number=f"{site.site_number}-{counter['n']:03d}",
                          site_sequence=counter["n"], status=status, consented_on=consented_on,
                          enrolled_on=enrolled_on, randomized_on=randomized_on, first_dose_on=first_dose_on,
                          protocol_version=protocol_version)
        subject.save()
        return subject

    return _make
