"""The training API end to end: a CPM prepares a training, the trainer records attendance, the attendee
acknowledges and passes the quiz, the certificate PDF reads back with its facts and its number verifies."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone
from pypdf import PdfReader

from conftest import PASSWORD
from trialdesk.accounts.roles import Role
from trialdesk.training.models import TrainingTemplate

V1 = "/api/v1/training"


def _json(resp, status=200):
    assert resp.status_code == status, resp.content[:500]
    return resp.json()


def test_full_flow_over_the_api(api_client, cpm, nurse, study, sites, protocol):
    manager = api_client(cpm)
    attendee = api_client(nurse)
    builtin = TrainingTemplate.objects.get(builtin=True, name="Study nurse protocol training")

    training = _json(manager.post(f"{V1}/trainings", {
        "study_id": study.pk, "template_id": builtin.pk, "title": "ACME-301 v1.0 nurse training",
        "quiz_required": True, "pass_mark": 50, "validity_months": 24}, content_type="application/json"), 201)
    assert training["protocol_version"]["version_number"] == "1.0"
    assert [c["done"] for c in training["checklist"]] == [False] * 5
    tid = training["id"]
    training = _json(manager.post(f"{V1}/trainings/{tid}/checklist",
                                  {"index": 0, "done": True, "version": training["version"]},
                                  content_type="application/json"))
    assert training["checklist"][0]["done"] and training["checklist"][0]["done_by"]

    q1 = _json(manager.post(f"{V1}/trainings/{tid}/questions", {
        "text": "Who may obtain consent?", "options": ["Anyone", "Delegated staff"], "correct": [1]},
        content_type="application/json"), 201)
    _json(manager.post(f"{V1}/trainings/{tid}/questions", {
        "text": "AE reporting window for SAEs?", "options": ["24 hours", "30 days"], "correct": [0]},
        content_type="application/json"), 201)
    # A draft training cannot be taken yet; open it.
    training = _json(manager.post(f"{V1}/trainings/{tid}/transition", {
        "status": "open", "version": training["version"], "reason": "Sessions planned"},
        content_type="application/json"))
    assert training["status"] == "open"

    starts = (timezone.now() - dt.timedelta(hours=3)).isoformat()
    session = _json(manager.post(f"{V1}/trainings/{tid}/sessions", {
        "mode": "virtual", "site_ids": [sites[0].pk], "trainer_id": cpm.person_id, "starts_at": starts,
        "duration_minutes": 90, "location": "Teams", "materials": "Slides"}, content_type="application/json"), 201)
    assert session["trainer_name"] == cpm.person.full_name and session["sites"][0]["site_number"] == "001"
    [att] = _json(manager.post(f"{V1}/sessions/{session['id']}/attendance", {"person_ids": [nurse.person_id]},
                               content_type="application/json"), 201)
    att = _json(manager.post(f"{V1}/attendance/{att['id']}/record", {"status": "attended", "version": att["version"]},
                             content_type="application/json"))
    assert att["status"] == "attended"

    # The attendee sees the quiz without the answers, and only their own attempts.
    questions = _json(attendee.get(f"{V1}/trainings/{tid}/questions"))
    assert [q["correct"] for q in questions["items"]] == [None, None]
    assert _json(manager.get(f"{V1}/trainings/{tid}/questions"))["items"][0]["correct"] == [1]
    ack = attendee.post(f"{V1}/attendance/{att['id']}/acknowledge", {"password": "wrong"},
                        content_type="application/json")
    assert ack.status_code == 422 and "password" in ack.json()["errors"]
    att = _json(attendee.post(f"{V1}/attendance/{att['id']}/acknowledge", {"password": PASSWORD},
                              content_type="application/json"))
    assert att["acknowledgement"]["printed_name"] == nurse.display_name
    assert att["acknowledgement"]["meaning"] == "reviewed"

    mine = _json(attendee.get(f"{V1}/mine"))
    assert mine["items"][0]["quiz_open"] and not mine["items"][0]["certificate_number"]
    failed = _json(attendee.post(f"{V1}/trainings/{tid}/attempts", {"answers": {str(q1["id"]): [0]}},
                                 content_type="application/json"), 422)
    assert "Answer this question" in str(failed["errors"])
    ids = [q["id"] for q in questions["items"]]
    first = _json(attendee.post(f"{V1}/trainings/{tid}/attempts",
                                {"answers": {str(ids[0]): [0], str(ids[1]): [1]}},
                                content_type="application/json"), 201)
    assert (first["score_percent"], first["passed"], first["certificate_number"]) == (0.0, False, None)
    second = _json(attendee.post(f"{V1}/trainings/{tid}/attempts",
                                 {"answers": {str(ids[0]): [1], str(ids[1]): [1]}},
                                 content_type="application/json"), 201)
    assert (second["attempt_no"], second["score_percent"], second["passed"]) == (2, 50.0, True)
    number = second["certificate_number"]
    assert number

    certs = _json(attendee.get(f"{V1}/certificates", {"mine": True}))
    [cert] = certs["items"]
    assert cert["number"] == number and cert["state"] == "valid" and cert["protocol_version_label"] == "1.0"
    progress = _json(manager.get(f"{V1}/trainings/{tid}/progress"))
    assert progress == [{"person": {"id": nurse.person_id, "full_name": nurse.person.full_name}, "attended": True,
                         "acknowledged": True, "attempts": 2, "best_score_percent": 50.0, "passed": True,
                         "certificate_number": number}]

    # The PDF opens and shows name, study, protocol version, topics, date, trainer and number.
    pdf = attendee.get(f"{V1}/certificates/{cert['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = " ".join((page.extract_text() or "") for page in PdfReader(io.BytesIO(pdf.content)).pages)
    text = " ".join(text.split())
    for expected in (nurse.person.full_name, "ACME-301", "1.0", "Study introduction", "Hands-on practice",
                     cert["training_date"], cpm.person.full_name, number, "ACME-301 v1.0 nurse training"):
        assert expected in text, expected
    # And its number verifies in the app.
    verified = _json(attendee.get(f"{V1}/certificates/verify", {"number": number}))
    assert verified["status"] == "valid" and verified["intact"] and verified["person_name"] == \
        nurse.person.full_name
    assert _json(attendee.get(f"{V1}/certificates/verify", {"number": "TC-0000-0000-00"}))["status"] == "malformed"

    # The refresher before expiry shows as the nurse's requirement.
    reqs = _json(manager.get(f"{V1}/requirements", {"study_id": study.pk, "person_id": nurse.person_id}))
    assert [(r["kind"], r["status"], r["due_date"]) for r in reqs["items"]] == [
        ("refresher", "open", cert["valid_until"])]


def test_template_copy_and_edit_over_the_api(api_client, cpm, study):
    client = api_client(cpm)
    builtin = TrainingTemplate.objects.get(builtin=True, name="Study nurse training and inservice")
    listed = _json(client.get(f"{V1}/templates", {"study_id": study.pk}))
    assert {t["name"] for t in listed["items"]} >= {"Study nurse protocol training",
                                                     "Study nurse training and inservice"}
    refused = client.patch(f"{V1}/templates/{builtin.pk}", {"name": "Mine", "version": 1, "reason": "x"},
                           content_type="application/json")
    assert refused.status_code == 409
    copy = _json(client.post(f"{V1}/templates/{builtin.pk}/copy", {"study_id": study.pk},
                             content_type="application/json"), 201)
    assert copy["study_id"] == study.pk and not copy["builtin"]
    edited = _json(client.patch(f"{V1}/templates/{copy['id']}", {
        "agenda": [{"topic": "Pharmacy", "items": ["IP storage", "Temperature log"]}], "version": copy["version"],
        "reason": "Pharmacy-only inservice"}, content_type="application/json"))
    assert edited["agenda"] == [{"topic": "Pharmacy", "items": ["IP storage", "Temperature log"]}]
    no_reason = client.patch(f"{V1}/templates/{copy['id']}", {"name": "x", "version": edited["version"]},
                             content_type="application/json")
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["errors"]
    stale = client.patch(f"{V1}/templates/{copy['id']}", {"name": "x", "version": 1, "reason": "x"},
                         content_type="application/json")
    assert stale.status_code == 409


def test_matrix_json_and_xlsx(api_client, cpm, nurse, study, sites, protocol):
    from openpyxl import load_workbook

    client = api_client(cpm)
    body = _json(client.get(f"{V1}/studies/{study.pk}/matrix"))
    assert [c["key"] for c in body["columns"]] == ["protocol", "gcp"]
    [row] = body["rows"]
    assert row["person"]["id"] == nurse.person_id and row["sites"] == "001" and row["roles"] == "Study nurse"
    assert [c["state"] for c in row["cells"]] == ["due", "done"]
    assert _json(client.get(f"{V1}/studies/{study.pk}/matrix", {"site_id": sites[1].pk}))["rows"] == []
    wrong = client.get(f"{V1}/studies/{study.pk}/matrix", {"site_id": 10**9})
    assert wrong.status_code == 404
    xlsx = client.get(f"{V1}/studies/{study.pk}/matrix.xlsx")
    assert xlsx.status_code == 200 and 'filename="training-matrix-ACME-301.xlsx"' in xlsx["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    header = rows[3]
    assert header[:3] == ["Name", "Site(s)", "Role(s)"] and header[3] == "Protocol training, version 1.0"
    assert rows[4][0] == nurse.person.full_name and rows[4][3] == "Due"


def test_requirements_waive_and_revoke_over_the_api(api_client, cpm, nurse, study, protocol, make_user):
    from trialdesk.training.tests.helpers import complete_protocol_training

    client = api_client(cpm)
    req = _json(client.post(f"{V1}/requirements", {"study_id": study.pk, "person_id": nurse.person_id,
                                                   "kind": "protocol", "protocol_version_id": protocol.pk,
                                                   "due_date": "2026-12-01", "reason": "New starter"},
                            content_type="application/json"), 201)
    assert req["site"]["site_number"] == "001" and req["status"] == "open"
    cert = complete_protocol_training(cpm, study, nurse.person)
    assert _json(client.get(f"{V1}/requirements/{req['id']}"))["status"] == "done"
    revoked = _json(client.post(f"{V1}/certificates/{cert.pk}/revoke", {"reason": "Wrong person"},
                                content_type="application/json"))
    assert revoked["state"] == "revoked"
    req = _json(client.get(f"{V1}/requirements/{req['id']}"))
    assert req["status"] == "open"
    viewer = api_client(make_user(Role.VIEWER, study=study))
    assert viewer.post(f"{V1}/requirements/{req['id']}/waive", {"version": req["version"], "reason": "x"},
                       content_type="application/json").status_code == 403
    waived = _json(client.post(f"{V1}/requirements/{req['id']}/waive",
                               {"version": req["version"], "reason": "Left the site"},
                               content_type="application/json"))
    assert waived["status"] == "waived"


@pytest.mark.parametrize("body", [
    {"study_id": 1, "title": "x", "pass_mark": 101},
    {"study_id": 1, "title": "x", "validity_months": 0},
    {"study_id": 1, "title": "x", "agenda": [{"topic": ""}]},
    {"study_id": 1, "title": "x", "checklist": [""]},
    {"study_id": 1, "title": "x", "kind": "nonsense"},
])
def test_bad_input_is_a_422_and_writes_nothing(api_client, cpm, study, body):
    from trialdesk.training.models import Training

    body = {**body, "study_id": study.pk}
    resp = api_client(cpm).post(f"{V1}/trainings", body, content_type="application/json")
    assert resp.status_code == 422, resp.content
    assert not Training.objects.exists()
