"""Studies API against the real database: CRUD with reasons, optimistic locking, field errors,
lifecycle transitions, protocol approval by e-signature, arms and interventions."""

from __future__ import annotations

import pytest

from conftest import PASSWORD
from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.organizations.services import organization_create

API = "/api/v1/studies"
JSON = "application/json"


@pytest.fixture
def admin_api(api_client, admin_user):
    return api_client(admin_user)


def _create(client, **fields):
    body = {"protocol_number": "P-1", "brief_title": "A study", **fields}
    resp = client.post(API, body, content_type=JSON)
    assert resp.status_code == 201, resp.json()
    return resp.json()


def test_create_resolves_ids_and_returns_nested_summaries(admin_api, admin_user, sponsor):
    cro = organization_create(user=admin_user, data={"name": "Fast CRO", "kind": "cro"})
    out = _create(admin_api, sponsor_id=sponsor.pk, collaborator_ids=[cro.pk], phases=["PHASE2", "PHASE3"],
                  nct_id="NCT01234567", planned_first_subject_in="2026-05-01", conditions=["Asthma"])
    assert out["sponsor"] == {"id": sponsor.pk, "name": "Acme Pharma"}
    assert out["collaborators"] == [{"id": cro.pk, "name": "Fast CRO"}]
    assert out["phases"] == ["PHASE2", "PHASE3"]
    assert out["status"] == "planning" and out["status_label"] == "Planning"
    assert out["allowed_transitions"] == ["on_hold", "start_up", "withdrawn"]
    assert out["version"] == 1
    assert out["planned_first_subject_in"] == "2026-05-01"
    got = admin_api.get(f"{API}/{out['id']}").json()
    assert got["nct_id"] == "NCT01234567" and got["conditions"] == ["Asthma"]


def test_partial_update_changes_only_sent_fields_and_is_audited_with_reason(admin_api, study):
    resp = admin_api.patch(f"{API}/{study.pk}", {"acronym": "BREATHE-2", "version": 1,
                                                  "reason": "Sponsor renamed the programme"}, content_type=JSON)
    assert resp.status_code == 200, resp.json()
    out = resp.json()
    assert out["acronym"] == "BREATHE-2" and out["version"] == 2
    # fields not sent keep their values
    assert out["brief_title"] == study.brief_title and out["planned_enrollment"] == 400
    assert out["sponsor"]["name"] == "Acme Pharma"
    event = AuditEvent.objects.filter(record_type="studies.study", record_id=str(study.pk)).order_by("-seq")[0]
    assert event.action == "update"
    assert event.changes == {"acronym": ["BREATHE", "BREATHE-2"]}
    assert event.reason == "Sponsor renamed the programme"
    assert event.channel == "api"


def test_update_without_reason_is_a_field_error(admin_api, study):
    resp = admin_api.patch(f"{API}/{study.pk}", {"acronym": "X", "version": 1}, content_type=JSON)
    assert resp.status_code == 422
    assert "reason" in resp.json()["errors"]


def test_stale_version_is_409(admin_api, study):
    first = admin_api.patch(f"{API}/{study.pk}", {"acronym": "A", "version": 1, "reason": "first"},
                            content_type=JSON)
    assert first.status_code == 200
    resp = admin_api.patch(f"{API}/{study.pk}", {"acronym": "B", "version": 1, "reason": "second"},
                           content_type=JSON)
    assert resp.status_code == 409
    body = resp.json()
    assert "changed by someone else" in body["detail"]
    assert "version" in body["errors"]


def test_version_is_required_on_update(admin_api, study):
    resp = admin_api.patch(f"{API}/{study.pk}", {"acronym": "A", "reason": "x"}, content_type=JSON)
    assert resp.status_code == 422
    assert "version" in resp.json()["errors"]


@pytest.mark.parametrize("body, field", [
    ({"brief_title": "x" * 501}, "brief_title"),
    ({"brief_title": ""}, "brief_title"),
    ({"phases": ["PHASE9"]}, "phases.0"),
    ({"nct_id": "NCT123"}, "nct_id"),
    ({"planned_enrollment": -1}, "planned_enrollment"),
    ({"planned_first_subject_in": "2026-02-30"}, "planned_first_subject_in"),
    ({"sponsor_id": 987654321}, "sponsor_id"),
    ({"collaborator_ids": [987654321]}, "collaborator_ids"),
    ({"acronym": "nul\x00byte"}, "acronym"),
    ({"protocol_number": "ACME\n302"}, "protocol_number"),
    ({"summary": "nul\x00byte"}, "summary"),
    ({"registry_start_date": "2015-13"}, "registry_start_date"),
    ({"study_type": "RANDOM"}, "study_type"),
])
def test_bad_input_is_422_naming_the_field(admin_api, body, field):
    resp = admin_api.post(API, {"protocol_number": "P-9", "brief_title": "t", **body}, content_type=JSON)
    assert resp.status_code == 422, resp.content
    assert field in resp.json()["errors"], resp.json()


