"""Fixtures shared by every area's tests: users for each role, a study with sites.

Tests run against a real database: SQLite by default, PostgreSQL when
TRIALDESK_DATABASE_URL points at one (see Makefile `test`).
"""

from __future__ import annotations

import datetime as dt

import pytest

from trialdesk.accounts.roles import Role

PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture
def make_user(db):
    from trialdesk.accounts.services import membership_grant, user_create
    from trialdesk.organizations.models import Person

    counter = {"n": 0}

    def _make(role: str | None = None, *, study=None, sites=(), username: str | None = None):
        counter["n"] += 1
        name = username or f"{role or 'user'}{counter['n']}"
        person = Person(first_name=name.title(), last_name="Tester", email=f"{name}@example.org")
        person.save()
        user = user_create(actor=None, username=name, email=person.email, person=person, password=PASSWORD)
        if role:
            membership_grant(actor=None, user=user, role=role, study=study, sites=sites)
        return user

    return _make


@pytest.fixture
def admin_user(make_user):
    return make_user(Role.ADMIN, username="admin")


@pytest.fixture
def cpm(make_user):
    return make_user(Role.CPM, username="cpm")


@pytest.fixture
def sponsor(db, admin_user):
    from trialdesk.organizations.services import organization_create

    return organization_create(user=admin_user, data={"name": "Acme Pharma", "kind": "sponsor",
                                                      "country": "United States"})


@pytest.fixture
def study(db, admin_user, sponsor):
    from trialdesk.studies.services import study_create

    return study_create(user=admin_user, data={
        "protocol_number": "ACME-301", "brief_title": "A Phase 3 study of acmeximab in asthma",
        "acronym": "BREATHE", "phases": ["PHASE3"], "planned_enrollment": 400, "sponsor": sponsor,
        "therapeutic_area": "Respiratory", "conditions": ["Asthma"],
        "planned_first_subject_in": dt.date(2026, 3, 1), "planned_last_subject_in": dt.date(2027, 6, 30),
    })


@pytest.fixture
def sites(db, admin_user, study):
    from trialdesk.organizations.services import organization_create
    from trialdesk.sites.services import site_create

    out = []
    for i, (name, country) in enumerate([("Charité Berlin", "Germany"), ("Mayo Clinic", "United States"),
                                         ("Hôpital Necker", "France")], start=1):
        inst = organization_create(user=admin_user, data={"name": name, "kind": "institution", "country": country})
        out.append(site_create(user=admin_user, study=study, data={
            "institution": inst, "site_number": f"{i:03d}", "country": country, "target_enrollment": 20,
        }))
    return out


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness protects production passwords; tests only need correctness.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
