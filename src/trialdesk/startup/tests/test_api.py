"""The start-up API end to end: questionnaire, answers, ranking, decision, template, milestones, tracker."""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone

from trialdesk.accounts.roles import Role

V1 = "/api/v1/startup"


def _send(client, method: str, path: str, body: dict | None = None):
    response = client.generic(method, path, json.dumps(body or {}), content_type="application/json")
    return response.status_code, response.json()


def test_questionnaire_answers_submit_and_ranking(api_client, cpm, coordinator, study, sites):
    api = api_client(cpm)
    status, q1 = _send(api, "POST", f"{V1}/studies/{study.pk}/questions", {
        "text": "Do you have a -80 °C freezer?", "kind": "yes_no", "preferred_answer": "yes", "weight": 2,
        "required": True})
    assert status == 201 and q1["weight"] == 2.0 and q1["order"] == 10
    status, q2 = _send(api, "POST", f"{V1}/studies/{study.pk}/questions", {
        "text": "Competing studies?", "kind": "choice",
        "choices": [{"label": "None", "score": 1}, {"label": "Several", "score": 0}]})
    assert status == 201 and q2["choices"][1] == {"label": "Several", "score": 0.0}
    status, body = _send(api, "POST", f"{V1}/studies/{study.pk}/questions", {"text": "Q", "kind": "choice",
                                                                              "choices": [{"label": "A"}]})
    assert status == 422 and body["errors"]["choices"] == ["Give at least two options."]
    listed = api.get(f"{V1}/studies/{study.pk}/questions").json()
    assert [q["id"] for q in listed] == [q1["id"], q2["id"]]

    site = api_client(coordinator)
    status, body = _send(site, "POST", f"{V1}/sites/{sites[0].pk}/feasibility/answers", {
        "answers": [{"question_id": q1["id"], "value": "maybe"}], "version": 0})
    assert status == 422 and body["errors"] == {f"q_{q1['id']}": ["Answer yes or no."]}
    status, body = _send(site, "POST", f"{V1}/sites/{sites[0].pk}/feasibility/answers", {
        "answers": [{"question_id": q1["id"], "value": True}, {"question_id": q2["id"], "value": "Several"}],
        "version": 0})
    assert status == 200 and body["status"] == "in_progress" and body["score"] == round(200 / 3, 1)
    assert [a["value"] for a in body["answers"]] == ["yes", "Several"]
    status, _ = _send(site, "POST", f"{V1}/sites/{sites[1].pk}/feasibility/answers", {
        "answers": [{"question_id": q1["id"], "value": "yes"}], "version": 0})
    assert status == 404  # not the coordinator's site
    status, body = _send(site, "POST", f"{V1}/sites/{sites[0].pk}/feasibility/submit", {"version": body["version"]})
    assert status == 200 and body["status"] == "submitted" and body["submitted_by"]

    _send(api, "POST", f"{V1}/sites/{sites[1].pk}/feasibility/answers",
          {"answers": [{"question_id": q1["id"], "value": "yes"}, {"question_id": q2["id"], "value": "None"}]})
    ranking = api.get(f"{V1}/studies/{study.pk}/ranking").json()
    assert [(r["rank"], r["site"]["site_number"]) for r in ranking] == [(1, "002"), (2, "001"), (None, "003")]
    assert ranking[0]["provisional"] and not ranking[1]["provisional"]
    assert ranking[0]["past_performance"] == {"studies": 0, "enrollment_rate": None, "activation_days": None,
                                              "activated_sites": 0, "deviation_rate": None}
    # The coordinator sees only their own site's response.
    assert [r["site"]["site_number"] for r in site.get(f"{V1}/studies/{study.pk}/responses").json()] == ["001"]

    status, body = _send(api, "POST", f"{V1}/sites/{sites[0].pk}/feasibility/reopen",
                         {"version": 99, "reason": "x"})
    assert status == 409
    status, body = _send(api, "DELETE", f"{V1}/questions/{q2['id']}", {"version": 1, "reason": "Not asked"})
    assert status == 200 and body["is_deleted"]


