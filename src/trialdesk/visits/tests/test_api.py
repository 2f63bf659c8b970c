"""The visits API: schedule editing, visit lists and filters, recording, deviations, the feed URL."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from trialdesk.accounts.roles import Role
from trialdesk.visits import services
from trialdesk.visits.models import SubjectVisit, VisitDefinition

V1 = "/api/v1/visits"
D = dt.date


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def patch(client, path, body):
    return client.patch(path, json.dumps(body), content_type="application/json")


def delete(client, path, body):
    return client.delete(path, json.dumps(body), content_type="application/json")


def test_schedule_crud(api_client, admin_user, make_protocol):
    client = api_client(admin_user)
    pv = make_protocol(approve=False, schedule=[])
    resp = post(client, f"{V1}/definitions", {"protocol_version_id": pv.pk, "code": "V1", "name": "Baseline",
                                              "target_day": 0, "anchor": "randomization", "window_after": 2,
                                              "modality": "remote", "required": False})
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert (body["code"], body["anchor_label"], body["modality_label"], body["required"]) == (
        "V1", "Randomization", "Remote / telemedicine", False)
    listed = client.get(f"{V1}/definitions", {"protocol_version_id": pv.pk}).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == body["id"]
    resp = patch(client, f"{V1}/definitions/{body['id']}", {"window_before": 1, "version": 1})
    assert resp.status_code == 422 and "reason" in resp.json()["errors"]
    resp = patch(client, f"{V1}/definitions/{body['id']}", {"window_before": 1, "version": 1, "reason": "Fix"})
    assert resp.status_code == 200 and resp.json()["window_before"] == 1 and resp.json()["version"] == 2
    resp = patch(client, f"{V1}/definitions/{body['id']}", {"window_before": 2, "version": 1, "reason": "Fix"})
    assert resp.status_code == 409
    resp = delete(client, f"{V1}/definitions/{body['id']}", {"version": 2, "reason": "Not needed"})
    assert resp.status_code == 200 and resp.json()["is_deleted"] is True
    assert client.get(f"{V1}/definitions/{body['id']}").status_code == 404


def test_bad_definition_input_is_a_field_error(api_client, admin_user, make_protocol):
    client = api_client(admin_user)
    pv = make_protocol(approve=False)
    for body, field in [
        ({"protocol_version_id": pv.pk, "code": "V1", "name": "Dup", "target_day": 0}, "code"),
        ({"protocol_version_id": pv.pk, "code": "V9", "name": "X", "target_day": 9999}, "target_day"),
        ({"protocol_version_id": pv.pk, "code": "V9", "name": "X", "target_day": 1, "modality": "fax"}, "modality"),
        ({"protocol_version_id": 10**12, "code": "V9", "name": "X", "target_day": 1}, "protocol_version_id"),
    ]:
        resp = post(client, f"{V1}/definitions", body)
        assert resp.status_code == 422, (body, resp.content)
        assert field in resp.json()["errors"], resp.json()


def test_approved_schedule_is_refused_with_a_clear_message(api_client, admin_user, protocol):
    client = api_client(admin_user)
    resp = post(client, f"{V1}/definitions", {"protocol_version_id": protocol.pk, "code": "V9", "name": "X",
                                              "target_day": 1})
    assert resp.status_code == 422
    assert "part of the approved protocol" in resp.json()["detail"]
    assert "protocol_version" in resp.json()["errors"]


def test_copy(api_client, admin_user, protocol, make_protocol):
    client = api_client(admin_user)
    draft = make_protocol("2.0", schedule=[], approve=False)
    resp = post(client, f"{V1}/definitions/copy", {"source_protocol_version_id": protocol.pk,
                                                   "target_protocol_version_id": draft.pk})
    assert resp.status_code == 201 and resp.json()["count"] == 5
    assert VisitDefinition.objects.filter(protocol_version=draft).count() == 5
    resp = post(client, f"{V1}/definitions/copy", {"source_protocol_version_id": protocol.pk,
                                                   "target_protocol_version_id": draft.pk})
    assert resp.status_code == 409


@pytest.fixture
def planned(admin_user, protocol, make_subject, sites):
    """Two subjects at sites 001 and 002, randomized; their visits planned."""
    out = []
    for site in sites[:2]:
        subject = make_subject(site=site, randomized_on=D(2025, 3, 5))
        services.subject_visits_generate(user=admin_user, subject=subject)
        out.append(subject)
    return out


def test_visit_list_filters_and_site_scope(api_client, admin_user, make_user, study, sites, planned):
    client = api_client(admin_user)
    body = client.get(f"{V1}/subject-visits", {"study_id": study.pk}).json()
    assert body["count"] == 8
    item = body["items"][0]
    assert {"planned_on", "window_start", "window_end", "actual_on", "modality", "status", "out_of_window",
            "subject_number", "site_number", "definition"} <= set(item)
    assert client.get(f"{V1}/subject-visits", {"site_id": sites[0].pk}).json()["count"] == 4
    assert client.get(f"{V1}/subject-visits", {"subject_id": planned[1].pk}).json()["count"] == 4
    window = client.get(f"{V1}/subject-visits", {"from": "2025-03-10", "to": "2025-03-31"}).json()
    assert {i["definition"]["code"] for i in window["items"]} == {"V2"}
    assert client.get(f"{V1}/subject-visits", {"modality": "home"}).json()["count"] == 2
    assert client.get(f"{V1}/subject-visits", {"out_of_window": "true"}).json()["count"] == 0
    assert client.get(f"{V1}/subject-visits", {"status": "nonsense"}).status_code == 422
    coordinator = api_client(make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]]))
    mine = coordinator.get(f"{V1}/subject-visits").json()
    assert mine["count"] == 4 and {i["site_id"] for i in mine["items"]} == {sites[1].pk}
    other_visit = SubjectVisit.objects.filter(site=sites[0]).first()
    assert coordinator.get(f"{V1}/subject-visits/{other_visit.pk}").status_code == 404


def test_record_and_deviations(api_client, admin_user, make_user, study, sites, planned):
    v3 = SubjectVisit.objects.get(subject=planned[0], definition__code="V3")
    client = api_client(admin_user)
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    resp = post(client, f"{V1}/subject-visits/{v3.pk}/record", {"actual_on": future, "version": 1})
    assert resp.status_code == 422 and "actual_on" in resp.json()["errors"]
    resp = post(client, f"{V1}/subject-visits/{v3.pk}/record", {"actual_on": "2025-04-10", "version": 1,
                                                                 "modality": "remote", "notes": "Video call"})
    assert resp.status_code == 200, resp.content
    assert (resp.json()["status"], resp.json()["out_of_window"], resp.json()["modality"]) == ("completed", True,
                                                                                              "remote")
    v2 = SubjectVisit.objects.get(subject=planned[1], definition__code="V2")
    resp = post(client, f"{V1}/subject-visits/{v2.pk}/mark-missed", {"version": 1})
    assert resp.status_code == 422 and "reason" in resp.json()["errors"]
    resp = post(client, f"{V1}/subject-visits/{v2.pk}/mark-missed", {"version": 1, "reason": "Did not attend"})
    assert resp.status_code == 200 and resp.json()["status"] == "missed"
    resp = post(client, f"{V1}/subject-visits/{v2.pk}/mark-missed", {"version": 2, "reason": "Again"})
    assert resp.status_code == 409
    devs = client.get(f"{V1}/deviations", {"study_id": study.pk}).json()
    assert {(i["id"], i["deviation"]) for i in devs["items"]} == {(v3.pk, "out_of_window"), (v2.pk, "missed")}
    assert client.get(f"{V1}/deviations", {"site_id": sites[1].pk}).json()["count"] == 1
    cra = api_client(make_user(Role.CRA, study=study, sites=[sites[0]]))
    assert cra.get(f"{V1}/deviations").json()["count"] == 1
    resp = post(cra, f"{V1}/subject-visits/{v2.pk}/record", {"actual_on": "2025-03-19", "version": 2})
    assert resp.status_code == 404   # not their site: the visit does not exist for them
    v1 = SubjectVisit.objects.get(subject=planned[0], definition__code="V1")
    resp = post(cra, f"{V1}/subject-visits/{v1.pk}/record", {"actual_on": "2025-03-03", "version": 1})
    assert resp.status_code == 403   # their site, but monitors do not record visits


def test_feed_url(api_client, admin_user, planned):
    resp = api_client(admin_user).get(f"{V1}/feed")
    assert resp.status_code == 200
    url = resp.json()["url"]
    assert url.startswith("http://testserver/visits/feed/") and url.endswith(".ics")
    from django.test import Client

    feed = Client().get(url.removeprefix("http://testserver"))
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
