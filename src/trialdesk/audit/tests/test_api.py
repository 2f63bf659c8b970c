"""Audit API: record and study history with filters, CSV export, chain verification, and who may read them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.studies.services import study_transition, study_update

API = "/api/v1/audit"
JSON = "application/json"


@pytest.fixture
def history(study, admin_user, sites):
    """The study edited twice and transitioned; a site edited."""
    study_update(user=admin_user, study=study, data={"acronym": "BREATHE-2"}, version=1, reason="Rename")
    study_update(user=admin_user, study=study, data={"planned_enrollment": 450}, version=2,
                 reason="Sample size re-estimation")
    study_transition(user=admin_user, study=study, status="start_up", version=3, reason="Protocol final")
    from trialdesk.sites.services import site_update

    site_update(user=admin_user, site=sites[0], data={"city": "Berlin"}, version=1, reason="Address")
    return study


def _csv_rows(resp) -> list[dict]:
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"].startswith("text/csv")
    assert "attachment" in resp["Content-Disposition"]
    text = b"".join(resp.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_record_history_newest_first_with_changes_and_reasons(api_client, admin_user, history):
    resp = api_client(admin_user).get(f"{API}/records/studies.study/{history.pk}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["count"] == 4
    assert [e["action"] for e in body["items"]] == ["transition", "update", "update", "create"]
    transition, enrollment, rename, _created = body["items"]
    assert transition["changes"] == {"status": ["planning", "start_up"]}
    assert transition["reason"] == "Protocol final" and transition["action_label"] == "Status changed"
    assert enrollment["changes"] == {"planned_enrollment": [400, 450]}
    assert rename["changes"] == {"acronym": ["BREATHE", "BREATHE-2"]} and rename["reason"] == "Rename"
    assert rename["actor_username"] == "admin" and rename["actor_name"] == "Admin Tester"
    assert len(rename["hash"]) == 64 and rename["study_id"] == history.pk


def test_record_history_filters_and_pagination(api_client, admin_user, history):
    client = api_client(admin_user)
    url = f"{API}/records/studies.study/{history.pk}"
    assert client.get(url, {"action": "update"}).json()["count"] == 2
    assert [e["reason"] for e in client.get(url, {"q": "sample size"}).json()["items"]] == \
        ["Sample size re-estimation"]
    assert client.get(url, {"actor": "admin"}).json()["count"] == 4
    assert client.get(url, {"actor": "nobody"}).json()["count"] == 0
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert client.get(url, {"since": future}).json()["count"] == 0
    assert client.get(url, {"until": future}).json()["count"] == 4
    page = client.get(url, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 4 and [e["action"] for e in page["items"]] == ["update"]
    assert client.get(url, {"action": "bogus"}).status_code == 422
    assert client.get(url, {"since": "yesterday"}).status_code == 422
    # Valid ISO times that leave the calendar once converted to UTC are input errors, not crashes.
    assert client.get(url, {"since": "0001-01-01T00:00:00+01:00"}).status_code == 422
    assert client.get(url, {"until": "9999-12-31T23:59:59-01:00"}).status_code == 422
    # A time without offset is read as UTC.
    assert client.get(url, {"until": "2000-01-01T00:00:00"}).json()["count"] == 0


def test_study_history_covers_the_whole_study(api_client, admin_user, history, sites):
    body = api_client(admin_user).get(f"{API}/studies/{history.pk}", {"limit": 500}).json()
    record_types = {e["record_type"] for e in body["items"]}
    assert {"studies.study", "sites.studysite"} <= record_types
    assert any(e["changes"] == {"city": ["", "Berlin"]} for e in body["items"])


def test_csv_exports(api_client, admin_user, history):
    client = api_client(admin_user)
    rows = _csv_rows(client.get(f"{API}/records/studies.study/{history.pk}/export.csv"))
    rename = next(r for r in rows if r["field"] == "acronym")
    assert rename["old_value"] == "BREATHE" and rename["new_value"] == "BREATHE-2"
    assert rename["reason"] == "Rename" and rename["action"] == "update" and rename["actor_username"] == "admin"
    assert rename["occurred_at_utc"].endswith("+00:00")
    filtered = _csv_rows(client.get(f"{API}/records/studies.study/{history.pk}/export.csv",
                                    {"action": "transition"}))
    assert [(r["field"], r["old_value"], r["new_value"]) for r in filtered] == [("status", "planning", "start_up")]
    study_rows = _csv_rows(client.get(f"{API}/studies/{history.pk}/export.csv", {"q": "address"}))
    assert [(r["record_type"], r["field"], r["new_value"]) for r in study_rows] == [
        ("sites.studysite", "city", "Berlin")]
    # Every export is itself audited: who took a copy of what, with which filters.
    exports = AuditEvent.objects.filter(action="export").order_by("seq")
    assert [e.actor_username for e in exports] == ["admin"] * 3
    assert exports.last().study_id == history.pk and exports.last().changes == {"filters": {"q": "address"}}
    assert exports.last().record_label.startswith(f"audit-study-{history.pk}-")


def test_unknown_record_is_404(api_client, admin_user, db):
    client = api_client(admin_user)
    assert client.get(f"{API}/records/studies.study/987654321").status_code == 404
    assert client.get(f"{API}/records/nothing.here/1").status_code == 404
    assert client.get(f"{API}/records/not-a-type/1").status_code == 422


def test_who_may_read_and_export(api_client, make_user, history, sites):
    study_url = f"{API}/studies/{history.pk}"
    record_url = f"{API}/records/studies.study/{history.pk}"
    viewer = api_client(make_user(Role.VIEWER, study=history))
    assert viewer.get(record_url).status_code == 404          # no audit.view: as if it did not exist
    cra = api_client(make_user(Role.CRA, study=history, sites=[sites[0]]))
    assert cra.get(record_url).status_code == 200
    assert cra.get(study_url).status_code == 403              # site-limited: not the whole study's trail
    assert cra.get(f"{record_url}/export.csv").status_code == 403  # audit.view without audit.export
    auditor = api_client(make_user(Role.AUDITOR, study=history))
    assert auditor.get(study_url).status_code == 200
    assert _csv_rows(auditor.get(f"{study_url}/export.csv"))
    outsider = api_client(make_user(Role.AUDITOR, study=None))
    assert outsider.get(study_url).status_code == 200          # portfolio-wide auditor


def test_verify(api_client, make_user, admin_user, history):
    resp = api_client(make_user(Role.AUDITOR)).get(f"{API}/verify")
    assert resp.status_code == 200
    body = resp.json()
    assert body["ok"] is True and body["failure"] is None and body["checked"] >= 10
    study_auditor = api_client(make_user(Role.AUDITOR, study=history))
    assert study_auditor.get(f"{API}/verify").status_code == 403


def test_verify_reports_a_broken_chain(api_client, admin_user, history):
    from django.db.models import F

    from trialdesk.audit.models import AuditChainHead

    client = api_client(admin_user)
    # Events cannot be altered (triggers); a head that claims more events than exist is how removal shows.
    AuditChainHead.objects.filter(id=1).update(seq=F("seq") + 1)
    body = client.get(f"{API}/verify").json()
    assert body["ok"] is False
    assert "events removed" in body["failure"]["problem"]