def test_multi_line_text_keeps_its_line_breaks(admin_api):
    out = _create(admin_api, summary="Line one.\nLine two.", eligibility_criteria="Inclusion:\n\t* adults")
    assert out["summary"] == "Line one.\nLine two."
    assert out["eligibility_criteria"] == "Inclusion:\n\t* adults"


def test_duplicate_protocol_number_is_refused(admin_api, study):
    resp = admin_api.post(API, {"protocol_number": "ACME-301", "brief_title": "Dup"}, content_type=JSON)
    assert resp.status_code == 422
    assert "protocol_number" in resp.json()["errors"]


def test_list_filters_and_pagination(admin_api, study):
    _create(admin_api, protocol_number="ONC-101", brief_title="Oncology first-in-human", phases=["PHASE1"],
            nct_id="NCT00000101")
    _create(admin_api, protocol_number="ONC-102", brief_title="Oncology early", phases=["EARLY_PHASE1"])
    everything = admin_api.get(API).json()
    assert everything["count"] == 3
    assert [s["protocol_number"] for s in everything["items"]] == ["ACME-301", "ONC-101", "ONC-102"]
    # PHASE1 must not match EARLY_PHASE1
    assert [s["protocol_number"] for s in admin_api.get(API, {"phase": "PHASE1"}).json()["items"]] == ["ONC-101"]
    assert admin_api.get(API, {"nct_id": "nct00000101"}).json()["count"] == 1
    assert admin_api.get(API, {"q": "oncology"}).json()["count"] == 2
    assert admin_api.get(API, {"status": "enrolling"}).json()["count"] == 0
    page = admin_api.get(API, {"limit": 1, "offset": 1}).json()
    assert page["count"] == 3 and [s["protocol_number"] for s in page["items"]] == ["ONC-101"]
    assert admin_api.get(API, {"limit": 0}).status_code == 422
    assert admin_api.get(API, {"limit": 501}).status_code == 422
    assert admin_api.get(API, {"offset": -1}).status_code == 422
    assert admin_api.get(API, {"status": "bogus"}).status_code == 422


def test_transitions_allowed_and_refused(admin_api, study):
    resp = admin_api.post(f"{API}/{study.pk}/transition",
                          {"status": "start_up", "reason": "Protocol final", "version": 1}, content_type=JSON)
    assert resp.status_code == 200
    out = resp.json()
    assert out["status"] == "start_up" and out["version"] == 2
    assert out["allowed_transitions"] == ["enrolling", "on_hold", "terminated", "withdrawn"]
    refused = admin_api.post(f"{API}/{study.pk}/transition",
                             {"status": "completed", "reason": "skip ahead", "version": 2}, content_type=JSON)
    assert refused.status_code == 409
    assert "Cannot change status from Start-up to Completed" in refused.json()["detail"]
    assert "status" in refused.json()["errors"]
    no_reason = admin_api.post(f"{API}/{study.pk}/transition", {"status": "enrolling", "version": 2},
                               content_type=JSON)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["errors"]
    event = AuditEvent.objects.filter(record_id=str(study.pk), action="transition").get()
    assert event.changes == {"status": ["planning", "start_up"]} and event.reason == "Protocol final"


def test_soft_delete_returns_record_and_hides_it(admin_api, study):
    no_reason = admin_api.delete(f"{API}/{study.pk}", {"version": 1}, content_type=JSON)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["errors"]
    resp = admin_api.delete(f"{API}/{study.pk}", {"version": 1, "reason": "Entered in error"}, content_type=JSON)
    assert resp.status_code == 200
    assert resp.json()["is_deleted"] is True and resp.json()["deleted_reason"] == "Entered in error"
    assert admin_api.get(f"{API}/{study.pk}").status_code == 404
    assert admin_api.get(API).json()["count"] == 0


