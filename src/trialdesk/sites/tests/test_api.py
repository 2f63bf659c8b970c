"""Sites API against the real database: create by ids, field errors, filters, lifecycle, site-limited access."""

from __future__ import annotations

import pytest
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.organizations.services import organization_create, person_create

API = "/api/v1/sites"
JSON = "application/json"


@pytest.fixture
def admin_api(api_client, admin_user):
    return api_client(admin_user)


@pytest.fixture
def institution(admin_user):
    return organization_create(user=admin_user, data={"name": "Karolinska", "kind": "institution",
                                                      "country": "Sweden"})


def test_create_with_ids(admin_api, admin_user, study, institution):
    pi = person_create(user=admin_user, data={"first_name": "Astrid", "last_name": "Lind", "title": "Dr."})
    resp = admin_api.post(API, {"study_id": study.pk, "institution_id": institution.pk, "site_number": "101",
                                "principal_investigator_id": pi.pk, "country": "Sweden", "city": "Stockholm",
                                "latitude": 59.35, "longitude": 18.03, "target_enrollment": 12,
                                "planned_activated": "2026-04-01"}, content_type=JSON)
    assert resp.status_code == 201, resp.json()
    out = resp.json()
    assert out["study"] == {"id": study.pk, "protocol_number": "ACME-301", "acronym": "BREATHE"}
    assert out["institution"] == {"id": institution.pk, "name": "Karolinska"}
    assert out["principal_investigator"] == {"id": pi.pk, "full_name": "Dr. Astrid Lind"}
    assert out["status"] == "candidate" and out["allowed_transitions"] == ["not_selected", "selected"]
    assert out["planned_activated"] == "2026-04-01"
    assert admin_api.get(f"{API}/{out['id']}").json()["latitude"] == 59.35


@pytest.mark.parametrize("body, field", [
    ({"study_id": 987654321}, "study_id"),
    ({"institution_id": 987654321}, "institution_id"),
    ({"principal_investigator_id": 987654321}, "principal_investigator_id"),
    ({"latitude": 91}, "latitude"),
    ({"longitude": -180.5}, "longitude"),
    ({"site_number": "x" * 21}, "site_number"),
    ({"target_enrollment": -3}, "target_enrollment"),
    ({"planned_selected": "yesterday"}, "planned_selected"),
])
def test_bad_input_is_422_naming_the_field(admin_api, study, institution, body, field):
    payload = {"study_id": study.pk, "institution_id": institution.pk, "site_number": "900", **body}
    resp = admin_api.post(API, payload, content_type=JSON)
    assert resp.status_code == 422, resp.content
    assert field in resp.json()["errors"], resp.json()


def test_duplicate_site_number_in_study_is_refused(admin_api, sites, institution, study):
    resp = admin_api.post(API, {"study_id": study.pk, "institution_id": institution.pk, "site_number": "001"},
                          content_type=JSON)
    assert resp.status_code in (409, 422)


def test_list_filters_and_pagination(admin_api, sites, study):
    everything = admin_api.get(API).json()
    assert everything["count"] == 3
    assert [s["site_number"] for s in everything["items"]] == ["001", "002", "003"]
    assert [s["site_number"] for s in admin_api.get(API, {"country": "germany"}).json()["items"]] == ["001"]
    assert admin_api.get(API, {"q": "mayo"}).json()["items"][0]["site_number"] == "002"
    assert admin_api.get(API, {"study_id": study.pk}).json()["count"] == 3
    assert admin_api.get(API, {"study_id": 987654321}).json()["count"] == 0
    assert admin_api.get(API, {"status": "activated"}).json()["count"] == 0
    page = admin_api.get(API, {"limit": 2, "offset": 2}).json()
    assert page["count"] == 3 and [s["site_number"] for s in page["items"]] == ["003"]


def test_update_partial_with_reason_and_stale_version(admin_api, sites):
    site = sites[0]
    resp = admin_api.patch(f"{API}/{site.pk}", {"city": "Berlin", "version": 1, "reason": "Address confirmed"},
                           content_type=JSON)
    assert resp.status_code == 200
    assert resp.json()["city"] == "Berlin" and resp.json()["target_enrollment"] == 20
    stale = admin_api.patch(f"{API}/{site.pk}", {"city": "Bonn", "version": 1, "reason": "again"},
                            content_type=JSON)
    assert stale.status_code == 409 and "version" in stale.json()["errors"]
    event = AuditEvent.objects.filter(record_type="sites.studysite", record_id=str(site.pk), action="update").get()
    assert event.changes == {"city": ["", "Berlin"]} and event.reason == "Address confirmed"


def test_transitions_record_milestones_and_refuse_skips(admin_api, sites):
    site = sites[0]
    resp = admin_api.post(f"{API}/{site.pk}/transition", {"status": "selected", "reason": "SQV passed",
                                                          "version": 1}, content_type=JSON)
    assert resp.status_code == 200
    out = resp.json()
    assert out["status"] == "selected" and out["status_reason"] == "SQV passed"
    assert out["actual_selected"] == timezone.localdate().isoformat()
    assert out["allowed_transitions"] == ["not_selected", "start_up"]
    refused = admin_api.post(f"{API}/{site.pk}/transition", {"status": "enrolling", "reason": "hurry",
                                                             "version": out["version"]}, content_type=JSON)
    assert refused.status_code == 409
    assert "Allowed next: Not selected, Start-up" in refused.json()["detail"]
    unknown = admin_api.post(f"{API}/{site.pk}/transition", {"status": "open", "reason": "r", "version": 2},
                             content_type=JSON)
    assert unknown.status_code == 422 and "status" in unknown.json()["errors"]


def test_soft_delete_hides_site(admin_api, sites):
    resp = admin_api.delete(f"{API}/{sites[1].pk}", {"version": 1, "reason": "Duplicate entry"},
                            content_type=JSON)
    assert resp.status_code == 200 and resp.json()["is_deleted"] is True
    assert admin_api.get(f"{API}/{sites[1].pk}").status_code == 404
    assert [s["site_number"] for s in admin_api.get(API).json()["items"]] == ["001", "003"]


def test_site_limited_cra_sees_and_edits_only_their_sites(api_client, make_user, study, sites):
    cra = api_client(make_user(Role.CRA, study=study, sites=[sites[0]]))
    assert [s["id"] for s in cra.get(API).json()["items"]] == [sites[0].pk]
    assert cra.get(f"{API}/{sites[1].pk}").status_code == 404
    ok = cra.patch(f"{API}/{sites[0].pk}", {"city": "Berlin", "version": 1, "reason": "visit"}, content_type=JSON)
    assert ok.status_code == 200
    # CRAs edit site data but do not move sites through their lifecycle.
    denied = cra.post(f"{API}/{sites[0].pk}/transition", {"status": "selected", "reason": "r", "version": 2},
                      content_type=JSON)
    assert denied.status_code == 403
    hidden = cra.patch(f"{API}/{sites[1].pk}", {"city": "X", "version": 1, "reason": "r"}, content_type=JSON)
    assert hidden.status_code == 404
