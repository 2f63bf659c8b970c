"""Query-count guards: no list page, dashboard or API list runs more queries because it shows more rows.

One portfolio is grown through the services: each growth step adds, to the main study, a site (new
institution, PI, plan entry, activated), an enrolled and randomized subject with consent and visits (one
recorded), a screen failure, an arm, an intervention, a protocol version, a team member and changes to one
site's record; and, elsewhere, a new study with a site. Each page is read at N steps and again at 3N steps:
the number of queries must be the same (a test of the query shape, not of timing).

A failure lists the extra queries, which name the N+1: fix it in the selector (select_related, prefetch,
annotations) rather than loosening the test.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import PASSWORD
from trialdesk.accounts.roles import Role

D = dt.date
N = 2


class Portfolio:
    """The main study (`study`) with a schedule, consent form and plan; `grow(k)` adds k steps."""

    def __init__(self, admin, study, sponsor, make_user):
        from trialdesk.enrollment.services import enrollment_plan_create
        from trialdesk.studies.services import arm_create, protocol_version_approve, protocol_version_create
        from trialdesk.subjects.services import icf_version_approve, icf_version_create
        from trialdesk.visits.services import visit_definition_create

        self.admin, self.study, self.sponsor, self.make_user = admin, study, sponsor, make_user
        self.steps = 0
        self.arms = [arm_create(user=admin, study=study, data={"label": label}) for label in ("Active", "Placebo")]
        pv = protocol_version_create(user=admin, study=study, data={"version_number": "1.0",
                                                                   "version_date": D(2024, 10, 1)})
        for order, (code, anchor, day) in enumerate([("V1", "enrollment", 0), ("V2", "randomization", 14),
                                                    ("V3", "enrollment", 28), ("V4", "enrollment", 3650)]):
            visit_definition_create(user=admin, protocol_version=pv, data={
                "code": code, "name": f"Visit {code}", "order": order, "anchor": anchor, "target_day": day,
                "window_before": 2, "window_after": 2})
        pv.refresh_from_db()
        self.protocol = protocol_version_approve(user=admin, protocol_version=pv, password=PASSWORD,
                                                 version=pv.version)
        icf = icf_version_create(user=admin, study=study, data={
            "version_number": "1.0", "version_date": D(2024, 11, 1), "protocol_version": self.protocol,
            "irb_approval_date": D(2024, 12, 1)})
        self.icf = icf_version_approve(user=admin, icf_version=icf, version=icf.version)
        self.pi = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, username="qc-pi")
        # Makes one change per step, so the study's audit trail filtered to this user grows by one per step.
        self.editor = make_user(Role.CPM, study=study, username="qc-editor")
        self.plan = enrollment_plan_create(user=admin, study=study, data={"label": "Original"})
        self.sites = []

    def grow(self, k: int) -> None:
        from trialdesk.visits.services import subject_visits_flag_missed

        for _ in range(k):
            self.steps += 1
            self._step(self.steps)
        # Visit deviations: the windows of the week-2 and week-4 visits have ended 40 days from now.
        subject_visits_flag_missed(today=timezone.localdate() + dt.timedelta(days=40))

    def _step(self, i: int) -> None:
        from trialdesk.enrollment.services import enrollment_plan_entry_create
        from trialdesk.organizations.services import organization_create
        from trialdesk.sites.services import site_create, site_transition, site_update
        from trialdesk.studies.services import arm_create, intervention_create, protocol_version_create, study_create
        from trialdesk.subjects import services as subjects
        from trialdesk.subjects.services import icf_version_create

        admin, study = self.admin, self.study
        country = ("Germany", "France")[i % 2]
        inst = organization_create(user=admin, data={"name": f"Hospital {i}", "kind": "institution",
                                                     "country": country, "city": f"City {i}"})
        # The PI holds a study role and, as the site's PI, is on its staff roster from today: they may obtain
        # consent and confirm eligibility (today: the roster entry starts today).
        site = site_create(user=admin, study=study, data={
            "institution": inst, "site_number": f"{100 + i}", "country": country, "target_enrollment": 10,
            "principal_investigator": self.pi.person, "planned_activated": D(2025, 1, 10)})
        for status in ("selected", "start_up", "activated"):
            site = site_transition(user=admin, site=site, status=status, version=site.version, reason="set-up")
        site = site_update(user=admin, site=site, data={"actual_activated": D(2025, 1, 15)}, version=site.version,
                           reason="Activated")
        self.sites.append(site)
        enrollment_plan_entry_create(user=admin, plan=self.plan, data={
            "site": site, "planned_activation": D(2025, 1, 1), "planned_rate_per_month": 1.5,
            "planned_subjects": 20})

        # At the new site and at the first site: an enrolled, randomized subject with consent and generated
        # visits (the first one recorded).
        for at in {site.pk: site, self.sites[0].pk: self.sites[0]}.values():
            self._enrolled_subject(at, i)
        # A screen failure.
        today = timezone.localdate()
        failed = subjects.subject_create(user=admin, site=site, status="screened", on=today)
        subjects.subject_transition(user=admin, subject=failed, status="screen_failed", on=today,
                                    version=failed.version, reason="Not eligible",
                                    screen_fail_reason_code="inclusion_not_met")

        # Study-level records and a team member.
        arm_create(user=admin, study=study, data={"label": f"Arm {i}"})
        intervention_create(user=admin, study=study, data={"name": f"Drug {i}", "kind": "DRUG"},
                            arm_ids=[self.arms[i % 2].pk])
        protocol_version_create(user=admin, study=study, data={"version_number": f"2.{i}",
                                                               "version_date": D(2025, 1, i)})
        icf_version_create(user=admin, study=study, data={"version_number": f"1.{i}",
                                                          "version_date": D(2025, 1, i)})
        self.make_user(Role.VIEWER, study=study, username=f"qc-viewer-{i}")
        # History of one record (the first site) grows by one change per step.
        first = type(site).objects.get(pk=self.sites[0].pk)
        site_update(user=self.editor, site=first, data={"target_enrollment": 10 + i}, version=first.version,
                    reason=f"Target revised ({i})")

        # Elsewhere in the portfolio: another study with a site.
        other = study_create(user=admin, data={"protocol_number": f"QC-{i:03d}", "brief_title": f"Other {i}",
                                               "sponsor": self.sponsor, "planned_enrollment": 100 + i,
                                               "phases": ["PHASE2"], "planned_first_subject_in": D(2025, 3, 1)})
        site_create(user=admin, study=other, data={"institution": inst, "site_number": "001", "country": country})

    def _enrolled_subject(self, site, i: int) -> None:
        from trialdesk.subjects import services as subjects
        from trialdesk.visits.models import SubjectVisit
        from trialdesk.visits.services import subject_visit_record

        admin, today = self.admin, timezone.localdate()
        subject = subjects.subject_create(user=admin, site=site, status="screened", on=today)
        subjects.consent_record(user=admin, subject=subject, icf_version=self.icf, consented_on=today,
                                method="paper", obtained_by=self.pi.person)
        subject.refresh_from_db()
        subject = subjects.subject_transition(user=admin, subject=subject, status="enrolled", on=today,
                                              version=subject.version, reason="Eligible",
                                              eligibility_confirmed_by=self.pi.person)
        subject.refresh_from_db()
        subjects.subject_randomize(user=admin, subject=subject, arm=self.arms[i % 2], version=subject.version,
                                   randomized_on=today)
        first_visit = SubjectVisit.objects.filter(subject=subject).order_by("planned_on").first()
        subject_visit_record(user=admin, visit=first_visit, actual_on=first_visit.planned_on, modality=None,
                             version=first_visit.version, reason="")


@pytest.fixture
def portfolio(admin_user, study, sponsor, make_user):
    return Portfolio(admin_user, study, sponsor, make_user)


def _limit_to_sites(portfolio: Portfolio, user) -> None:
    """(Re)grant `user` a CRA role limited to every site of the main study so far."""
    from trialdesk.accounts.models import Membership
    from trialdesk.accounts.services import membership_grant, membership_revoke

    for membership in Membership.objects.filter(user=user, revoked_at__isnull=True):
        membership_revoke(actor=portfolio.admin, membership=membership, reason="Sites changed")
    membership_grant(actor=None, user=user, role=Role.CRA, study=portfolio.study, sites=portfolio.sites)


def _web_pages(p: Portfolio) -> dict[str, str]:
    from trialdesk.audit.services import record_type_of

    s, site = p.study, p.sites[0]
    return {
        "portfolio": "/",
        "study overview": f"/studies/{s.pk}/",
        "study arms": f"/studies/{s.pk}/arms/",
        "study protocol versions": f"/studies/{s.pk}/protocol-versions/",
        "site list": f"/studies/{s.pk}/sites/",
        "site list filtered": f"/studies/{s.pk}/sites/?status=activated&country=Germany",
        "subject list": f"/studies/{s.pk}/subjects/",
        "subject list of a site": f"/sites/{site.pk}/subjects/",
        "consent forms": f"/studies/{s.pk}/consent-forms/",
        "visits list": f"/studies/{s.pk}/visits/",
        "visits of a site": f"/sites/{site.pk}/visits/",
        "visit deviations": f"/studies/{s.pk}/visits/deviations/",
        "enrollment dashboard": f"/studies/{s.pk}/enrollment/",
        "enrollment plan": f"/studies/{s.pk}/enrollment/plan/",
        "study audit history": f"/studies/{s.pk}/audit/?actor=qc-editor",
        "record audit history": f"/audit/{record_type_of(site)}/{site.pk}/",
        "site audit tab": f"/sites/{site.pk}/audit/",
        "study team": f"/studies/{s.pk}/team/",
    }


def _api_lists(p: Portfolio) -> dict[str, str]:
    from trialdesk.audit.services import record_type_of

    s, site = p.study, p.sites[0]
    return {
        "API studies": "/api/v1/studies",
        "API portfolio": "/api/v1/studies/portfolio",
        "API sites": f"/api/v1/sites?study_id={s.pk}",
        "API subjects": f"/api/v1/subjects?study_id={s.pk}",
        "API subject visits": f"/api/v1/visits/subject-visits?study_id={s.pk}",
        "API visit deviations": f"/api/v1/visits/deviations?study_id={s.pk}",
        "API study audit": f"/api/v1/audit/studies/{s.pk}?limit=500",
        "API record audit": f"/api/v1/audit/records/{record_type_of(site)}/{site.pk}",
        "API enrollment summary": f"/api/v1/enrollment/studies/{s.pk}/summary",
        "API enrollment curve": f"/api/v1/enrollment/studies/{s.pk}/curve",
        "API enrollment warnings": f"/api/v1/enrollment/studies/{s.pk}/warnings",
        "API enrollment plans": f"/api/v1/enrollment/studies/{s.pk}/plans",
        "API memberships": f"/api/v1/accounts/memberships?study_id={s.pk}",
        "API organizations": "/api/v1/organizations",
        "API consent forms": f"/api/v1/subjects/icf-versions?study_id={s.pk}",
        "API arms": f"/api/v1/studies/{s.pk}/arms",
        "API interventions": f"/api/v1/studies/{s.pk}/interventions",
        "API protocol versions": f"/api/v1/studies/{s.pk}/protocol-versions",
    }


@dataclass
class Measured:
    queries: list[str]
    size: int  # bytes of the response: it must grow with the rows, or the page does not show them


def _measure(client: Client, pages: dict[str, str]) -> dict[str, Measured]:
    """Queries of each page (after one warm-up request for the session and the user's grants)."""
    out = {}
    for name, url in pages.items():
        assert client.get(url).status_code == 200, f"{name}: {url}"
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, f"{name}: {url} answered {response.status_code}"
        out[name] = Measured([q["sql"] for q in ctx.captured_queries], len(response.content))
    return out


def _shape(sql: str) -> str:
    import re

    return re.sub(r"\b\d+\b", "N", re.sub(r"'[^']*'", "?", sql))[:300]


def _compare(few: dict[str, Measured], many: dict[str, Measured]) -> None:
    same_size = [name for name in few if many[name].size <= few[name].size]
    assert not same_size, f"These pages do not show more at 3N than at N, so they test nothing: {same_size}"
    grown = {}
    for name, measured in few.items():
        queries, more = measured.queries, many[name].queries
        if len(more) != len(queries):
            extra = Counter(map(_shape, more)) - Counter(map(_shape, queries))
            grown[name] = (len(queries), len(more), [f"{n} x {sql}" for sql, n in extra.most_common(5)])
    assert not grown, "Query counts grew with the rows shown:\n" + "\n".join(
        f"  {name}: {a} queries at N={N}, {b} at 3N; extra: {extra}" for name, (a, b, extra) in grown.items())


def _login(client: Client, user) -> Client:
    client.force_login(user)
    return client


def _token_client(user) -> Client:
    from trialdesk.accounts.services import api_token_create

    _, secret = api_token_create(actor=None, user=user, name="query counts")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_pages_and_api_lists_do_not_grow_with_rows_for_a_portfolio_wide_user(portfolio, cpm, client):
    portfolio.grow(N)
    web, api = _login(client, cpm), _token_client(cpm)
    few = _measure(web, _web_pages(portfolio)) | _measure(api, _api_lists(portfolio))
    portfolio.grow(2 * N)
    many = _measure(web, _web_pages(portfolio)) | _measure(api, _api_lists(portfolio))
    _compare(few, many)


def test_pages_and_api_lists_do_not_grow_with_rows_for_a_site_limited_user(portfolio, make_user, client):
    monitor = make_user(username="qc-monitor")
    portfolio.grow(N)
    _limit_to_sites(portfolio, monitor)
    # The study-wide audit trail is closed to site-limited users; the other studies are not theirs.
    pages = {k: v for k, v in _web_pages(portfolio).items() if k not in ("study audit history", "portfolio")}
    api = {k: v for k, v in _api_lists(portfolio).items()
           if k not in ("API study audit", "API studies", "API portfolio")}
    web, token = _login(client, monitor), _token_client(monitor)
    few = _measure(web, pages) | _measure(token, api)
    portfolio.grow(2 * N)
    _limit_to_sites(portfolio, monitor)
    many = _measure(web, pages) | _measure(token, api)
    _compare(few, many)
