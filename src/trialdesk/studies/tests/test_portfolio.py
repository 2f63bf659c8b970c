"""The portfolio's health flags (pure) and the portfolio API: counts, totals, flags, visibility, paging."""

from __future__ import annotations

import datetime as dt

import pytest

from trialdesk.accounts.roles import Role
from trialdesk.studies import services
from trialdesk.studies.health import expected_by, health_flags

TODAY = dt.date(2026, 6, 1)


def _flags(**overrides):
    args = {"today": TODAY, "status": "enrolling", "target": 100, "enrolled": 50, "active_sites": 3,
            "next_milestone_planned": None, "first_subject_in": dt.date(2026, 1, 1),
            "planned_last_subject_in": dt.date(2026, 11, 1), "actual_last_subject_in": None}
    args.update(overrides)
    return health_flags(**args)


def test_expected_by_is_a_straight_line_clipped_to_the_dates():
    start, end = dt.date(2026, 1, 1), dt.date(2026, 1, 11)
    assert expected_by(dt.date(2026, 1, 6), start, end, 100) == 50
    assert expected_by(dt.date(2025, 12, 1), start, end, 100) == 0
    assert expected_by(dt.date(2027, 1, 1), start, end, 100) == 100
    assert expected_by(TODAY, None, end, 100) is None
    assert expected_by(TODAY, end, start, 100) is None       # no line backwards
    assert expected_by(TODAY, start, end, None) is None


def test_health_flags():
    # 151 of 304 days: a straight line expects ~49.7 of 100 by today.
    assert _flags() == []
    assert _flags(enrolled=39) == ["behind_plan"]
    assert _flags(enrolled=40) == []                         # 40 >= 0.8 x 49.7
    assert _flags(active_sites=0) == ["no_active_sites"]
    assert _flags(status="start_up", active_sites=0, enrolled=0) == []
    assert _flags(next_milestone_planned=dt.date(2026, 5, 31)) == ["milestone_overdue"]
    assert _flags(next_milestone_planned=TODAY) == []
    late = _flags(planned_last_subject_in=dt.date(2026, 5, 1), enrolled=90)
    assert late == ["lsi_passed"]
    assert _flags(planned_last_subject_in=dt.date(2026, 5, 1), enrolled=100) == []
    assert _flags(planned_last_subject_in=dt.date(2026, 5, 1), enrolled=90,
                  actual_last_subject_in=dt.date(2026, 4, 1)) == []


@pytest.mark.django_db
def test_portfolio_api_rows_totals_and_flags(api_client, admin_user, study, sites, make_user):
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_transition

    for status in ("selected", "start_up", "activated"):
        site = StudySite.objects.get(pk=sites[0].pk)
        site_transition(user=admin_user, site=site, status=status, version=site.version, reason="test")
    StudySite.objects.filter(pk=sites[0].pk).update(enrolled_count=7)
    services.study_create(user=admin_user, data={"protocol_number": "LATE-1", "brief_title": "Late",
                                                 "planned_first_site_activated": dt.date(2020, 1, 1)})
    body = api_client(admin_user).get("/api/v1/studies/portfolio").json()
    assert body["count"] == 2
    assert body["totals"] == {"studies": 2, "enrolling": 0, "enrolled": 7, "target": 400, "sites": 3}
    rows = {r["study"]["protocol_number"]: r for r in body["items"]}
    acme = rows["ACME-301"]
    assert acme["enrolled"] == 7 and acme["target"] == 400 and acme["enrollment_pct"] == 2
    assert acme["sites_by_status"] == {"candidate": 2, "activated": 1} and acme["site_count"] == 3
    assert acme["next_milestone"]["key"] == "first_subject_in"
    assert acme["study"]["sponsor"]["name"] == "Acme Pharma"
    assert rows["LATE-1"]["flags"] == ["milestone_overdue"]
    assert rows["LATE-1"]["next_milestone"] == {"key": "first_site_activated", "label": "First site activated",
                                                "planned": "2020-01-01"}
    # Paging keeps the totals of the whole portfolio; filters narrow both.
    page = api_client(admin_user).get("/api/v1/studies/portfolio", {"limit": 1, "offset": 1}).json()
    assert [r["study"]["protocol_number"] for r in page["items"]] == ["LATE-1"] and page["totals"]["studies"] == 2
    narrowed = api_client(admin_user).get("/api/v1/studies/portfolio", {"q": "late"}).json()
    assert narrowed["count"] == 1 and narrowed["totals"]["target"] == 0
    # A user limited to one site sees that site's counts only, and no other study.
    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]], username="coord-portfolio")
    mine = api_client(coordinator).get("/api/v1/studies/portfolio").json()
    assert [r["study"]["protocol_number"] for r in mine["items"]] == ["ACME-301"]
    assert mine["items"][0]["sites_by_status"] == {"candidate": 1} and mine["totals"]["enrolled"] == 0


@pytest.mark.django_db
def test_portfolio_page_shows_health_flags(client, admin_user, cpm):
    services.study_create(user=admin_user, data={"protocol_number": "LATE-1", "brief_title": "Late",
                                                 "planned_first_site_activated": dt.date(2020, 1, 1)})
    client.force_login(cpm)
    html = client.get("/").content.decode()
    assert 'data-flag="milestone_overdue"' in html and "Milestone overdue" in html
