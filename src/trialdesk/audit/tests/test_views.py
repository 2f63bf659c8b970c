"""Audit trail pages: record and study history, filters (htmx and plain), CSV export, access."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from trialdesk.accounts.roles import Role
from trialdesk.sites.services import site_transition, site_update
from trialdesk.studies.services import study_update


@pytest.fixture
def web(client):
    def _as(user):
        client.force_login(user)
        return client

    return _as


def html_of(response) -> str:
    return response.content.decode()


@pytest.fixture
def history(admin_user, cpm, study, sites):
    """Two updates by different people on site 001, one study update."""
    site = sites[0]
    site_update(user=admin_user, site=site, data={"target_enrollment": 25}, version=1, reason="More patients")
    site_transition(user=cpm, site=site, status="selected", version=2, reason="Selected after visit")
    study_update(user=cpm, study=study, data={"acronym": "BREATHE-X"}, version=1, reason="Acronym fix")
    return site


def test_record_history_newest_first_with_old_new_and_reason(web, cpm, history):
    html = html_of(web(cpm).get(f"/audit/sites.studysite/{history.pk}/"))
    table = html.split('data-testid="audit-table"')[1]
    assert table.index("Selected after visit") < table.index("More patients") < table.index("Created")
    assert 'class="change-old">20</span> → <span class="change-new">25</span>' in html
    assert "Cpm Tester" in html and "Admin Tester" in html  # printed names
    assert " UTC</time>" in html
    assert 'data-testid="audit-export"' in html


def test_filters_by_action_user_and_date(web, cpm, history):
    client = web(cpm)
    url = f"/audit/sites.studysite/{history.pk}/"
    by_action = html_of(client.get(url, {"action": "transition"}))
    assert "Selected after visit" in by_action and "More patients" not in by_action
    by_user = client.get(url, {"actor": "admin"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="audit-history")
    text = html_of(by_user)
    assert "<html" not in text and "More patients" in text and "Selected after visit" not in text
    # The export link carries the same filters.
    assert "export.csv?actor=admin" in text
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    assert "No events match" in html_of(client.get(url, {"since": tomorrow}))
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert "More patients" in html_of(client.get(url, {"since": today, "until": today}))
    # Unknown values are ignored rather than failing.
    assert client.get(url, {"action": "nope", "since": "yesterday"}).status_code == 200


def test_record_csv_export(web, cpm, history):
    response = web(cpm).get(f"/audit/sites.studysite/{history.pk}/export.csv", {"action": "update"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["field"], r["old_value"], r["new_value"], r["reason"]) for r in rows] == [
        ("target_enrollment", "20", "25", "More patients")]


def test_study_history_covers_the_whole_study(web, cpm, history, study):
    client = web(cpm)
    html = html_of(client.get(f"/studies/{study.pk}/audit/"))
    assert "Acronym fix" in html and "Selected after visit" in html
    assert "sites.studysite" in html and 'data-testid="tab-audit"' in html
    rows = list(csv.DictReader(io.StringIO(b"".join(
        client.get(f"/studies/{study.pk}/audit/export.csv").streaming_content).decode())))
    assert {"Acronym fix", "Selected after visit", "More patients"} <= {r["reason"] for r in rows}


def test_export_needs_audit_export(web, make_user, study, history):
    cra = make_user(Role.CRA, study=study, sites=[history])
    client = web(cra)
    page = html_of(client.get(f"/audit/sites.studysite/{history.pk}/"))
    assert "More patients" in page and 'data-testid="audit-export"' not in page
    assert client.get(f"/audit/sites.studysite/{history.pk}/export.csv").status_code == 404
    finance = make_user(Role.FINANCE, study=study)
    assert web(finance).get(f"/audit/sites.studysite/{history.pk}/").status_code == 404
    assert web(finance).get(f"/studies/{study.pk}/audit/").status_code == 403
    auditor = make_user(Role.AUDITOR, study=study)
    assert web(auditor).get(f"/studies/{study.pk}/audit/export.csv").status_code == 200


def test_unknown_records_are_not_found(web, admin_user):
    client = web(admin_user)
    assert client.get("/audit/nope.model/1/").status_code == 404
    assert client.get("/audit/studies.study/999999/").status_code == 404
    assert client.get("/audit/studies.study/not-a-number/").status_code == 404


def test_own_activity_page(web, make_user, study):
    user = make_user(Role.VIEWER, study=study)
    client = web(user)
    html = html_of(client.get(f"/audit/accounts.user/{user.pk}/"))
    assert "Created" in html
    other = make_user(Role.VIEWER, study=study)
    assert client.get(f"/audit/accounts.user/{other.pk}/").status_code == 404
