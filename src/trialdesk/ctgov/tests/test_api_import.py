"""POST /api/v1/imports/ctgov: JSON body, search response, multipart files, errors."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from trialdesk.audit.models import AuditEvent
from trialdesk.ctgov.tests.conftest import V1_DOCUMENT, raw_record, row_counts
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import Study

URL = "/api/v1/imports/ctgov"


def test_json_body_imports_one_study(api_client, importer):
    client = api_client(importer)
    response = client.post(URL, data=json.dumps(raw_record("NCT02210780")), content_type="application/json")
    assert response.status_code == 200, response.content
    [result] = response.json()
    study = Study.objects.get(nct_id="NCT02210780")
    assert result["study_id"] == study.pk and result["file"] == "request body"
    assert (result["nct_id"], result["protocol_number"], result["created"]) == ("NCT02210780", "R668-AD-1314", True)
    assert (result["sites_created"], result["sites_updated"], result["status"]) == (42, 0, "completed")
    assert result["warnings"] == []
    assert AuditEvent.objects.filter(record_type="studies.study", channel="api").count() == 1

    again = client.post(URL, data=json.dumps(raw_record("NCT02210780")), content_type="application/json").json()
    assert (again[0]["created"], again[0]["changed"], again[0]["sites_created"]) == (False, False, 0)


def test_search_response_body(api_client, importer):
    body = {"studies": [raw_record("NCT06171568"), raw_record("NCT03453554")]}
    response = api_client(importer).post(URL, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    results = response.json()
    assert [r["nct_id"] for r in results] == ["NCT06171568", "NCT03453554"]
    assert any("study type" in w for w in results[1]["warnings"])


def test_multipart_files(api_client, importer, data_dir):
    files = [SimpleUploadedFile(name, (data_dir / name).read_bytes(), content_type="application/json")
             for name in ("NCT00973089.json", "NCT05594173.json")]
    response = api_client(importer).post(URL, data={"files": files})
    assert response.status_code == 200, response.content
    assert [(r["file"], r["nct_id"]) for r in response.json()] == [
        ("NCT00973089.json", "NCT00973089"), ("NCT05594173.json", "NCT05594173")]
    assert Study.objects.count() == 2


def test_v1_body_is_422_naming_the_body(api_client, importer):
    client = api_client(importer)
    before = row_counts()
    response = client.post(URL, data=json.dumps(V1_DOCUMENT), content_type="application/json")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("request body: this is the retired ClinicalTrials.gov API v1 format")
    assert body["errors"] == {"file": [body["detail"]]}
    assert row_counts() == before


def test_multipart_with_one_bad_file_imports_nothing(api_client, importer, data_dir):
    client = api_client(importer)
    before = row_counts()
    files = [SimpleUploadedFile("NCT02210780.json", (data_dir / "NCT02210780.json").read_bytes()),
             SimpleUploadedFile("legacy.json", json.dumps(V1_DOCUMENT).encode())]
    response = client.post(URL, data={"files": files})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("legacy.json: ")
    assert row_counts() == before and StudySite.objects.count() == 0


def test_bad_requests_are_4xx(api_client, importer):
    client = api_client(importer)
    no_files = client.post(URL, data={"note": "x"})
    assert no_files.status_code == 422 and "files" in no_files.json()["errors"]
    text = client.post(URL, data="hello", content_type="text/plain")
    assert text.status_code == 422 and "Unsupported content type" in text.json()["detail"]
    broken = client.post(URL, data="{", content_type="application/json")
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]
    not_a_study = client.post(URL, data="{}", content_type="application/json")
    assert not_a_study.status_code == 422 and "protocolSection" in not_a_study.json()["detail"]


def test_anonymous_is_401(db):
    response = Client().post(URL, data=json.dumps(raw_record("NCT06171568")), content_type="application/json")
    assert response.status_code == 401
    assert Study.objects.count() == 0


def test_without_permission_is_403(api_client, viewer):
    response = api_client(viewer).post(URL, data=json.dumps(raw_record("NCT06171568")),
                                       content_type="application/json")
    assert response.status_code == 403
    assert "ctgov.import" in response.json()["detail"]
    assert Study.objects.count() == 0


def test_session_user_can_import(client, importer):
    client.force_login(importer)
    response = client.post(URL, data=json.dumps(raw_record("NCT06171568")), content_type="application/json")
    assert response.status_code == 200 and response.json()[0]["nct_id"] == "NCT06171568"
