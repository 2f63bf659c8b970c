"""Fixtures for the start-up tests: the default template, a questionnaire, helpers to record milestones."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from trialdesk.accounts.roles import Role


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
def template(cpm, study):
    from trialdesk.startup.services import startup_template_ensure

    return {d.key: d for d in startup_template_ensure(user=cpm, study=study)}


@pytest.fixture
def questions(cpm, study):
    """Three scored questions (weights 2, 1, 1), one unscored text question; the first is required."""
    from trialdesk.startup.services import feasibility_question_create

    make = feasibility_question_create
    return [
        make(user=cpm, study=study, data={"text": "Do you have a -80 °C freezer?", "kind": "yes_no",
                                          "preferred_answer": "yes", "weight": 2, "required": True}),
        make(user=cpm, study=study, data={"text": "Eligible patients seen per month?", "kind": "number",
                                          "score_min": 0, "score_max": 20, "weight": 1}),
        make(user=cpm, study=study, data={"text": "Competing studies?", "kind": "choice", "weight": 1,
                                          "choices": [{"label": "None", "score": 1},
                                                      {"label": "One", "score": 0.5},
                                                      {"label": "Several", "score": 0}]}),
        make(user=cpm, study=study, data={"text": "Anything else?", "kind": "text"}),
    ]


@pytest.fixture
def coordinator(make_user, study, sites):
    """A site coordinator of site 001 (feasibility.answer there only)."""
    return make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[0]], username="coord")


@pytest.fixture
def record(cpm):
    """record(site, key, day=None, **data): save a site's milestone through the service (reason given)."""
    from trialdesk.startup.models import SiteMilestone, StartupMilestoneDefinition
    from trialdesk.startup.services import site_milestone_update

    def _record(site, key, day: dt.date | None = None, *, user=None, reason="recorded in test", **data):
        definition = StartupMilestoneDefinition.objects.get(study_id=site.study_id, key=key)
        existing = SiteMilestone.objects.filter(site=site, definition=definition).first()
        if day is not None:
            data["actual_date"] = day
        site.refresh_from_db()
        return site_milestone_update(user=user or cpm, site=site, definition=definition, data=data,
                                     version=existing.version if existing else 0, reason=reason)

    return _record


@pytest.fixture
def select_site(cpm, record):
    """select_site(site): the pre-selection milestones recorded (feasibility not applicable), then selected."""
    from trialdesk.startup.services import site_selection_decide

    def _select(site, day=None):
        day = day or timezone.localdate()
        record(site, "confidentiality_agreement", day)
        record(site, "feasibility", not_applicable=True, not_applicable_reason="Known site, no questionnaire")
        record(site, "qualification_visit", day)
        site.refresh_from_db()
        return site_selection_decide(user=cpm, site=site, decision="selected", reason="Best candidate",
                                     version=site.version)

    return _select
