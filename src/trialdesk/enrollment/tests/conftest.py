"""Fixtures for enrollment tests: studies with activated sites, a screening log and enrollment plans."""

from __future__ import annotations

import datetime as dt

import pytest

AS_OF = dt.date(2026, 6, 30)


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
def add_subjects(db):
    """add_subjects(site, enrolled=[dates], screen_failed=[dates], **more): screening-log rows for a site.

    Rows are written directly: the subjects area owns the services that would normally create them, and
    these tests need exact historical dates. StudySite.enrolled_count is kept equal, as that service does.
    """
    from django.db.models import F

    from trialdesk.sites.models import StudySite
    from trialdesk.subjects.models import Subject

    def _add(site, *, enrolled=(), screen_failed=(), withdrawn=(), randomized=(), completed=(), prescreened=0,
             screened_only=0):
        last = Subject.all_objects.filter(site=site).order_by("-site_sequence").values_list(
            "site_sequence", flat=True).first() or 0
        rows = []

        def row(**fields):
            nonlocal last
            last += 1
            rows.append(Subject(study_id=site.study_id, site=site, site_sequence=last,
                                subject_number=f"{site.site_number}-{last:03d}", **fields))

        for day in enrolled:
            status = ("completed" if day in completed else "withdrawn" if day in withdrawn
                      else "randomized" if day in randomized else "enrolled")
            row(status=status, prescreened_on=day, screened_on=day, consented_on=day, enrolled_on=day,
                randomized_on=day if status in ("randomized", "completed") or day in randomized else None,
                completed_on=day if status == "completed" else None,
                withdrawn_on=day if status == "withdrawn" else None)
        for day in screen_failed:
            row(status="screen_failed", prescreened_on=day, screened_on=day, screen_failed_on=day,
                screen_fail_reason_code="inclusion_not_met")
        for _ in range(prescreened):
            row(status="pre_screened", prescreened_on=AS_OF)
        for _ in range(screened_only):
            row(status="screened", prescreened_on=AS_OF, screened_on=AS_OF)
        Subject.objects.bulk_create(rows)
        StudySite.objects.filter(pk=site.pk).update(enrolled_count=F("enrolled_count") + len(enrolled))
        return rows

    return _add


@pytest.fixture
def activate(db, admin_user):
    """activate(site, day): record the site's actual activation date through the sites service."""
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_update

    def _activate(site, day, **more):
        site = StudySite.objects.get(pk=site.pk)
        return site_update(user=admin_user, site=site, data={"actual_activated": day, **more},
                           version=site.version, reason="activated")

    return _activate


def monthly_dates(start: dt.date, count: int, every_days: float) -> list[dt.date]:
    """`count` enrollment days from `start`, one every `every_days` days."""
    return [start + dt.timedelta(days=int(i * every_days)) for i in range(count)]


@pytest.fixture
def enrolling(db, admin_user, study, sites, activate, add_subjects):
    """The shared study (target 400, LSI 2027-06-30) with a plan and three active, enrolling sites.

    Plan: each site 2/month from 2026-01-01 (cap 150). Actuals by AS_OF: site 001 enrolled 10 subjects,
    002 six, 003 none; a few screen failures at 001.
    """
    from trialdesk.enrollment.services import enrollment_plan_create, enrollment_plan_entry_create

    plan = enrollment_plan_create(user=admin_user, study=study, data={"label": "Original"})
    for site in sites:
        enrollment_plan_entry_create(user=admin_user, plan=plan, data={
            "site": site, "planned_activation": dt.date(2026, 1, 1), "planned_rate_per_month": 2.0,
            "planned_subjects": 150})
    activate(sites[0], dt.date(2026, 1, 10))
    activate(sites[1], dt.date(2026, 2, 1))
    activate(sites[2], dt.date(2026, 2, 15))
    add_subjects(sites[0], enrolled=monthly_dates(dt.date(2026, 1, 20), 10, 15),
                 screen_failed=[dt.date(2026, 2, 1), dt.date(2026, 3, 1), dt.date(2026, 4, 1)])
    add_subjects(sites[1], enrolled=monthly_dates(dt.date(2026, 2, 10), 6, 20))
    return plan


@pytest.fixture
def screening_log(db, admin_user, make_user, study):
    """screening_log(site, day, outcome): one subject through the subjects services, from screening on `day`
    to "enrolled" or "screen_failed" (consent by the site's PI, an approved consent form). The site must be
    activated (see `open_site`)."""
    from trialdesk.accounts.roles import Role
    from trialdesk.subjects import services as subjects
    from trialdesk.subjects.models import IcfVersion

    pi = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, username="pi")
    # An approved consent form written directly: subjects.services.icf_version_approve locks with an outer join
    # that PostgreSQL refuses (reported to the subjects area); consent and enrollment below use the services.
    icf = IcfVersion(study=study, version_number="1.0", version_date=dt.date(2025, 10, 1),
                     irb_approval_date=dt.date(2025, 11, 1), status="approved")
    icf.save()

    def _log(site, day: dt.date, outcome: str):
        # The PI is the site's principal investigator on its staff roster (delegated for consent and eligibility).
        from trialdesk.staff.tests.helpers import make_site_pi

        make_site_pi(admin_user, site, pi, start=dt.date(2020, 1, 1))
        subject = subjects.subject_create(user=admin_user, site=site, status="screened", on=day)
        if outcome == "screen_failed":
            return subjects.subject_transition(user=admin_user, subject=subject, status="screen_failed",
                                               version=subject.version, reason="Not eligible", on=day,
                                               screen_fail_reason_code="inclusion_not_met")
        subjects.consent_record(user=admin_user, subject=subject, icf_version=icf, consented_on=day, method="paper",
                                obtained_by=pi.person)
        subject.refresh_from_db()
        return subjects.subject_transition(user=admin_user, subject=subject, status="enrolled",
                                           version=subject.version, reason="Eligible", on=day,
                                           eligibility_confirmed_by=pi.person)

    return _log


@pytest.fixture
def open_site(db, admin_user):
    """open_site(site, activated_on): move a candidate site to Activated with that actual activation date."""
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_transition, site_update

    def _open(site, activated_on: dt.date):
        for status in ("selected", "start_up", "activated"):
            site = StudySite.objects.get(pk=site.pk)
            site = site_transition(user=admin_user, site=site, status=status, version=site.version, reason=status)
        return site_update(user=admin_user, site=site, data={"actual_activated": activated_on},
                           version=site.version, reason="Activation date")

    return _open
