"""Subjects API: screening log, transitions, randomization (blinded users), consent, consent forms, settings,
import and template."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.sites.services import site_delete
from trialdesk.subjects import services
from trialdesk.subjects.models import Subject
from trialdesk.subjects.tests.conftest import activate

V1 = "/api/v1/subjects"


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def patch(client, path, body):
    return client.patch(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def blinded(make_user, study):
    user = make_user(Role.CPM, study=study, username="blinded")
    user.is_blinded = True
    user.save(update_fields=["is_blinded"])
    return user


def test_list_create_and_site_scope(api_client, flow, make_flow, pi, coordinator, admin_user, sites, study):
    flow.new()
    other = activate(admin_user, sites[1])
    make_flow(pi).new(at=other)
    mine = api_client(coordinator)
    body = mine.get(V1, {"study_id": study.pk}).json()
    assert body["count"] == 1 and body["items"][0]["subject_number"] == "001-001"
    everything = api_client(admin_user).get(V1, {"study_id": study.pk, "status": "screened"}).json()
    assert everything["count"] == 2
    assert api_client(admin_user).get(V1, {"q": "002-"}).json()["count"] == 1

    created = post(mine, V1, {"site_id": flow.new().site_id, "status": "pre_screened", "on": "2025-02-01"})
    assert created.status_code == 201, created.content
    out = created.json()
    assert (out["subject_number"], out["status"], out["prescreened_on"]) == ("001-003", "pre_screened", "2025-02-01")
    assert out["allowed_transitions"] == ["consented", "screen_failed", "screened"]
    assert out["randomization"] is None
    hidden = post(mine, V1, {"site_id": other.pk})
    assert hidden.status_code == 422 and "site_id" in hidden.json()["errors"]
    assert post(mine, V1, {"site_id": other.pk, "status": "enrolled"}).status_code == 422
    assert mine.get(f"{V1}/{Subject.objects.get(site=other).pk}").status_code == 404


def test_transition_enrollment_and_errors(api_client, flow, coordinator, make_user, study, site):
    subject = flow.consent(flow.new())
    client = api_client(coordinator)
    url = f"{V1}/{subject.pk}/transition"
    stale = post(client, url, {"status": "enrolled", "version": subject.version - 1, "reason": "x"})
    assert stale.status_code == 409 and "version" in stale.json()["errors"]
    wrong = post(client, url, {"status": "completed", "version": subject.version, "reason": "x"})
    assert wrong.status_code == 409
    assert wrong.json()["detail"].startswith("Cannot change status from Consented to Completed.")
    cra = make_user(Role.CRA, study=study)
    refused = post(client, url, {"status": "enrolled", "on": "2025-02-10", "version": subject.version,
                                 "reason": "eligible", "eligibility_confirmed_by_id": cra.person_id})
    assert refused.status_code == 422
    assert "is not delegated to confirm eligibility" in refused.json()["errors"]["eligibility_confirmed_by"][0]
    ok = post(client, url, {"status": "enrolled", "on": "2025-02-10", "version": subject.version,
                            "reason": "eligible", "eligibility_confirmed_by_id": coordinator.person_id})
    assert ok.status_code == 200, ok.content
    assert ok.json()["status"] == "enrolled" and ok.json()["eligibility_confirmed_by"]["id"] == coordinator.person_id
    site.refresh_from_db()
    assert site.enrolled_count == 1
    assert post(client, url, {"status": "screen_failed", "version": ok.json()["version"], "reason": "x"}) \
        .status_code == 409


def test_randomization_arm_is_hidden_from_blinded_users(api_client, flow, arms, blinded, admin_user, study):
    subject = flow.enrolled()
    resp = post(api_client(flow.user), f"{V1}/{subject.pk}/randomize",
                {"arm_id": arms[1].pk, "randomized_on": "2025-02-11", "stratum": "A", "irt_reference": "R-1",
                 "version": subject.version})
    assert resp.status_code == 201, resp.content
    assert resp.json()["randomization"]["arm"] == {"id": arms[1].pk, "label": "Placebo"}
    assert resp.json()["randomization"]["arm_blinded"] is False

    client = api_client(blinded)
    out = client.get(f"{V1}/{subject.pk}").json()["randomization"]
    assert out["arm"] is None and out["arm_blinded"] is True and out["irt_reference"] == "R-1"
    listed = client.get(V1, {"study_id": study.pk, "status": "randomized"}).json()["items"][0]["randomization"]
    assert listed["arm"] is None
    assert "Placebo" not in client.get(V1, {"study_id": study.pk}).content.decode()

    rid = Subject.objects.get(pk=subject.pk).randomization.pk
    history = client.get(f"/api/v1/audit/records/subjects.randomization/{rid}", {"action": "create"}).json()["items"]
    assert history[0]["changes"]["arm"] == [None, "Blinded"]
    study_trail = client.get(f"/api/v1/audit/studies/{study.pk}", {"limit": 500}).json()["items"]
    assert all(e["changes"].get("arm") in (None, [None, "Blinded"]) for e in study_trail
               if e["record_type"] == "subjects.randomization")
    export = b"".join(client.get(f"/api/v1/audit/records/subjects.randomization/{rid}/export.csv")
                      .streaming_content).decode()
    assert ",arm,,Blinded," in export and f",arm,,{arms[1].pk}," not in export
    unblinded = api_client(admin_user).get(f"/api/v1/audit/records/subjects.randomization/{rid}",
                                           {"action": "create"}).json()
    assert unblinded["items"][0]["changes"]["arm"] == [None, arms[1].pk]
    assert post(client, f"{V1}/{subject.pk}/randomize", {"arm_id": 987654, "version": 1}).status_code == 422


def test_consents_and_consent_forms(api_client, flow, admin_user, study, icf, make_user, protocol):
    subject = flow.new()
    client = api_client(flow.user)
    nurse = make_user(Role.VIEWER, study=study)
    refused = post(client, f"{V1}/{subject.pk}/consents", {"icf_version_id": icf.pk, "consented_on": "2025-02-03",
                                                           "method": "paper", "obtained_by_id": nurse.person_id})
    assert refused.status_code == 422 and "obtained_by" in refused.json()["errors"]
    created = post(client, f"{V1}/{subject.pk}/consents", {"icf_version_id": icf.pk, "consented_on": "2025-02-03",
                                                           "method": "econsent",
                                                           "obtained_by_id": flow.person.pk})
    assert created.status_code == 201, created.content
    assert created.json()["icf_version"] == {"id": icf.pk, "version_number": "1.0"}
    listed = client.get(f"{V1}/{subject.pk}/consents").json()
    assert listed["count"] == 1 and listed["items"][0]["method"] == "econsent"
    assert client.get(f"{V1}/{subject.pk}").json()["status"] == "consented"

    regulatory = api_client(make_user(Role.REGULATORY, study=study))
    new = post(regulatory, f"{V1}/icf-versions", {"study_id": study.pk, "version_number": "2.0",
                                                   "version_date": "2025-03-01", "protocol_version_id": protocol.pk})
    assert new.status_code == 201, new.content
    icf_id, version = new.json()["id"], new.json()["version"]
    assert new.json()["status"] == "draft" and new.json()["scope"] == "all sites"
    no_date = post(regulatory, f"{V1}/icf-versions/{icf_id}/approve", {"version": version})
    assert no_date.status_code == 422 and "irb_approval_date" in no_date.json()["errors"]
    edited = patch(regulatory, f"{V1}/icf-versions/{icf_id}", {"irb_approval_date": "2025-03-10", "version": version,
                                                                "reason": "IRB letter received"})
    assert edited.status_code == 200 and edited.json()["irb_approval_date"] == "2025-03-10"
    approved = post(regulatory, f"{V1}/icf-versions/{icf_id}/approve", {"version": edited.json()["version"]})
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved" and approved.json()["open_reconsents"] == 1
    assert patch(regulatory, f"{V1}/icf-versions/{icf_id}", {"country": "France", "version": 3, "reason": "x"}) \
        .status_code == 409
    forms = regulatory.get(f"{V1}/icf-versions", {"study_id": study.pk}).json()
    assert [(f["version_number"], f["status"]) for f in forms["items"]] == [("2.0", "approved"), ("1.0", "superseded")]
    reconsents = client.get(f"{V1}/reconsents", {"study_id": study.pk, "status": "open"}).json()
    assert [r["subject"]["subject_number"] for r in reconsents["items"]] == [subject.subject_number]
    assert post(client, f"{V1}/icf-versions", {"study_id": study.pk, "version_number": "3",
                                               "version_date": "2025-03-01"}).status_code == 403


def test_settings(api_client, admin_user, coordinator, study):
    got = api_client(coordinator).get(f"{V1}/settings/{study.pk}").json()
    assert got["id_pattern"] == "{site}-{seq:03d}" and got["version"] == 1
    assert len(got["screen_fail_reasons"]) == 5
    assert patch(api_client(coordinator), f"{V1}/settings/{study.pk}",
                 {"no_enrollment_alert_days": 30, "version": 1, "reason": "x"}).status_code == 403
    client = api_client(admin_user)
    bad = patch(client, f"{V1}/settings/{study.pk}", {"id_pattern": "{seq}", "version": 1, "reason": "x"})
    assert bad.status_code == 422 and "must contain {site}" in bad.json()["errors"]["id_pattern"][0]
    ok = patch(client, f"{V1}/settings/{study.pk}", {"id_pattern": "{site}{seq:04d}", "version": 1,
                                                     "reason": "sponsor convention",
                                                     "screen_fail_reasons": [{"code": "other", "label": "Other"}],
                                                     "on_time_probability_threshold": 0.7})
    assert ok.status_code == 200, ok.content
    assert ok.json()["id_pattern"] == "{site}{seq:04d}" and ok.json()["on_time_probability_threshold"] == 0.7
    stale = patch(client, f"{V1}/settings/{study.pk}", {"no_enrollment_alert_days": 10, "version": 1, "reason": "x"})
    assert stale.status_code == 409
    assert patch(client, f"{V1}/settings/{study.pk}", {"on_time_probability_threshold": 2, "version": 2,
                                                       "reason": "x"}).status_code == 422


def test_import_dry_run_commit_and_template(api_client, coordinator, study, site, icf, make_user):
    client = api_client(coordinator)
    csv_bad = b"site_number,status,screened_on\n001,screened,2025-02-30\n999,screened,2025-02-01\n"
    dry = client.post(f"{V1}/import?study_id={study.pk}&dry_run=true",
                      {"file": io.BytesIO(csv_bad)}, format="multipart")
    assert dry.status_code == 200, dry.content
    body = dry.json()
    assert body["dry_run"] is True and body["ok"] is False and body["rows"] == 2
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(2, "screened_on"), (3, "site_number")]
    commit = client.post(f"{V1}/import?study_id={study.pk}", {"file": io.BytesIO(csv_bad)}, format="multipart")
    assert commit.status_code == 422
    assert commit.json()["errors"]["row 2: screened_on"] == ["'2025-02-30' is not a date (YYYY-MM-DD)."]
    assert not Subject.objects.exists()

    good = io.BytesIO(b"site_number,status,screened_on\n001,screened,2025-02-01\n001,screened,2025-02-02\n")
    good.name = "log.csv"
    done = client.post(f"{V1}/import?study_id={study.pk}", {"file": good}, format="multipart")
    assert done.status_code == 201, done.content
    assert [s["subject_number"] for s in done.json()["created"]] == ["001-001", "001-002"]
    assert done.json()["filename"] == "log.csv" and len(done.json()["sha256"]) == 64
    assert AuditEvent.objects.filter(action="import", channel="api").count() == 2

    assert post(client, f"{V1}/import?study_id={study.pk}", {}).status_code == 422
    viewer = api_client(make_user(Role.VIEWER, study=study))
    assert viewer.post(f"{V1}/import?study_id={study.pk}", {"file": io.BytesIO(b"x")},
                       format="multipart").status_code == 403

    template = client.get(f"{V1}/import/template", {"study_id": study.pk, "format": "csv"})
    assert template.status_code == 200 and template["Content-Type"].startswith("text/csv")
    assert template.content.decode().startswith("site_number,subject_number,status,")
    xlsx = client.get(f"{V1}/import/template", {"study_id": study.pk})
    assert xlsx["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames == ["Screening log", "Instructions"]
    assert viewer.get(f"{V1}/import/template", {"study_id": study.pk}).status_code == 403


def test_first_dose_and_delete(api_client, flow, site):
    subject = flow.enrolled()
    client = api_client(flow.user)
    dosed = patch(client, f"{V1}/{subject.pk}", {"first_dose_on": "2025-02-12", "version": subject.version,
                                                  "reason": "dosed"})
    assert dosed.status_code == 200 and dosed.json()["first_dose_on"] == "2025-02-12"
    missing_reason = client.generic("DELETE", f"{V1}/{subject.pk}",
                                    json.dumps({"version": dosed.json()["version"]}), content_type="application/json")
    assert missing_reason.status_code == 422
    deleted = client.generic("DELETE", f"{V1}/{subject.pk}", json.dumps({"version": dosed.json()["version"],
                                                                         "reason": "duplicate"}),
                             content_type="application/json")
    assert deleted.status_code == 200 and deleted.json()["is_deleted"] is True
    site.refresh_from_db()
    assert site.enrolled_count == 0
    assert services.subject_create(user=flow.user, site=site).subject_number == "001-002"


def test_subjects_of_a_deleted_site_are_out_of_view(api_client, flow, admin_user, site, study):
    subject = flow.new()
    site.refresh_from_db()
    site_delete(user=admin_user, site=site, version=site.version, reason="never opened")
    client = api_client(admin_user)
    assert client.get(f"{V1}/{subject.pk}").status_code == 404
    assert client.get(V1, {"study_id": study.pk}).json()["count"] == 0
