"""Fixtures for the subjects tests: an activated site, delegated site staff, arms, an approved protocol and
consent form, and helpers to move subjects along the screening log."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import PASSWORD
from trialdesk.accounts.roles import Role

D = dt.date
ACTIVATED, SCREENED, CONSENTED, ENROLLED = D(2025, 1, 15), D(2025, 2, 1), D(2025, 2, 3), D(2025, 2, 10)
DELEGATED = D(2025, 1, 1)  # the coordinator's delegations (consent, eligibility) at site 001 start


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


def activate(admin_user, site, activated_on=ACTIVATED):
    """Move a site to Activated (with its activation in the past, so back-dated enrollments are possible)."""
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_transition, site_update

    site = StudySite.objects.get(pk=site.pk)
    for status in ("selected", "start_up", "activated"):
        site = site_transition(user=admin_user, site=site, status=status, version=site.version, reason="test set-up")
    site = site_update(user=admin_user, site=site, data={"actual_activated": activated_on}, version=site.version,
                       reason="test set-up")
    return StudySite.objects.get(pk=site.pk)


@pytest.fixture
def site(admin_user, sites, pi):
    """sites[0] (001, Germany), activated on 2025-01-15."""
    return activate(admin_user, sites[0])


@pytest.fixture
def coordinator(make_user, study, site, pi, admin_user):
    """A site coordinator limited to site 001: on its staff roster, trained, and delegated for informed consent
    and eligibility there from 2025-01-01 (signed by the site's principal investigator)."""
    from trialdesk.staff.tests.helpers import delegate

    user = make_user(Role.SITE_COORDINATOR, study=study, sites=[site], username="coord")
    delegate(admin_user, site, user.person, ["informed_consent", "eligibility"], pi_user=pi, start=DELEGATED)
    return user


@pytest.fixture
def pi(make_user, study, sites, admin_user):
    """A principal investigator on the whole study: the principal investigator of every site (on each site's
    staff roster since 2024-01-01), so may obtain consent and confirm eligibility at all of them."""
    from trialdesk.staff.tests.helpers import make_site_pi

    user = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, username="pi")
    for s in sites:
        make_site_pi(admin_user, s, user, start=D(2024, 1, 1))
        s.refresh_from_db()
    return user


@pytest.fixture
def arms(admin_user, study):
    from trialdesk.studies.services import arm_create

    return [arm_create(user=admin_user, study=study, data={"label": label}) for label in ("Acmeximab", "Placebo")]


def approved_protocol(admin_user, study, number: str, on: dt.date, visits: list[tuple[str, str, int]]):
    """An approved protocol version whose schedule has the given (code, anchor, target_day) visits."""
    from trialdesk.studies.services import protocol_version_approve, protocol_version_create
    from trialdesk.visits.services import visit_definition_create

    pv = protocol_version_create(user=admin_user, study=study, data={"version_number": number, "version_date": on})
    for order, (code, anchor, day) in enumerate(visits):
        visit_definition_create(user=admin_user, protocol_version=pv, data={
            "code": code, "name": f"Visit {code}", "order": order, "anchor": anchor, "target_day": day,
            "window_before": 2, "window_after": 2})
    pv.refresh_from_db()
    return protocol_version_approve(user=admin_user, protocol_version=pv, password=PASSWORD, version=pv.version)


@pytest.fixture
def protocol(admin_user, study):
    """Protocol 1.0, approved: V1 on the enrollment day, V2 14 days after randomization, V3 28 days after
    enrollment."""
    return approved_protocol(admin_user, study, "1.0", D(2024, 10, 1),
                             [("V1", "enrollment", 0), ("V2", "randomization", 14), ("V3", "enrollment", 28)])


@pytest.fixture
def icf(admin_user, study, protocol):
    """ICF 1.0 for all sites, tied to protocol 1.0, approved on 2024-12-01."""
    from trialdesk.subjects.services import icf_version_approve, icf_version_create

    form = icf_version_create(user=admin_user, study=study, data={
        "version_number": "1.0", "version_date": D(2024, 11, 1), "protocol_version": protocol,
        "irb_approval_date": D(2024, 12, 1)})
    return icf_version_approve(user=admin_user, icf_version=form, version=form.version)


@pytest.fixture
def make_flow(admin_user, site, icf):
    """make_flow(user): helpers that move subjects along the screening log as `user` (who also obtains consent
    and confirms eligibility, so must be delegated at the site)."""
    from trialdesk.subjects import services

    class Flow:
        def __init__(self, user):
            self.user = user
            self.person = user.person

        def new(self, on=SCREENED, at=None, **kw):
            return services.subject_create(user=self.user, site=at or site, status="screened", on=on, **kw)

        def consent(self, subject, on=CONSENTED, form=None):
            services.consent_record(user=self.user, subject=subject, icf_version=form or icf, consented_on=on,
                                    method="paper", obtained_by=self.person)
            subject.refresh_from_db()
            return subject

        def enroll(self, subject, on=ENROLLED):
            return services.subject_transition(user=self.user, subject=subject, status="enrolled", on=on,
                                               version=subject.version, reason="eligible",
                                               eligibility_confirmed_by=self.person)

        def enrolled(self, on=ENROLLED, **kw):
            return self.enroll(self.consent(self.new(**kw)), on=on)

    return Flow


@pytest.fixture
def flow(make_flow, coordinator):
    """The screening-log helpers as the coordinator of site 001."""
    return make_flow(coordinator)
