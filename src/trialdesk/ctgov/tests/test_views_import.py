"""The upload page /imports/ctgov/: form, results per file, errors, permission."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from trialdesk.audit.models import AuditEvent
from trialdesk.ctgov.tests.conftest import V1_DOCUMENT, row_counts
from trialdesk.studies.models import Study

URL = "/imports/ctgov/"


def _upload(data_dir, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (data_dir / name).read_bytes(), content_type="application/json")


def test_form_has_file_input_and_upload_progress(client, importer):
    client.force_login(importer)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="file"' in html and 'name="files"' in html and "multiple" in html
    assert 'hx-post="/imports/ctgov/"' in html and 'hx-encoding="multipart/form-data"' in html
    assert 'hx-indicator="#import-progress"' in html and "<progress" in html
    assert "hx-on:htmx:xhr:progress=" in html
    assert 'data-testid="import-results"' not in html


def test_upload_shows_results_per_file(client, importer, data_dir):
    client.force_login(importer)
    legacy = SimpleUploadedFile("legacy.json", json.dumps(V1_DOCUMENT).encode(), content_type="application/json")
    response = client.post(URL, {"files": [_upload(data_dir, "NCT02210780.json"), legacy,
                                           _upload(data_dir, "NCT06171568.json")]})
    assert response.status_code == 200
    html = response.content.decode()
    study = Study.objects.get(nct_id="NCT02210780")
    assert f'href="/studies/{study.pk}/"' in html and "R668-AD-1314" in html
    assert html.count('data-testid="import-row"') == 2 and html.count('data-testid="import-error-row"') == 1
    assert "legacy.json: this is the retired ClinicalTrials.gov API v1 format" in html
    assert "2 of 3 files imported, 1 failed." in html
    assert '<td class="num">42</td>' in html and "Created" in html
    # The good files were imported through the web channel; the bad one left nothing.
    assert Study.objects.count() == 2
    assert AuditEvent.objects.filter(record_type="studies.study", channel="web").count() == 2


def test_reupload_says_unchanged(client, importer, data_dir):
    client.force_login(importer)
    client.post(URL, {"files": [_upload(data_dir, "NCT00973089.json")]})
    html = client.post(URL, {"files": [_upload(data_dir, "NCT00973089.json")]}).content.decode()
    assert "Unchanged" in html and Study.objects.count() == 1


def test_htmx_post_returns_only_the_results(client, importer, data_dir):
    client.force_login(importer)
    response = client.post(URL, {"files": [_upload(data_dir, "NCT03475563.json")]}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="import-results"' in html and "<html" not in html and "BIOSS" in html


def test_post_without_files_is_an_inline_error(client, importer):
    client.force_login(importer)
    before = row_counts()
    response = client.post(URL, {})
    assert response.status_code == 200
    assert "Choose one or more ClinicalTrials.gov study JSON files" in response.content.decode()
    assert row_counts() == before


def test_viewer_gets_403(client, viewer, data_dir):
    client.force_login(viewer)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"files": [_upload(data_dir, "NCT03475563.json")]}).status_code == 403
    assert Study.objects.count() == 0


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")
