"""Training web pages: forms call the services, errors show on the forms, pages show what they should."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from conftest import PASSWORD
from trialdesk.training import rules
from trialdesk.training.models import Attendance, Certificate, Training, TrainingTemplate


def test_study_tab_and_new_training_from_template(web, cpm, study, protocol):
    client = web(cpm)
    page = client.get(reverse("study-training", args=[study.pk]))
    assert page.status_code == 200 and b'data-testid="tab-training"' in page.content
    builtin = TrainingTemplate.objects.get(builtin=True, name="Study nurse protocol training")
    resp = client.post(reverse("training-create", args=[study.pk]), {
        "template": builtin.pk, "title": "", "kind": "protocol", "protocol_version": protocol.pk,
        "objectives": "Staff can run the protocol's visits.", "pass_mark": 80, "validity_months": ""})
    training = Training.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse("training-detail", args=[training.pk])
    assert training.title == "Study nurse protocol training" and len(training.checklist) == 5
    detail = client.get(resp["Location"])
    assert b"Preparation checklist" in detail.content and b"Hands-on practice" in detail.content
    # Tick the first checklist item from the page's form.
    resp = client.post(reverse("training-checklist", args=[training.pk]),
                       {"index": 0, "done": "on", "version": training.version})
    assert resp.status_code == 302
    training.refresh_from_db()
    assert training.checklist[0]["done"] and training.checklist[0]["done_by"] == cpm.display_name


def test_new_training_form_errors_show_inline(web, cpm, study, protocol):
    resp = web(cpm).post(reverse("training-create", args=[study.pk]), {
        "template": "", "title": "", "kind": "protocol", "pass_mark": 120})
    assert resp.status_code == 422
    assert b"Give the training a title" in resp.content
    assert not Training.objects.exists()


def test_edit_agenda_as_text_needs_a_reason(web, cpm, training):
    client = web(cpm)
    url = reverse("training-edit", args=[training.pk])
    form = client.get(url)
    assert b"Study introduction" in form.content
    data = {"title": training.title, "kind": training.kind, "protocol_version": training.protocol_version_id,
            "objectives": "", "pass_mark": 80, "validity_months": "", "version": training.version,
            "agenda_text": "Intro\n- Goals\nQ&A", "checklist_text": "Room booked", "reason": ""}
    resp = client.post(url, data)
    assert resp.status_code == 422 and b"reason for change is required" in resp.content
    resp = client.post(url, {**data, "reason": "Short refresher format"})
    assert resp.status_code == 302
    training.refresh_from_db()
    assert training.agenda == [{"topic": "Intro", "items": ["Goals"]}, {"topic": "Q&A", "items": []}]
    assert [r["item"] for r in training.checklist] == ["Room booked"]


def test_session_attendance_acknowledge_and_quiz_on_the_web(web, client, cpm, nurse, study, sites, training):
    manager = web(cpm)
    resp = manager.post(reverse("training-question-create", args=[training.pk]), {
        "text": "Who signs the delegation log?", "options_text": "The monitor\n* The principal investigator"})
    assert resp.status_code == 302
    training.refresh_from_db()
    data = {"title": training.title, "kind": training.kind, "protocol_version": training.protocol_version_id,
            "objectives": "", "pass_mark": 80, "quiz_required": "on", "validity_months": "",
            "version": training.version, "agenda_text": rules.agenda_text(training.agenda),
            "checklist_text": "\n".join(r["item"] for r in training.checklist), "reason": "Quiz added"}
    assert manager.post(reverse("training-edit", args=[training.pk]), data).status_code == 302
    starts = (timezone.now() - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    resp = manager.post(reverse("training-session-create", args=[training.pk]), {
        "mode": "in_person", "starts_at": starts, "duration_minutes": 120, "trainer": cpm.person_id,
        "sites": [sites[0].pk], "location": "Room 3"})
    assert resp.status_code == 302
    session = training.sessions.get()
    page = manager.get(reverse("training-session-attendance", args=[session.pk]))
    assert nurse.person.full_name.encode() in page.content          # offered from the site's roster
    resp = manager.post(reverse("training-session-attendance", args=[session.pk]),
                        {"action": "invite", "people": [nurse.person_id]})
    assert resp.status_code == 302
    att = Attendance.objects.get(session=session)
    resp = manager.post(reverse("training-session-attendance", args=[session.pk]),
                        {"action": "record", "attendance": att.pk, "status": "attended", "version": att.version})
    assert resp.status_code == 302
    att.refresh_from_db()
    assert att.status == "attended"

    # The nurse: her page lists the acknowledgement to sign, then the quiz.
    client.force_login(nurse)
    mine = client.get(reverse("my-training"))
    assert f'data-testid="acknowledge-{att.pk}"'.encode() in mine.content
    wrong = client.post(reverse("training-acknowledge", args=[att.pk]), {"password": "nope"})
    assert wrong.status_code == 422 and b"password is not correct" in wrong.content
    resp = client.post(reverse("training-acknowledge", args=[att.pk]), {"password": PASSWORD})
    assert resp.status_code == 302
    question = training.questions.get()
    resp = client.post(reverse("training-quiz", args=[training.pk]), {f"q{question.pk}": "0"})
    assert resp.status_code == 302
    assert not Certificate.objects.exists()
    page = client.get(reverse("training-quiz", args=[training.pk]))
    assert b"Not passed" in page.content and b"retake" in page.content
    client.post(reverse("training-quiz", args=[training.pk]), {f"q{question.pk}": "1"})
    cert = Certificate.objects.get()
    assert cert.person == nurse.person and cert.score_percent == 100.0
    page = client.get(reverse("training-certificate", args=[cert.pk]))
    assert cert.number.encode() in page.content and b"genuine and valid" in page.content
    pdf = client.get(reverse("training-certificate-pdf", args=[cert.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_only_the_attendee_can_sign_their_acknowledgement(web, cpm, attended):
    page = web(cpm).get(reverse("training-acknowledge", args=[attended.pk]))
    assert page.status_code == 200 and b"Only" in page.content and b"signature-form" not in page.content
    resp = web(cpm).post(reverse("training-acknowledge", args=[attended.pk]), {"password": PASSWORD})
    assert resp.status_code == 200
    attended.refresh_from_db()
    assert attended.acknowledgement is None


def test_verify_page(web, cpm, nurse, study, protocol):
    from trialdesk.training.tests.helpers import complete_protocol_training

    cert = complete_protocol_training(cpm, study, nurse.person)
    client = web(nurse)
    page = client.get(reverse("training-certificate-verify"), {"number": cert.number.lower()})
    assert b'data-status="valid"' in page.content and nurse.person.full_name.encode() in page.content
    page = client.get(reverse("training-certificate-verify"), {"number": "TC-1234-5678-00"})
    assert b'data-status="malformed"' in page.content


def test_matrix_pages_and_export(web, cpm, nurse, study, sites, protocol):
    client = web(cpm)
    page = client.get(reverse("training-matrix", args=[study.pk]))
    assert page.status_code == 200
    assert f'data-testid="matrix-row-{nurse.person_id}"'.encode() in page.content
    assert b'data-state="due"' in page.content
    site_page = client.get(reverse("site-training", args=[sites[0].pk]))
    assert site_page.status_code == 200 and nurse.person.full_name.encode() in site_page.content
    assert b'data-testid="tab-training"' in site_page.content
    xlsx = client.get(reverse("training-matrix-xlsx", args=[study.pk]), {"site": sites[0].pk})
    assert xlsx.status_code == 200 and "site-001" in xlsx["Content-Disposition"]


def test_requirements_page_add_and_waive(web, cpm, nurse, study):
    client = web(cpm)
    url = reverse("training-requirements", args=[study.pk])
    resp = client.post(url, {"person": nurse.person_id, "kind": "other", "due_date": "2026-12-01",
                             "reason": "Pharmacy SOP"})
    assert resp.status_code == 302
    page = client.get(url)
    assert b"Pharmacy SOP" in page.content
    from trialdesk.training.models import TrainingRequirement

    req = TrainingRequirement.objects.get()
    resp = client.post(reverse("training-requirement-waive", args=[req.pk]), {"version": req.version, "reason": ""})
    assert resp.status_code == 422
    resp = client.post(reverse("training-requirement-waive", args=[req.pk]),
                       {"version": req.version, "reason": "Trained at the investigator meeting"})
    assert resp.status_code == 302
    req.refresh_from_db()
    assert req.status == "waived"


def test_templates_page_copy_and_builtin_edit_refused(web, cpm, study):
    client = web(cpm)
    builtin = TrainingTemplate.objects.get(builtin=True, name="Study nurse protocol training")
    assert client.get(reverse("training-template-edit", args=[builtin.pk])).status_code == 409
    resp = client.post(reverse("training-template-copy", args=[study.pk, builtin.pk]), {"name": "ACME nurse"})
    copy = TrainingTemplate.objects.get(name="ACME nurse")
    assert resp.status_code == 302 and resp["Location"] == reverse("training-template-edit", args=[copy.pk])
    page = client.get(reverse("training-templates", args=[study.pk]))
    assert b"ACME nurse" in page.content and b"Built-in" in page.content