def test_roles_and_scope(api_client, make_user, study, admin_user):
    other = _create(api_client(admin_user), protocol_number="OTHER-1", brief_title="Other")
    viewer = api_client(make_user(Role.VIEWER, study=study))
    assert viewer.get(f"{API}/{study.pk}").status_code == 200
    assert viewer.get(f"{API}/{other['id']}").status_code == 404
    assert [s["id"] for s in viewer.get(API).json()["items"]] == [study.pk]
    denied = viewer.patch(f"{API}/{study.pk}", {"acronym": "X", "version": 1, "reason": "r"}, content_type=JSON)
    assert denied.status_code == 403 and "study.edit" in denied.json()["detail"]
    assert viewer.post(API, {"protocol_number": "V-1", "brief_title": "t"}, content_type=JSON).status_code == 403


def test_anonymous_is_401(client, study):
    resp = client.get(f"{API}/{study.pk}")
    assert resp.status_code == 401
    assert "Authentication required" in resp.json()["detail"]


# --- Protocol versions -----------------------------------------------------------------

def _new_pv(client, study, number="1.0", **extra):
    resp = client.post(f"{API}/{study.pk}/protocol-versions",
                       {"version_number": number, "version_date": "2026-01-15", **extra}, content_type=JSON)
    assert resp.status_code == 201, resp.json()
    return resp.json()


def test_protocol_approval_by_signature(admin_api, study):
    pv = _new_pv(admin_api, study)
    assert pv["status"] == "draft" and pv["signatures"] == []
    url = f"{API}/protocol-versions/{pv['id']}/approve"

    wrong = admin_api.post(url, {"password": "not-my-password", "version": 1}, content_type=JSON)
    assert wrong.status_code == 422 and "password" in wrong.json()["errors"]
    failed = AuditEvent.objects.filter(action="signature_failed", record_id=str(pv["id"])).get()
    assert failed.actor_username == "admin" and failed.record_type == "studies.protocolversion"
    assert admin_api.get(f"{API}/protocol-versions/{pv['id']}").json()["status"] == "draft"

    ok = admin_api.post(url, {"password": PASSWORD, "comment": "Approved for submission", "version": 1},
                        content_type=JSON)
    assert ok.status_code == 200, ok.json()
    out = ok.json()
    assert out["status"] == "approved" and out["approved_at"]
    [sig] = out["signatures"]
    assert sig["printed_name"] == "Admin Tester"
    assert sig["meaning"] == "approved" and sig["meaning_label"] == "Approved"
    assert sig["signed_at"].endswith("Z") or sig["signed_at"].endswith("+00:00")
    assert sig["matches"] is True and sig["valid"] is True
    assert sig["comment"] == "Approved for submission"
    assert out["approval_signature_id"] == sig["id"]

    # A second approval attempt is refused: only drafts can be approved.
    again = admin_api.post(url, {"password": PASSWORD, "version": out["version"]}, content_type=JSON)
    assert again.status_code == 409

    # Editing the approved content sends it back to draft; the old signature no longer matches.
    edited = admin_api.patch(f"{API}/protocol-versions/{pv['id']}",
                             {"summary_of_changes": "Typo fixed", "version": out["version"], "reason": "typo"},
                             content_type=JSON).json()
    assert edited["status"] == "draft"
    assert edited["signatures"][0]["matches"] is False and edited["signatures"][0]["valid"] is False


def test_approving_an_amendment_supersedes_the_previous_version(admin_api, study):
    first = _new_pv(admin_api, study, "1.0")
    admin_api.post(f"{API}/protocol-versions/{first['id']}/approve", {"password": PASSWORD, "version": 1},
                   content_type=JSON)
    second = _new_pv(admin_api, study, "2.0", amendment_number=1, summary_of_changes="New arm")
    assert second["is_amendment"] is True
    admin_api.post(f"{API}/protocol-versions/{second['id']}/approve", {"password": PASSWORD, "version": 1},
                   content_type=JSON)
    listed = admin_api.get(f"{API}/{study.pk}/protocol-versions").json()
    assert listed["count"] == 2
    assert {pv["version_number"]: pv["status"] for pv in listed["items"]} == {"1.0": "superseded",
                                                                              "2.0": "approved"}


