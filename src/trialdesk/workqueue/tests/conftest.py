"""Fixtures for the work-queue tests: a study with enrollment warnings, clients."""

from __future__ import annotations

import datetime as dt

import pytest

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture
def api_client(db):
    """api_client(user): a Client authenticating as `user` with a new API token."""
    from django.test import Client

    from trialdesk.accounts.services import api_token_create

    def _client(user):
        _, secret = api_token_create(actor=None, user=user, name="workqueue tests")
        return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    return _client


@pytest.fixture
def web(client):
    def _as(user):
        client.force_login(user)
        return client

    return _as


def make_warned(admin_user, study, sites, as_of: dt.date):
    """The study (target 400), enrolling, with a plan of 2/month per site and its three sites activated 170,
    150 and 135 days before `as_of` without a single subject: each has gone more than 120 days without
    enrolling by `as_of` (a critical "no enrollment" warning each)."""
    from trialdesk.enrollment.services import enrollment_plan_create, enrollment_plan_entry_create
    from trialdesk.sites.services import site_update
    from trialdesk.studies.services import study_transition

    for status in ("start_up", "enrolling"):
        study = study_transition(user=admin_user, study=study, status=status, version=study.version, reason=status)
    plan = enrollment_plan_create(user=admin_user, study=study, data={"label": "Original"})
    for site, days in zip(sites, (170, 150, 135), strict=True):
        enrollment_plan_entry_create(user=admin_user, plan=plan, data={
            "site": site, "planned_activation": as_of - dt.timedelta(days=180), "planned_rate_per_month": 2.0})
        site.refresh_from_db()
        site_update(user=admin_user, site=site, data={"actual_activated": as_of - dt.timedelta(days=days)},
                    version=site.version, reason="activated")
    return study


@pytest.fixture
def warned_study(db, admin_user, study, sites):
    """make_warned as of AS_OF (2026-06-30): site 003 active since 2026-02-15."""
    return make_warned(admin_user, study, sites, AS_OF)
