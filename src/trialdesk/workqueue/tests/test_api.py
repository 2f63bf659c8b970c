"""GET /api/v1/my-work: the caller's own items with counts and filters."""

from __future__ import annotations

import pytest
from django.test import Client

from trialdesk.accounts.roles import Role
from trialdesk.workqueue import registry

URL = "/api/v1/my-work"
T = "trialdesk.workqueue.tests.providers."


@pytest.fixture
def providers(monkeypatch):
    monkeypatch.setattr(registry, "PROVIDERS", ["trialdesk.enrollment.work.work_items", T + "general"])


def test_list_with_counts(warned_study, cpm, api_client, providers, sites):
    body = api_client(cpm).get(URL).json()
    assert body["count"] == body["total"] == len(body["items"]) > 3
    assert body["notices"] == []
    assert sum(body["counts"]["by_severity"].values()) == body["count"]
    assert body["counts"]["by_severity"]["overdue"] == 1
    first = body["items"][0]
    assert first["severity"] == "overdue" and first["title"] == "Submit your expenses" and first["key"] == "form:1"
    no_enrollment = next(i for i in body["items"] if i["kind"] == "enrollment.no_enrollment"
                         and i["site_id"] == sites[2].pk)
    assert no_enrollment["study_id"] == warned_study.pk and no_enrollment["study_label"] == "ACME-301"
    assert no_enrollment["url"] == f"/studies/{warned_study.pk}/enrollment/"
    assert {"study_id": warned_study.pk, "study_label": "ACME-301",
            "count": sum(1 for i in body["items"] if i["study_id"] == warned_study.pk)} in body["counts"]["by_study"]


def test_filters_and_paging(warned_study, cpm, api_client, providers):
    client = api_client(cpm)
    everything = client.get(URL).json()
    study = client.get(URL, {"study_id": warned_study.pk}).json()
    assert study["total"] == everything["total"] and 0 < study["count"] < everything["count"]
    assert all(i["study_id"] == warned_study.pk for i in study["items"])
    area = client.get(URL, {"kind": "other"}).json()
    assert {i["kind"] for i in area["items"]} == {"other.form", "other.note"}
    due = client.get(URL, {"severity": "due"}).json()
    assert due["count"] == due["counts"]["by_severity"]["due"] and {i["severity"] for i in due["items"]} == {"due"}
    page = client.get(URL, {"limit": 2, "offset": 1}).json()
    assert page["count"] == everything["count"] and page["items"] == everything["items"][1:3]
    assert client.get(URL, {"severity": "urgent"}).status_code == 422
    assert client.get(URL, {"study_id": 0}).status_code == 422


def test_only_the_callers_own_items(warned_study, make_user, api_client, providers):
    viewer = make_user(Role.VIEWER, study=warned_study)
    body = api_client(viewer).get(URL).json()
    assert [i["kind"] for i in body["items"]] == ["other.form", "other.form", "other.note"]  # no enrollment items


def test_a_failing_provider_is_a_notice_not_an_error(warned_study, cpm, api_client, monkeypatch):
    monkeypatch.setattr(registry, "PROVIDERS", [T + "broken", "trialdesk.enrollment.work.work_items"])
    response = api_client(cpm).get(URL)
    assert response.status_code == 200
    body = response.json()
    assert len(body["notices"]) == 1 and "could not be loaded" in body["notices"][0]
    assert body["count"] > 0


def test_anonymous_is_refused(db):
    assert Client().get(URL).status_code == 401
