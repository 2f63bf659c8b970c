"""The training work-queue provider: one's own requirements, acknowledgements, quizzes and expiring
certificates; overdue requirements of others for training managers."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from conftest import PASSWORD
from trialdesk.accounts.roles import Role
from trialdesk.training import services
from trialdesk.training.tests.helpers import complete_protocol_training
from trialdesk.training.work import work_items


def _kinds(items):
    return sorted((i.kind, i.severity) for i in items)


def test_own_requirements_by_due_date(nurse, cpm, study):
    today = timezone.localdate()
    for days in (-3, 10, 90):
        services.training_requirement_create(user=cpm, study=study, person=nurse.person, kind="other",
                                             due_date=today + dt.timedelta(days=days))
    items = work_items(nurse, today)
    assert _kinds(items) == [("training.requirement", "due"), ("training.requirement", "overdue"),
                             ("training.requirement", "upcoming")]
    overdue = next(i for i in items if i.severity == "overdue")
    assert "overdue 3 days" in overdue.title and overdue.site_label == "001" and overdue.study_label == "ACME-301"


def test_acknowledgement_then_quiz_then_nothing(nurse, cpm, training, attended):
    services.quiz_question_create(user=cpm, training=training, data={"text": "Q?", "options": ["a", "b"],
                                                                     "correct": [0]})
    training.refresh_from_db()
    services.training_update(user=cpm, training=training, data={"quiz_required": True}, version=training.version,
                             reason="Quiz")
    today = timezone.localdate()
    assert _kinds(work_items(nurse, today)) == [("training.acknowledge", "due")]
    services.attendance_acknowledge(user=nurse, attendance=attended, password=PASSWORD)
    assert _kinds(work_items(nurse, today)) == [("training.quiz", "due")]
    qid = training.questions.get().pk
    services.quiz_attempt_submit(user=nurse, training=training, person=nurse.person, answers={qid: [0]})
    assert work_items(nurse, today) == []


def test_expiring_certificate(nurse, cpm, study, protocol):
    cert = complete_protocol_training(cpm, study, nurse.person, validity_months=12, days_ago=340)
    today = timezone.localdate()
    kinds = _kinds(work_items(nurse, today))
    assert ("training.certificate_expiring", "due") in kinds
    assert ("training.requirement", "due") in kinds          # the refresher scheduled at issue
    assert not [i for i in work_items(nurse, cert.valid_until + dt.timedelta(days=1))
                if i.kind == "training.certificate_expiring"]


def test_managers_see_others_overdue_requirements_in_their_scope(nurse, cpm, study, sites, make_user):
    today = timezone.localdate()
    services.training_requirement_create(user=cpm, study=study, person=nurse.person, kind="other",
                                         due_date=today - dt.timedelta(days=1))
    [item] = work_items(cpm, today)
    assert item.kind == "training.requirement_overdue" and nurse.person.full_name in item.title
    cra_elsewhere = make_user(Role.CRA, study=study, sites=[sites[1]])
    assert work_items(cra_elsewhere, today) == []
    cra_here = make_user(Role.CRA, study=study, sites=[sites[0]])
    assert _kinds(work_items(cra_here, today)) == [("training.requirement_overdue", "overdue")]
    viewer = make_user(Role.VIEWER, study=study)
    assert work_items(viewer, today) == []