def test_protocol_version_field_errors_and_draft_only_delete(admin_api, study):
    bad = admin_api.post(f"{API}/{study.pk}/protocol-versions",
                         {"version_number": "1.0", "version_date": "not a date", "amendment_number": 0},
                         content_type=JSON)
    assert bad.status_code == 422
    assert {"version_date", "amendment_number"} <= set(bad.json()["errors"])
    pv = _new_pv(admin_api, study)
    dup = admin_api.post(f"{API}/{study.pk}/protocol-versions",
                         {"version_number": "1.0", "version_date": "2026-02-01"}, content_type=JSON)
    assert dup.status_code in (409, 422)
    admin_api.post(f"{API}/protocol-versions/{pv['id']}/approve", {"password": PASSWORD, "version": 1},
                   content_type=JSON)
    refused = admin_api.delete(f"{API}/protocol-versions/{pv['id']}", {"version": 2, "reason": "r"},
                               content_type=JSON)
    assert refused.status_code == 422 and "status" in refused.json()["errors"]
    draft = _new_pv(admin_api, study, "3.0")
    deleted = admin_api.delete(f"{API}/protocol-versions/{draft['id']}", {"version": 1, "reason": "duplicate"},
                               content_type=JSON)
    assert deleted.status_code == 200 and deleted.json()["is_deleted"] is True
    assert admin_api.get(f"{API}/{study.pk}/protocol-versions").json()["count"] == 1


def test_regulatory_edits_but_cannot_approve(api_client, make_user, study):
    regulatory = api_client(make_user(Role.REGULATORY, study=study))
    pv = _new_pv(regulatory, study)
    resp = regulatory.post(f"{API}/protocol-versions/{pv['id']}/approve", {"password": PASSWORD, "version": 1},
                           content_type=JSON)
    assert resp.status_code == 403


# --- Arms and interventions --------------------------------------------------------------

def test_arms_and_interventions(admin_api, study, admin_user):
    arm = admin_api.post(f"{API}/{study.pk}/arms", {"label": "Acmeximab 10 mg", "arm_type": "EXPERIMENTAL"},
                         content_type=JSON)
    assert arm.status_code == 201
    arm = arm.json()
    placebo = admin_api.post(f"{API}/{study.pk}/arms", {"label": "Placebo"}, content_type=JSON).json()
    dup = admin_api.post(f"{API}/{study.pk}/arms", {"label": "Placebo"}, content_type=JSON)
    assert dup.status_code in (409, 422)

    drug = admin_api.post(f"{API}/{study.pk}/interventions",
                          {"name": "Acmeximab", "kind": "DRUG", "arm_ids": [arm["id"]], "other_names": ["ACX-1"]},
                          content_type=JSON)
    assert drug.status_code == 201, drug.json()
    drug = drug.json()
    assert drug["arm_ids"] == [arm["id"]] and drug["other_names"] == ["ACX-1"]

    # Arms of another study are refused with a field error.
    from trialdesk.studies.services import arm_create, study_create

    other = study_create(user=admin_user, data={"protocol_number": "O-1", "brief_title": "Other"})
    foreign = arm_create(user=admin_user, study=other, data={"label": "Foreign"})
    bad = admin_api.patch(f"{API}/interventions/{drug['id']}",
                          {"arm_ids": [foreign.pk], "version": 1, "reason": "r"}, content_type=JSON)
    assert bad.status_code == 422 and "arms" in bad.json()["errors"]

    both = admin_api.patch(f"{API}/interventions/{drug['id']}",
                           {"arm_ids": [arm["id"], placebo["id"]], "version": 1, "reason": "Given in both arms"},
                           content_type=JSON)
    assert both.status_code == 200 and both.json()["arm_ids"] == sorted([arm["id"], placebo["id"]])
    assert both.json()["name"] == "Acmeximab"

    renamed = admin_api.patch(f"{API}/arms/{arm['id']}", {"label": "Acmeximab 20 mg", "version": 1,
                                                          "reason": "Dose changed"}, content_type=JSON)
    assert renamed.status_code == 200 and renamed.json()["label"] == "Acmeximab 20 mg"
    assert admin_api.get(f"{API}/{study.pk}/arms").json()["count"] == 2
    gone = admin_api.delete(f"{API}/arms/{placebo['id']}", {"version": 1, "reason": "Arm dropped"},
                            content_type=JSON)
    assert gone.status_code == 200
    assert [a["label"] for a in admin_api.get(f"{API}/{study.pk}/arms").json()["items"]] == ["Acmeximab 20 mg"]
    assert admin_api.get(f"{API}/arms/{placebo['id']}").status_code == 404
    assert admin_api.get(f"{API}/{study.pk}/interventions").json()["items"][0]["arm_ids"] == [arm["id"]]
    deleted = admin_api.delete(f"{API}/interventions/{drug['id']}", {"version": 2, "reason": "Entered twice"},
                               content_type=JSON)
    assert deleted.status_code == 200
    assert admin_api.get(f"{API}/{study.pk}/interventions").json()["count"] == 0