def test_decision_template_milestones_activation_and_tracker(api_client, cpm, study, sites):
    api = api_client(cpm)
    today = timezone.localdate()
    status, template = _send(api, "POST", f"{V1}/studies/{study.pk}/template/ensure", {})
    assert status == 200 and len(template) == 12
    ids = {d["key"]: d["id"] for d in template}
    assert template[-1]["depends_on"] == ["initiation_visit"]
    status, body = _send(api, "POST", f"{V1}/studies/{study.pk}/template", {
        "key": "pharmacy", "label": "Pharmacy ready", "depends_on_ids": [ids["contract_executed"], 999999]})
    assert status == 422 and "999999" in body["errors"]["depends_on_ids"][0]
    status, body = _send(api, "PATCH", f"{V1}/milestone-definitions/{ids['selected']}", {
        "depends_on_ids": [], "version": 1, "reason": "Selection does not wait for the visit"})
    assert status == 200 and body["depends_on"] == []

    site = sites[0]
    status, body = _send(api, "POST", f"{V1}/sites/{site.pk}/decision", {"decision": "selected", "reason": "Top",
                                                                          "version": site.version})
    assert status == 200 and body["status"] == "selected" and body["actual_selected"] == today.isoformat()
    milestones = api.get(f"{V1}/sites/{site.pk}/milestones").json()
    by_key = {m["key"]: m for m in milestones["milestones"]}
    assert by_key["selected"]["state"] == "done" and by_key["budget_agreed"]["planned_derived"]
    assert milestones["projected_activation"] == (today + dt.timedelta(days=101)).isoformat()

    path = f"{V1}/sites/{site.pk}/milestones/{ids['contract_executed']}"
    status, body = _send(api, "PATCH", path, {"actual_date": today.isoformat()})
    assert status == 422 and "Budget agreed" in body["errors"]["actual_date"][0]
    status, body = _send(api, "PATCH", path, {"planned_date": (today + dt.timedelta(days=45)).isoformat()})
    assert status == 200
    saved = next(m for m in body["milestones"] if m["key"] == "contract_executed")
    assert saved["version"] == 1 and not saved["planned_derived"]
    status, body = _send(api, "PATCH", path, {"notes": "x", "version": 0, "reason": "late"})
    assert status == 409
    site_now = api.get(f"/api/v1/sites/{site.pk}").json()
    assert site_now["planned_contract_executed"] == (today + dt.timedelta(days=45)).isoformat()

    for status_name in ("start_up", "activated"):
        site_now = api.get(f"/api/v1/sites/{site.pk}").json()
        status, body = _send(api, "POST", f"/api/v1/sites/{site.pk}/transition", {
            "status": status_name, "reason": "next", "version": site_now["version"]})
    assert status == 409
    # The confidentiality agreement was skipped at selection (no longer a dependency) but is still mandatory.
    assert body["detail"].startswith("Site 001 cannot be activated: open mandatory start-up milestones: "
                                     "Confidentiality agreement, Budget agreed, Contract executed")

    tracker = api.get(f"{V1}/studies/{study.pk}/tracker").json()
    assert [s["site"]["site_number"] for s in tracker["sites"]] == ["001", "002", "003"]
    assert set(tracker["cycle_labels"]) == {"selection_to_activation", "irb", "contract"}
    assert tracker["study"]["sites"] == 3 and tracker["study"]["cycles"]["irb"] is None
    first = tracker["sites"][0]
    assert "Budget agreed" in first["activation_blockers"] and first["cycle_times"]["contract"] is None


def test_read_only_roles_and_other_studies(api_client, make_user, study, sites, template):
    viewer = api_client(make_user(Role.VIEWER, study=study))
    assert viewer.get(f"{V1}/studies/{study.pk}/tracker").status_code == 200
    status, body = _send(viewer, "PATCH", f"{V1}/sites/{sites[0].pk}/milestones/{template['budget_agreed'].pk}",
                         {"notes": "x"})
    assert status == 403
    portfolio_cpm = api_client(make_user(Role.CPM, username="portfolio_cpm"))
    assert portfolio_cpm.get(f"{V1}/studies/{study.pk}/tracker").status_code == 200
    stranger = api_client(make_user(username="stranger"))
    assert stranger.get(f"{V1}/studies/{study.pk}/tracker").status_code == 404
    assert stranger.get(f"{V1}/sites/{sites[0].pk}/milestones").status_code == 404
