"""Work-queue provider for training (registered in `trialdesk.workqueue.registry`).

For the user's own person (`user.person`):
* open training requirements: overdue (due date passed), due (within 30 days), upcoming (later);
* attendance the trainer recorded that still waits for the user's acknowledgement (due);
* a required quiz not yet passed after acknowledging (due);
* certificates expiring within 60 days with no renewal yet (due; "overdue" once expired is the requirement's job).

For users holding training.manage on a study (at the requirement's site or study-wide): other people's overdue
requirements, one item each.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.urls import reverse

from trialdesk.accounts import permissions
from trialdesk.training.matrix import EXPIRY_WARNING_DAYS
from trialdesk.training.models import Attendance, Certificate, QuizAttempt, TrainingRequirement
from trialdesk.workqueue.items import WorkItem

DUE_SOON_DAYS = 30

KIND_LABELS = {
    "training.requirement": "Training to complete",
    "training.acknowledge": "Acknowledge attendance",
    "training.quiz": "Quiz to pass",
    "training.certificate_expiring": "Certificate expiring",
    "training.requirement_overdue": "Staff training overdue",
}


def _requirement_label(req: TrainingRequirement) -> str:
    what = req.get_kind_display()
    if req.protocol_version_id:
        what += f" on protocol version {req.protocol_version.version_number}"
    elif req.training_id:
        what += f": {req.training.title}"
    return what


def _severity(due: dt.date, today: dt.date) -> str:
    if due < today:
        return "overdue"
    if (due - today).days <= DUE_SOON_DAYS:
        return "due"
    return "upcoming"


def _own_items(user, today: dt.date) -> list[WorkItem]:
    person_id = user.person_id
    items = []
    reqs = (TrainingRequirement.objects.filter(person_id=person_id, status="open", study__is_deleted=False)
            .select_related("study", "site", "protocol_version", "training"))
    for req in reqs:
        late = (today - req.due_date).days
        items.append(WorkItem(
            kind="training.requirement", title=_requirement_label(req) + (f" (overdue {late} days)" if late > 0
                                                                          else ""),
            severity=_severity(req.due_date, today), due_date=req.due_date, study_id=req.study_id,
            study_label=req.study.protocol_number, site_id=req.site_id,
            site_label=req.site.site_number if req.site_id else "", url=reverse("my-training"),
            detail=req.reason, key=f"trainingrequirement:{req.pk}"))
    pending = (Attendance.objects.filter(person_id=person_id, status="attended", acknowledgement__isnull=True,
                                         session__is_deleted=False, session__training__status="open",
                                         session__training__is_deleted=False,
                                         session__training__study__is_deleted=False)
               .select_related("session__training__study"))
    quiz_trainings = set()
    for att in pending:
        training = att.session.training
        items.append(WorkItem(
            kind="training.acknowledge", title=f"Acknowledge your attendance: {training.title}", severity="due",
            due_date=att.session.starts_at.date(), study_id=training.study_id,
            study_label=training.study.protocol_number, url=reverse("training-acknowledge", args=[att.pk]),
            key=f"attendance:{att.pk}"))
    acknowledged = (Attendance.objects.filter(person_id=person_id, acknowledgement__isnull=False,
                                              session__training__status="open", session__training__quiz_required=True,
                                              session__training__is_deleted=False,
                                              session__training__study__is_deleted=False)
                    .select_related("session__training__study"))
    for att in acknowledged:
        training = att.session.training
        if training.pk in quiz_trainings:
            continue
        quiz_trainings.add(training.pk)
        if Certificate.objects.filter(training=training, person_id=person_id, revoked_at__isnull=True,
                                      issued_at__gte=att.acknowledged_at).exists():
            continue
        if QuizAttempt.objects.filter(training=training, person_id=person_id, passed=True,
                                      attempted_at__gte=att.acknowledged_at).exists():
            continue
        items.append(WorkItem(
            kind="training.quiz", title=f"Pass the quiz: {training.title}", severity="due",
            study_id=training.study_id, study_label=training.study.protocol_number,
            url=reverse("training-quiz", args=[training.pk]), detail=f"Pass mark {training.pass_mark}%.",
            key=f"trainingquiz:{training.pk}:{person_id}"))
    horizon = today + dt.timedelta(days=EXPIRY_WARNING_DAYS)
    expiring = (Certificate.objects.filter(person_id=person_id, revoked_at__isnull=True, valid_until__gte=today,
                                           valid_until__lte=horizon, study__is_deleted=False)
                .select_related("study"))
    for cert in expiring:
        renewed = Certificate.objects.filter(training_id=cert.training_id, person_id=person_id,
                                             revoked_at__isnull=True).filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=cert.valid_until)).exists()
        if renewed:
            continue
        items.append(WorkItem(
            kind="training.certificate_expiring",
            title=f"Certificate {cert.number} expires on {cert.valid_until.isoformat()}: {cert.training_title}",
            severity="due", due_date=cert.valid_until, study_id=cert.study_id, study_label=cert.study.protocol_number,
            url=reverse("training-certificate", args=[cert.pk]), key=f"certificate:{cert.pk}"))
    return items


def _managed_items(user, today: dt.date) -> list[WorkItem]:
    studies = permissions.visible_studies(user, "training.manage").filter(
        pk__in=permissions.visible_studies(user, "training.view").values("pk"))
    reqs = (TrainingRequirement.objects.filter(study__in=studies, status="open", due_date__lt=today)
            .exclude(person_id=user.person_id or -1)
            .select_related("study", "site", "person", "protocol_version", "training").order_by("due_date", "id"))
    items = []
    for req in reqs:
        if not permissions.has_perm(user, "training.manage", req):
            continue   # a site-limited manager: only their sites' people
        late = (today - req.due_date).days
        items.append(WorkItem(
            kind="training.requirement_overdue",
            title=f"{req.person.full_name}: {_requirement_label(req)} (overdue {late} days)", severity="overdue",
            due_date=req.due_date, study_id=req.study_id, study_label=req.study.protocol_number,
            site_id=req.site_id, site_label=req.site.site_number if req.site_id else "",
            url=reverse("training-requirements", args=[req.study_id]), detail=req.reason,
            key=f"trainingrequirement:{req.pk}"))
    return items


def work_items(user, today: dt.date) -> list[WorkItem]:
    items = _own_items(user, today) if getattr(user, "person_id", None) else []
    if permissions.has_perm(user, "training.manage"):
        items += _managed_items(user, today)
    return items
