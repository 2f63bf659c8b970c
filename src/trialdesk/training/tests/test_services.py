"""Training services against a real database: templates, trainings, attendance with e-signed acknowledgement,
quizzes, certificates, requirements, retraining on protocol approval, the matrix and verification."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from conftest import PASSWORD
from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.core.errors import AccessDenied, Conflict, InvalidTransition, StaleVersion, ValidationFailed
from trialdesk.signatures.selectors import signatures_for
from trialdesk.training import certnum, rules, selectors, services
from trialdesk.training.models import Certificate, TrainingRequirement, TrainingTemplate
from trialdesk.training.tests.helpers import complete_protocol_training

D = dt.date
TODAY = timezone.localdate


def _questions(cpm, training, n=4):
    for i in range(n):
        services.quiz_question_create(user=cpm, training=training, data={
            "text": f"Question {i + 1}?", "options": ["Right", "Wrong", "Also wrong"], "correct": [0]})


# --- Templates ------------------------------------------------------------------------------------------

def test_builtin_templates_are_seeded_with_the_checklist_and_agenda(db):
    protocol = TrainingTemplate.objects.get(builtin=True, name="Study nurse protocol training")
    inservice = TrainingTemplate.objects.get(builtin=True, name="Study nurse training and inservice")
    assert protocol.kind == "protocol" and inservice.kind == "inservice"
    assert "Attendees notified and availability confirmed" in protocol.checklist
    assert len(protocol.checklist) == 5
    topics = [t["topic"] for t in protocol.agenda]
    assert topics == ["Study introduction", "Regulatory compliance", "Protocol-specific procedures",
                      "Safety and adverse event recognition", "Documentation and reporting", "Hands-on practice"]
    hands_on = next(t for t in inservice.agenda if t["topic"] == "Hands-on practice")
    assert "Wearables or devices" in hands_on["items"] and "Role-play and case scenarios" in hands_on["items"]


def test_builtin_template_is_read_only_but_copies_are_editable(cpm, study):
    builtin = TrainingTemplate.objects.get(builtin=True, name="Study nurse protocol training")
    with pytest.raises(InvalidTransition, match="copy the template"):
        services.training_template_update(user=cpm, template=builtin, data={"name": "Mine"}, version=builtin.version,
                                          reason="try")
    copy = services.training_template_copy(user=cpm, template=builtin, study=study, name="ACME nurse training")
    assert not copy.builtin and copy.study == study and copy.agenda == builtin.agenda
    copy = services.training_template_update(user=cpm, template=copy, version=copy.version, reason="Site rules", data={
        "checklist": [*copy.checklist, "Pharmacy walkthrough booked"],
        "agenda": [*copy.agenda, {"topic": "Pharmacy", "items": ["IP storage"]}]})
    assert copy.checklist[-1] == "Pharmacy walkthrough booked" and copy.version == 2
    with pytest.raises(ValidationFailed) as err:
        services.training_template_update(user=cpm, template=copy, version=copy.version, reason="bad",
                                          data={"agenda": [{"topic": "", "items": [""]}]})
    assert "agenda" in err.value.errors
    builtin.refresh_from_db()
    assert len(builtin.checklist) == 5


def test_shared_templates_need_a_portfolio_wide_manager(make_user, study, cpm):
    cra = make_user(Role.CRA, study=study)
    builtin = TrainingTemplate.objects.get(builtin=True, name="Study nurse protocol training")
    with pytest.raises(AccessDenied):
        services.training_template_copy(user=cra, template=builtin)            # shared copy
    assert services.training_template_copy(user=cra, template=builtin, study=study).study == study
    viewer = make_user(Role.VIEWER, study=study)
    with pytest.raises(AccessDenied):
        services.training_template_copy(user=viewer, template=builtin, study=study)


# --- Trainings and checklist ----------------------------------------------------------------------------------

def test_training_from_template_copies_an_unticked_checklist_and_the_current_version(training, protocol):
    assert training.protocol_version == protocol
    assert training.kind == "protocol" and training.status == "open"
    assert [row["done"] for row in training.checklist] == [False] * 5
    assert training.topics[0] == "Study introduction"


def test_protocol_training_needs_an_approved_version_of_its_study(cpm, study, protocol, admin_user):
    from trialdesk.studies.services import protocol_version_create

    draft = protocol_version_create(user=admin_user, study=study, data={"version_number": "2.0",
                                                                        "version_date": D(2026, 5, 1)})
    with pytest.raises(ValidationFailed, match="draft"):
        services.training_create(user=cpm, study=study, data={"title": "T", "kind": "protocol",
                                                              "protocol_version": draft})
    with pytest.raises(ValidationFailed, match="Choose the protocol version"):
        services.training_create(user=cpm, study=study, data={"title": "T", "kind": "protocol",
                                                              "protocol_version": None})
    # Other kinds need none.
    assert services.training_create(user=cpm, study=study, data={"title": "GCP refresher", "kind": "refresher",
                                                                 "protocol_version": None}).pk


def test_checklist_tick_records_who_and_when_and_is_audited(cpm, training):
    t = services.training_checklist_tick(user=cpm, training=training, index=1, done=True, version=training.version)
    assert t.checklist[1]["done"] and t.checklist[1]["done_by"] == cpm.display_name and t.checklist[1]["done_at"]
    event = AuditEvent.objects.filter(record_type="training.training", record_id=str(t.pk)).latest("seq")
    assert "checklist[1]" in event.changes and "done" in event.reason
    with pytest.raises(StaleVersion):
        services.training_checklist_tick(user=cpm, training=t, index=2, done=True, version=1)
    with pytest.raises(ValidationFailed):
        services.training_checklist_tick(user=cpm, training=t, index=9, done=True, version=t.version)


def test_checklist_items_can_be_edited_keeping_ticks(cpm, training):
    t = services.training_checklist_tick(user=cpm, training=training, index=0, done=True, version=training.version)
    first = t.checklist[0]["item"]
    t = services.training_update(user=cpm, training=t, data={}, checklist_items=[first, "Room booked"],
                                 version=t.version, reason="Shorter checklist for a refresher")
    assert [r["item"] for r in t.checklist] == [first, "Room booked"]
    assert t.checklist[0]["done"] and not t.checklist[1]["done"]


def test_training_status_transitions(cpm, study, protocol):
    t = services.training_create(user=cpm, study=study, data={"title": "Quiz training", "quiz_required": True})
    with pytest.raises(InvalidTransition, match="add its questions"):
        services.training_transition(user=cpm, training=t, status="open", version=t.version, reason="go")
    _questions(cpm, t, 1)
    t.refresh_from_db()
    t = services.training_transition(user=cpm, training=t, status="open", version=t.version, reason="go")
    with pytest.raises(InvalidTransition):
        services.training_transition(user=cpm, training=t, status="draft", version=t.version, reason="back")
    with pytest.raises(ValidationFailed):
        services.training_transition(user=cpm, training=t, status="closed", version=t.version, reason="")
    t = services.training_transition(user=cpm, training=t, status="closed", version=t.version, reason="Done")
    assert t.status == "closed"


def test_only_training_managers_change_trainings(make_user, study, training):
    viewer = make_user(Role.VIEWER, study=study)
    with pytest.raises(AccessDenied):
        services.training_update(user=viewer, training=training, data={"title": "x"}, version=training.version,
                                 reason="x")


# --- Sessions and attendance ------------------------------------------------------------------------------------

def test_session_needs_a_trainer_and_sites_of_the_study(cpm, training, admin_user):
    from trialdesk.sites.services import site_create
    from trialdesk.studies.services import study_create

    with pytest.raises(ValidationFailed, match="trainer"):
        services.training_session_create(user=cpm, training=training, data={"starts_at": timezone.now()})
    other = study_create(user=admin_user, data={"protocol_number": "OTHER-1", "brief_title": "Other"})
    from trialdesk.organizations.services import organization_create

    inst = organization_create(user=admin_user, data={"name": "Elsewhere", "kind": "institution"})
    foreign = site_create(user=admin_user, study=other, data={"institution": inst, "site_number": "900"})
    with pytest.raises(ValidationFailed, match="sites of the training's study"):
        services.training_session_create(user=cpm, training=training, sites=[foreign],
                                         data={"starts_at": timezone.now(), "trainer_name": "T"})


def test_attendance_is_recorded_by_the_trainer_and_not_before_the_session(cpm, training, nurse):
    future = services.training_session_create(user=cpm, training=training, data={
        "trainer_name": "T", "starts_at": timezone.now() + dt.timedelta(days=3)})
    att = services.attendance_invite(user=cpm, session=future, people=[nurse.person])[0]
    assert att.status == "invited"
    assert services.attendance_invite(user=cpm, session=future, people=[nurse.person]) == []   # already invited
    with pytest.raises(ValidationFailed, match="not started"):
        services.attendance_record(user=cpm, attendance=att, status="attended", version=att.version)
    with pytest.raises(AccessDenied):
        services.attendance_record(user=nurse, attendance=att, status="attended", version=att.version)


def test_acknowledgement_is_the_attendees_own_signature_and_issues_the_certificate(cpm, attended, nurse, make_user,
                                                                                 study, protocol):
    other = make_user(Role.SITE_COORDINATOR, study=study)
    with pytest.raises(AccessDenied, match="Only the attendee"):
        services.attendance_acknowledge(user=other, attendance=attended, password=PASSWORD)
    with pytest.raises(ValidationFailed, match="password"):
        services.attendance_acknowledge(user=nurse, attendance=attended, password="wrong")
    attended.refresh_from_db()
    assert attended.acknowledgement is None
    assert AuditEvent.objects.filter(action="signature_failed", record_id=str(attended.pk)).exists()

    att = services.attendance_acknowledge(user=nurse, attendance=attended, password=PASSWORD)
    assert att.acknowledgement.signer == nurse and att.acknowledgement.meaning == "reviewed"
    [view] = signatures_for(att)
    assert view.valid
    cert = Certificate.objects.get(person=nurse.person)
    assert certnum.is_valid(cert.number)
    assert cert.person_name == nurse.person.full_name
    assert cert.study_label.startswith("ACME-301")
    assert cert.protocol_version_label == "1.0" and cert.protocol_version == protocol
    assert cert.trainer_name == cpm.person.full_name
    assert cert.training_date == timezone.localtime(attended.session.starts_at).date()
    assert cert.topics[0] == "Study introduction" and cert.valid_until is None
    assert cert.content_hash == services.certificate_content_hash(cert)
    assert selectors.protocol_training_gap(nurse.person, study) is None
    # Acknowledged attendance is signed: the trainer can no longer change it, and no second acknowledgement.
    with pytest.raises(InvalidTransition):
        services.attendance_record(user=cpm, attendance=att, status="absent", version=att.version)
    with pytest.raises(InvalidTransition, match="already"):
        services.attendance_acknowledge(user=nurse, attendance=att, password=PASSWORD)


def test_acknowledgement_waits_for_the_trainers_record(cpm, session, nurse):
    att = services.attendance_invite(user=cpm, session=session, people=[nurse.person])[0]
    with pytest.raises(InvalidTransition, match="not recorded your attendance"):
        services.attendance_acknowledge(user=nurse, attendance=att, password=PASSWORD)


# --- Quiz -------------------------------------------------------------------------------------------------------

def test_question_validation(cpm, training):
    with pytest.raises(ValidationFailed) as err:
        services.quiz_question_create(user=cpm, training=training, data={"text": "Q?", "options": ["Only one"],
                                                                        "correct": [0]})
    assert "options" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        services.quiz_question_create(user=cpm, training=training, data={"text": "Q?", "options": ["a", "b"],
                                                                        "correct": [2]})
    assert "correct" in err.value.errors
    q = services.quiz_question_create(user=cpm, training=training, data={"text": "Which?", "options": ["a", "b", "c"],
                                                                        "correct": [2, 0]})
    assert q.correct == [0, 2] and q.order == 1


def test_quiz_fail_then_retake_and_pass_issues_the_certificate(cpm, training, attended, nurse, study):
    training = services.training_update(user=cpm, training=training, data={"quiz_required": True, "pass_mark": 75},
                                        version=training.version, reason="Quiz added")
    _questions(cpm, training, 4)
    ids = list(training.questions.order_by("order").values_list("pk", flat=True))
    services.attendance_acknowledge(user=nurse, attendance=attended, password=PASSWORD)
    assert not Certificate.objects.filter(person=nurse.person).exists()       # quiz still to pass
    gap = selectors.protocol_training_gap(nurse.person, study)
    assert gap == "Protocol training for ACME-301 protocol version 1.0 is not complete."

    first = services.quiz_attempt_submit(user=nurse, training=training, person=nurse.person,
                                         answers={ids[0]: [0], ids[1]: [1], ids[2]: [1], ids[3]: [0]})
    assert (first.attempt_no, first.score_percent, first.passed) == (1, 50.0, False)
    assert not Certificate.objects.filter(person=nurse.person).exists()
    second = services.quiz_attempt_submit(user=nurse, training=training, person=nurse.person,
                                          answers={str(i): [0] for i in ids[:3]} | {str(ids[3]): [2]})
    assert (second.attempt_no, second.score_percent, second.passed) == (2, 75.0, True)
    cert = Certificate.objects.get(person=nurse.person)
    assert cert.quiz_attempt == second and cert.score_percent == 75.0
    with pytest.raises(InvalidTransition, match="already passed"):
        services.quiz_attempt_submit(user=nurse, training=training, person=nurse.person,
                                     answers={i: [0] for i in ids})
    assert selectors.protocol_training_gap(nurse.person, study) is None


def test_quiz_answers_are_checked_and_only_attendees_take_it(cpm, training, nurse, make_user, study, session):
    _questions(cpm, training, 2)
    ids = list(training.questions.values_list("pk", flat=True))
    with pytest.raises(ValidationFailed, match="attendance list"):
        services.quiz_attempt_submit(user=nurse, training=training, person=nurse.person, answers={})
    services.attendance_invite(user=cpm, session=session, people=[nurse.person])
    with pytest.raises(ValidationFailed) as err:
        services.quiz_attempt_submit(user=nurse, training=training, person=nurse.person, answers={ids[0]: [7]})
    assert f"q{ids[0]}" in err.value.errors and f"q{ids[1]}" in err.value.errors
    # Someone else's quiz: only a training manager may enter it (a paper quiz).
    colleague = make_user(Role.SITE_COORDINATOR, study=study)
    with pytest.raises(AccessDenied):
        services.quiz_attempt_submit(user=colleague, training=training, person=nurse.person,
                                     answers={i: [0] for i in ids})
    attempt = services.quiz_attempt_submit(user=cpm, training=training, person=nurse.person,
                                           answers={i: [0] for i in ids})
    assert attempt.passed and attempt.entered_by == cpm
    with pytest.raises(RuntimeError):
        attempt.save()


# --- Certificates, gap, verification ----------------------------------------------------------------------------

def test_protocol_training_gap_names_what_is_missing(cpm, study, protocol, nurse, admin_user):
    from trialdesk.studies.services import protocol_version_approve, protocol_version_create

    assert selectors.protocol_training_gap(nurse.person, study) == \
        "Protocol training for ACME-301 protocol version 1.0 is not complete."
    complete_protocol_training(cpm, study, nurse.person)
    assert selectors.protocol_training_gap(nurse.person, study) is None
    v2 = protocol_version_create(user=admin_user, study=study, data={"version_number": "2.0",
                                                                     "version_date": D(2026, 6, 1)})
    protocol_version_approve(user=admin_user, protocol_version=v2, password=PASSWORD, version=v2.version)
    assert selectors.protocol_training_gap(nurse.person, study) == (
        "Protocol training for ACME-301 protocol version 2.0 is not complete (last completed: protocol version 1.0).")


def test_gap_reports_an_expired_certificate_and_the_date_checked(cpm, study, protocol, nurse):
    cert = complete_protocol_training(cpm, study, nurse.person, validity_months=12, days_ago=400)
    assert cert.valid_until < TODAY()
    assert selectors.protocol_training_gap(nurse.person, study) == (
        f"Protocol training for ACME-301 protocol version 1.0 expired on {cert.valid_until.isoformat()} "
        f"(certificate {cert.number}).")
    assert selectors.protocol_training_gap(nurse.person, study, on=cert.valid_until) is None


def test_study_without_an_approved_protocol_accepts_any_protocol_training(cpm, study, nurse):
    assert selectors.protocol_training_gap(nurse.person, study) == "Protocol training for ACME-301 is not complete."
    complete_protocol_training(cpm, study, nurse.person)
    assert selectors.protocol_training_gap(nurse.person, study) is None


def test_validity_sets_expiry_and_schedules_a_refresher(cpm, study, protocol, nurse):
    cert = complete_protocol_training(cpm, study, nurse.person, validity_months=24)
    assert cert.valid_until == rules.add_months(cert.training_date, 24) - dt.timedelta(days=1)
    refresher = TrainingRequirement.objects.get(person=nurse.person, kind="refresher")
    assert refresher.training == cert.training and refresher.due_date == cert.valid_until
    assert refresher.status == "open" and cert.number in refresher.reason


def test_verification(cpm, study, protocol, nurse):
    cert = complete_protocol_training(cpm, study, nurse.person)
    result = selectors.certificate_verify(cert.number.lower().replace("-", " "))
    assert result.status == "valid" and result.intact and result.certificate == cert
    assert "genuine and valid" in result.message
    typo = cert.number[:3] + ("1" if cert.number[3] != "1" else "2") + cert.number[4:]
    assert selectors.certificate_verify(typo).status == "malformed"
    body = "0000-0000"
    unknown = certnum.format_number(body.replace("-", ""))
    assert selectors.certificate_verify(unknown).status == "not_found"
    # Facts changed behind the application's back: the hash no longer matches.
    Certificate.objects.filter(pk=cert.pk).update(person_name="Someone Else")
    assert not selectors.certificate_verify(cert.number).intact


def test_revoking_reopens_the_requirements_it_fulfilled(cpm, study, protocol, nurse):
    req = services.training_requirement_create(user=cpm, study=study, person=nurse.person, kind="protocol",
                                               protocol_version=protocol, due_date=TODAY() + dt.timedelta(days=10))
    assert req.site.site_number == "001"          # from the person's roster entry
    cert = complete_protocol_training(cpm, study, nurse.person)
    req.refresh_from_db()
    assert req.status == "done" and req.fulfilled_by == cert
    with pytest.raises(ValidationFailed):
        services.certificate_revoke(user=cpm, certificate=cert, reason="")
    services.certificate_revoke(user=cpm, certificate=cert, reason="Issued to the wrong person")
    req.refresh_from_db()
    assert req.status == "open" and req.fulfilled_by is None
    assert selectors.certificate_verify(cert.number).status == "revoked"
    assert selectors.protocol_training_gap(nurse.person, study) is not None
    with pytest.raises(InvalidTransition):
        services.certificate_revoke(user=cpm, certificate=cert, reason="again")


def test_requirement_waive_and_update(cpm, study, nurse, make_user):
    req = services.training_requirement_create(user=cpm, study=study, person=nurse.person, kind="other",
                                               due_date=TODAY() + dt.timedelta(days=5), reason="Pharmacy SOP")
    req = services.training_requirement_update(user=cpm, requirement=req, data={"due_date": TODAY()},
                                               version=req.version, reason="Earlier")
    viewer = make_user(Role.VIEWER, study=study)
    with pytest.raises(AccessDenied):
        services.training_requirement_waive(user=viewer, requirement=req, version=req.version, reason="x")
    req = services.training_requirement_waive(user=cpm, requirement=req, version=req.version,
                                              reason="Trained at the sponsor's investigator meeting")
    assert req.status == "waived"
    with pytest.raises(InvalidTransition):
        services.training_requirement_waive(user=cpm, requirement=req, version=req.version, reason="again")


def test_session_with_acknowledged_attendance_cannot_be_deleted_or_redated(cpm, attended, nurse):
    services.attendance_acknowledge(user=nurse, attendance=attended, password=PASSWORD)
    session = attended.session
    session.refresh_from_db()
    with pytest.raises(Conflict):
        services.training_session_update(user=cpm, session=session, data={"starts_at": timezone.now()},
                                         version=session.version, reason="moved")
    with pytest.raises(Conflict):
        services.training_session_delete(user=cpm, session=session, version=session.version, reason="oops")
    session = services.training_session_update(user=cpm, session=session, data={"materials": "Slides v2"},
                                               version=session.version, reason="Materials uploaded")
    assert session.materials == "Slides v2"


# --- Retraining on protocol approval and the matrix --------------------------------------------------------------

def _delegate(admin_user, pi_user, nurse_staff, study, sites):
    """A signed delegation for the nurse at site 001 (the PI signs; the nurse is trained first)."""
    from trialdesk.staff.services import delegation_create, delegation_sign

    complete_protocol_training(admin_user, study, nurse_staff.person)
    d = delegation_create(user=admin_user, staff=nurse_staff, data={"task": "informed_consent",
                                                                    "start_date": TODAY()})
    return delegation_sign(user=pi_user, delegation=d, password=PASSWORD, version=d.version)


@pytest.fixture
def delegated_nurse(admin_user, make_user, study, sites, protocol, nurse):
    from trialdesk.sites.services import site_update
    from trialdesk.staff.models import SiteStaff

    pi_user = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, sites=[sites[0]], username="pi")
    site = sites[0]
    site_update(user=admin_user, site=site, data={"principal_investigator": pi_user.person}, version=site.version,
                reason="PI named")
    pi_staff = SiteStaff.objects.get(site=site, person=pi_user.person)
    from trialdesk.staff.services import site_staff_update

    site_staff_update(user=admin_user, staff=pi_staff, version=pi_staff.version, reason="GCP on file",
                      data={"gcp_certificate_date": D(2025, 1, 1), "gcp_expiry": TODAY() + dt.timedelta(days=30)})
    staff = SiteStaff.objects.get(site=site, person=nurse.person)
    _delegate(admin_user, pi_user, staff, study, sites)
    return nurse


def test_approving_a_new_version_creates_retraining_for_delegated_staff(admin_user, study, delegated_nurse, cpm):
    from trialdesk.studies.services import protocol_version_approve, protocol_version_create

    v2 = protocol_version_create(user=admin_user, study=study, data={"version_number": "2.0",
                                                                     "version_date": D(2026, 6, 1)})
    before = selectors.training_matrix(cpm, study)
    nurse_row = next(r for r in before.rows if r.person == delegated_nurse.person)
    assert nurse_row.cells[0].state == "done"
    protocol_version_approve(user=admin_user, protocol_version=v2, password=PASSWORD, version=v2.version)
    reqs = TrainingRequirement.objects.filter(study=study, protocol_version=v2)
    assert [(r.person, r.kind, r.status, r.due_date) for r in reqs] == [
        (delegated_nurse.person, "retraining", "open", TODAY() + dt.timedelta(days=30))]
    event = AuditEvent.objects.filter(record_type="training.trainingrequirement").latest("seq")
    assert event.actor_id == admin_user.pk and "2.0 approved" in event.reason
    # ... and in the nurse's work queue.
    from trialdesk.training.work import work_items

    [item] = [i for i in work_items(delegated_nurse, TODAY()) if i.kind == "training.requirement"]
    assert item.severity == "due" and "version 2.0" in item.title

    matrix = selectors.training_matrix(cpm, study)
    assert matrix.columns[0].label == "Protocol training, version 2.0"
    row = next(r for r in matrix.rows if r.person == delegated_nurse.person)
    assert (row.cells[0].state, row.cells[0].date) == ("due", TODAY() + dt.timedelta(days=30))
    # Retraining on version 2.0 fulfils the requirement and the cell turns done.
    cert = complete_protocol_training(cpm, study, delegated_nurse.person, kind="retraining")
    assert reqs.get().status == "done" and reqs.get().fulfilled_by == cert
    row = next(r for r in selectors.training_matrix(cpm, study).rows if r.person == delegated_nurse.person)
    assert row.cells[0].state == "done"


def test_matrix_states_and_scope(cpm, study, sites, protocol, nurse, admin_user, make_user):
    from trialdesk.organizations.services import person_create
    from trialdesk.staff.services import site_staff_create

    today = TODAY()
    people = {}
    for name, site, gcp in (("Overdue", sites[0], None), ("Expired", sites[1], today - dt.timedelta(days=3)),
                            ("Done", sites[1], today + dt.timedelta(days=400))):
        p = person_create(user=admin_user, data={"first_name": name, "last_name": "Person"})
        site_staff_create(user=admin_user, site=site, data={"person": p, "role": "sub_investigator",
                                                            "start_date": D(2025, 1, 1), "gcp_expiry": gcp,
                                                            "gcp_certificate_date": D(2024, 1, 1) if gcp else None})
        people[name] = p
    services.training_requirement_create(user=cpm, study=study, person=people["Overdue"], kind="protocol",
                                         protocol_version=protocol, due_date=today - dt.timedelta(days=2))
    complete_protocol_training(cpm, study, people["Expired"], validity_months=12, days_ago=400)
    complete_protocol_training(cpm, study, people["Done"])

    matrix = selectors.training_matrix(cpm, study)
    by_name = {r.person.first_name: r for r in matrix.rows}
    assert set(by_name) == {"Overdue", "Expired", "Done", nurse.person.first_name}
    assert by_name["Overdue"].cells[0].state == "overdue"
    assert by_name["Overdue"].cells[1].state == "overdue"          # no GCP recorded
    assert by_name["Expired"].cells[0].state == "expired"
    assert by_name["Expired"].cells[1].state == "expired"
    assert by_name["Done"].cells[0].state == "done" and by_name["Done"].cells[1].state == "done"
    assert by_name[nurse.person.first_name].cells[0].state == "due"  # on the roster, not trained yet
    refresher = [c.label for c in matrix.columns if c.key.startswith("training:")]
    assert refresher == ["Protocol training, version 1.0 (refresher)"]
    assert by_name["Expired"].cells[2].state == "expired"           # its refresher was due at expiry
    assert by_name["Done"].cells[2].state == "none"
    assert (matrix.totals["overdue"], matrix.totals["expired"]) == (2, 3)

    # One site's matrix, and a site-limited user sees only their site's people.
    site_matrix = selectors.training_matrix(cpm, study, sites[1])
    assert {r.person.first_name for r in site_matrix.rows} == {"Expired", "Done"}
    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[0]])
    assert {r.person.first_name for r in selectors.training_matrix(coordinator, study).rows} == \
        {"Overdue", nurse.person.first_name}
    from trialdesk.core.errors import NotFound

    with pytest.raises(NotFound):
        selectors.training_matrix(coordinator, study, sites[1])


def test_everything_is_audited_and_the_chain_verifies(cpm, training, attended, nurse):
    _questions(cpm, training, 1)
    services.attendance_acknowledge(user=nurse, attendance=attended, password=PASSWORD)
    types = set(AuditEvent.objects.values_list("record_type", flat=True))
    assert {"training.training", "training.trainingsession", "training.attendance", "training.quizquestion",
            "training.certificate"} <= types
    call_command("verify_audit")
