"""Enrollment API: summary, curve, forecast, what-if, warnings and plan CRUD with re-baselining."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from trialdesk.accounts.roles import Role

V1 = "/api/v1/enrollment"


def _json(client, method, path, body=None):
    resp = client.generic(method, path, json.dumps(body or {}), content_type="application/json")
    return resp.status_code, resp.json()


def test_summary_has_funnel_monthly_counts_and_site_rates(enrolling, api_client, cpm, study, sites):
    client = api_client(cpm)
    resp = client.get(f"{V1}/studies/{study.pk}/summary")
    assert resp.status_code == 200
    body = resp.json()
    assert body["enrolled"] == 16 and body["target"] == 400 and body["active_sites"] == 3 and body["sites"] == 3
    assert body["funnel"]["screen_failed"] == 3 and body["screen_failure_rate"] == pytest.approx(3 / 19)
    assert body["monthly"][-1]["cumulative"] == 16
    rows = {r["site_number"]: r for r in body["site_rates"]}
    assert rows["003"]["rate_per_month"] == 0 and "no_enrollment" in rows["003"]["flags"]
    assert rows["001"]["enrolled"] == 10 and rows["001"]["planned_rate_per_month"] == 2.0
    germany = client.get(f"{V1}/studies/{study.pk}/summary", {"country": "Germany"}).json()
    assert germany["enrolled"] == 10 and germany["selection"] == "Germany" and germany["target"] is None
    bad = client.get(f"{V1}/studies/{study.pk}/summary", {"country": "Atlantis"})
    assert bad.status_code == 422 and "country" in bad.json()["errors"]


def test_curve_and_forecast_by_study_country_and_sites(enrolling, api_client, cpm, study, sites):
    client = api_client(cpm)
    curve = client.get(f"{V1}/studies/{study.pk}/curve").json()
    kinds = {s["key"]: s["kind"] for s in curve["series"]}
    assert kinds == {"actual": "actual", "plan-1": "plan", "forecast": "forecast"}
    actual = next(s for s in curve["series"] if s["key"] == "actual")
    assert actual["step"] and actual["points"][-1]["value"] == 16
    assert curve["bands"][0]["key"] == "forecast-band" and curve["markers"][0]["value"] == 400
    one = client.get(f"{V1}/studies/{study.pk}/curve", {"site_id": sites[1].pk}).json()
    assert one["selection"] == "site 002" and one["series"][0]["points"][-1]["value"] == 6

    forecast = client.get(f"{V1}/studies/{study.pk}/forecast").json()
    assert forecast["enrolled"] == 16 and forecast["target"] == 400 and forecast["late"] is True
    assert forecast["completion"]["p05"] <= forecast["completion"]["p50"] <= forecast["completion"]["p95"]
    assert 0 <= forecast["probability_on_time"] <= 1 and forecast["method"]
    assert {s["id"] for s in forecast["sites"]} == {"001", "002", "003"}
    subset = client.get(f"{V1}/studies/{study.pk}/forecast?site_ids={sites[0].pk}&site_ids={sites[1].pk}").json()
    assert subset["enrolled"] == 16 and {s["id"] for s in subset["sites"]} == {"001", "002"}
    again = client.get(f"{V1}/studies/{study.pk}/forecast").json()
    assert again["completion"] == forecast["completion"]  # seeded: same data, same answer
    unknown = client.get(f"{V1}/studies/{study.pk}/forecast", {"site_ids": [999999]})
    assert unknown.status_code == 422 and "site_ids" in unknown.json()["errors"]


def test_what_if_and_warnings(enrolling, api_client, cpm, study, sites):
    client = api_client(cpm)
    status, body = _json(client, "POST", f"{V1}/studies/{study.pk}/what-if", {
        "add_sites": [{"label": f"New {i}", "planned_activation": "2026-12-01", "rate_per_month": 2}
                      for i in range(5)],
        "drop_site_ids": [sites[2].pk], "rate_changes": [{"site_id": sites[0].pk, "rate_per_month": 3}]})
    assert status == 200, body
    assert body["median_shift_days"] < 0
    assert body["scenario"]["completion"]["p50"] < body["baseline"]["completion"]["p50"]
    assert len(body["changes"]) == 7
    assert {s["id"] for s in body["scenario"]["sites"]} >= {"new:New 0", "new:New 4"}
    status, body = _json(client, "POST", f"{V1}/studies/{study.pk}/what-if",
                         {"add_sites": [{"label": "X", "planned_activation": "1200-01-01", "rate_per_month": 1}]})
    assert status == 422
    status, body = _json(client, "POST", f"{V1}/studies/{study.pk}/what-if", {"rate_changes": [
        {"site_id": 424242, "rate_per_month": 1}]})
    assert status == 422 and "rate_changes" in body["errors"]

    warnings = client.get(f"{V1}/studies/{study.pk}/warnings").json()
    assert {"late_median", "no_enrollment"} <= {w["code"] for w in warnings}
    idle = next(w for w in warnings if w["code"] == "no_enrollment")
    assert idle["site_id"] == sites[2].pk and idle["site_number"] == "003" and idle["severity"] in (
        "warning", "critical")


def test_plan_crud_rebaseline_and_generate(api_client, cpm, study, sites):
    client = api_client(cpm)
    status, plan = _json(client, "POST", f"{V1}/studies/{study.pk}/plans", {"label": "Original", "target": 120})
    assert status == 201 and plan["baseline"] == 1 and plan["target"] == 120 and plan["entries"] == []
    status, body = _json(client, "POST", f"{V1}/studies/{study.pk}/plans", {})
    assert status == 409
    status, entry = _json(client, "POST", f"{V1}/plans/{plan['id']}/entries", {
        "site_id": sites[0].pk, "planned_activation": "2026-03-01", "planned_rate_per_month": 2.5,
        "planned_subjects": 40})
    assert status == 201 and entry["site_number"] == "001" and entry["country"] == ""
    status, body = _json(client, "POST", f"{V1}/plans/{plan['id']}/entries", {
        "site_id": 987654, "planned_activation": "2026-03-01", "planned_rate_per_month": 1})
    assert status == 422 and "site_id" in body["errors"]
    status, country = _json(client, "POST", f"{V1}/plans/{plan['id']}/entries", {
        "country": "Japan", "planned_activation": "2026-06-01", "planned_rate_per_month": 4})
    assert status == 201 and country["site_id"] is None
    status, gen = _json(client, "POST", f"{V1}/plans/{plan['id']}/generate-entries", {
        "rate_per_month": 1.5, "activation_date": "2026-05-01"})
    assert status == 201 and sorted(e["site_number"] for e in gen["created"]) == ["002", "003"]
    assert gen["skipped"] == []

    status, body = _json(client, "PATCH", f"{V1}/entries/{entry['id']}", {"planned_rate_per_month": 3,
                                                                         "version": entry["version"]})
    assert status == 422 and "reason" in body["errors"]
    status, body = _json(client, "PATCH", f"{V1}/entries/{entry['id']}", {
        "planned_rate_per_month": 3, "version": entry["version"], "reason": "Feasibility"})
    assert status == 200 and body["planned_rate_per_month"] == 3 and body["version"] == 2
    status, body = _json(client, "PATCH", f"{V1}/entries/{entry['id']}", {
        "planned_rate_per_month": 4, "version": 1, "reason": "stale"})
    assert status == 409
    status, body = _json(client, "DELETE", f"{V1}/entries/{country['id']}", {"version": 1, "reason": "Not Japan"})
    assert status == 200 and body["country"] == "Japan"

    status, body = _json(client, "PATCH", f"{V1}/plans/{plan['id']}", {"target": 150, "version": 1,
                                                                      "reason": "Powered for 150"})
    assert status == 200 and body["target"] == 150
    status, new = _json(client, "POST", f"{V1}/plans/{plan['id']}/rebaseline", {
        "version": body["version"], "reason": "Amendment 1", "planned_last_subject_in": "2027-12-31"})
    assert status == 201, new
    assert new["baseline"] == 2 and new["is_current"] and len(new["entries"]) == 3
    assert new["planned_last_subject_in"] == "2027-12-31" and new["target"] == 150
    listing = client.get(f"{V1}/studies/{study.pk}/plans").json()
    assert [(p["baseline"], p["is_current"]) for p in listing["items"]] == [(1, False), (2, True)]
    status, body = _json(client, "POST", f"{V1}/plans/{plan['id']}/entries", {
        "country": "Brazil", "planned_activation": "2026-06-01", "planned_rate_per_month": 1})
    assert status == 409  # the old baseline is frozen
    status, body = _json(client, "POST", f"{V1}/plans/{new['id']}/rebaseline", {"version": 1, "reason": ""})
    assert status == 422


def test_roles_and_scope(enrolling, api_client, make_user, study, sites):
    viewer = api_client(make_user(Role.VIEWER, study=study))
    assert viewer.get(f"{V1}/studies/{study.pk}/forecast").status_code == 200
    status, body = _json(viewer, "POST", f"{V1}/studies/{study.pk}/plans", {})
    assert status == 403
    status, body = _json(viewer, "PATCH", f"{V1}/plans/{enrolling.pk}", {"target": 10, "version": 1,
                                                                        "reason": "no"})
    assert status == 403
    cra = api_client(make_user(Role.CRA, study=study, sites=[sites[1]]))
    summary = cra.get(f"{V1}/studies/{study.pk}/summary").json()
    assert summary["enrolled"] == 6 and [r["site_number"] for r in summary["site_rates"]] == ["002"]
    other = api_client(make_user(Role.CPM, study=None, username="elsewhere"))
    assert other.get(f"{V1}/studies/{study.pk}/summary").status_code == 200  # portfolio-wide CPM
    from trialdesk.studies.services import study_create

    admin = make_user(Role.ADMIN, username="boss")
    foreign = study_create(user=admin, data={"protocol_number": "ZZ-1", "brief_title": "Z"})
    member = api_client(make_user(Role.CPM, study=study, username="local-cpm"))
    assert member.get(f"{V1}/studies/{foreign.pk}/summary").status_code == 404
    assert member.get(f"{V1}/plans/{enrolling.pk}").status_code == 200
    assert api_client(make_user(Role.CPM, study=foreign, username="far")).get(
        f"{V1}/plans/{enrolling.pk}").status_code == 404


def test_study_without_target_or_sites_still_answers(api_client, admin_user, study):
    from trialdesk.studies.services import study_update

    study = study_update(user=admin_user, study=study, data={"planned_enrollment": None}, version=study.version,
                         reason="Unknown yet")
    client = api_client(admin_user)
    forecast = client.get(f"{V1}/studies/{study.pk}/forecast").json()
    assert forecast["completion"] is None and "No enrollment target" in forecast["reason"]
    assert client.get(f"{V1}/studies/{study.pk}/curve").status_code == 200
    assert client.get(f"{V1}/studies/{study.pk}/warnings").json() == []
    status, body = _json(client, "POST", f"{V1}/studies/{study.pk}/what-if", {"target": 50})
    assert status == 200 and body["scenario"]["target"] == 50
    assert dt.date.fromisoformat(body["scenario"]["as_of"])
