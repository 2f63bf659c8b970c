"""Every write of the training area: templates, trainings, sessions, attendance, quizzes, certificates,
requirements. Each checks permissions through accounts.permissions and writes the audit trail.

Certificates are never created directly: they are issued when a person has attended a session (recorded by
the trainer and acknowledged by the attendee's own e-signature) and passed the quiz (when one is required).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.audit.chain import canonical_json
from trialdesk.audit.services import Action, audit_event_create
from trialdesk.core.crud import record_create, record_soft_delete, record_update
from trialdesk.core.errors import AccessDenied, Conflict, InvalidTransition, ValidationFailed
from trialdesk.core.records import bump_version, check_version, require_reason, to_jsonable
from trialdesk.signatures.services import signature_create
from trialdesk.staff.selectors import active_roster, delegated_people
from trialdesk.training import certnum, rules
from trialdesk.training import quiz as quizmod
from trialdesk.training.matrix import EXPIRY_WARNING_DAYS
from trialdesk.training.models import (
    PROTOCOL_KINDS,
    REQUIREMENT_KINDS,
    TRAINING_KINDS,
    TRAINING_STATUSES,
    Attendance,
    Certificate,
    QuizAttempt,
    QuizQuestion,
    Training,
    TrainingRequirement,
    TrainingSession,
    TrainingTemplate,
)

TEMPLATE_FIELDS = frozenset({"name", "kind", "description", "checklist", "agenda"})
TRAINING_FIELDS = frozenset({"title", "kind", "protocol_version", "objectives", "agenda", "pass_mark",
                             "quiz_required", "validity_months"})
SESSION_FIELDS = frozenset({"mode", "trainer", "trainer_name", "starts_at", "duration_minutes", "location",
                            "materials"})
QUESTION_FIELDS = frozenset({"order", "text", "options", "correct"})
REQUIREMENT_FIELDS = frozenset({"due_date", "reason"})
# Training status transitions: plan (draft) -> run (open) -> close; a closed training can be reopened.
TRAINING_TRANSITIONS = {"draft": {"open"}, "open": {"closed"}, "closed": {"open"}}
RETRAINING_DUE_DAYS = 30


def _today() -> dt.date:
    return timezone.localdate()


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, errors=errors)


# --- Templates ----------------------------------------------------------------------------------------------

def _require_template_manage(user, study) -> None:
    """Study templates: training.manage on the study. Shared ones: a portfolio-wide training manager."""
    if study is not None:
        permissions.require(user, "training.manage", study)
    elif not permissions.is_portfolio_wide(user, "training.manage"):
        raise AccessDenied("Only a portfolio-wide training manager can change templates shared by every study "
                           "(training.manage). Copy the template into your study instead.")


def _template_data(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    errors: dict[str, list[str]] = {}
    if "checklist" in data:
        data["checklist"], errs = rules.checklist_items(data["checklist"])
        errors.update(errs)
    if "agenda" in data:
        data["agenda"], errs = rules.agenda(data["agenda"])
        errors.update(errs)
    if "kind" in data and data["kind"] not in TRAINING_KINDS:
        errors["kind"] = [f"Kind must be one of: {', '.join(TRAINING_KINDS)}."]
    _raise(errors)
    return data


@transaction.atomic
def training_template_create(*, user, study=None, data: dict[str, Any], reason: str = "") -> TrainingTemplate:
    _require_template_manage(user, study)
    return record_create(actor=user, instance=TrainingTemplate(study=study, builtin=False),
                         data=_template_data(data), allowed=TEMPLATE_FIELDS, reason=reason)


@transaction.atomic
def training_template_copy(*, user, template: TrainingTemplate, study=None, name: str = "") -> TrainingTemplate:
    """An editable copy of a template (built-in or not), for one study or (portfolio-wide managers) for all."""
    _require_template_manage(user, study)
    if study is not None and template.study_id not in (None, study.pk):
        raise ValidationFailed.field("template", "This template belongs to another study.")
    data = {"name": (name or "").strip() or f"{template.name} (copy)", "kind": template.kind,
            "description": template.description, "checklist": list(template.checklist),
            "agenda": [dict(t) for t in template.agenda]}
    return record_create(actor=user, instance=TrainingTemplate(study=study, builtin=False), data=data,
                         allowed=TEMPLATE_FIELDS, reason=f"Copied from template {template.name!r} (#{template.pk}).")


def training_template_check_editable(user, template: TrainingTemplate) -> None:
    """Raise unless the user may change this template (built-ins never; shared ones: portfolio-wide managers)."""
    if template.builtin:
        raise InvalidTransition("Built-in templates cannot be changed; copy the template and edit the copy.",
                                errors={"builtin": ["Built-in templates are read-only."]})
    _require_template_manage(user, template.study)


@transaction.atomic
def training_template_update(*, user, template: TrainingTemplate, data: dict[str, Any], version: int | None,
                             reason: str) -> TrainingTemplate:
    training_template_check_editable(user, template)
    return record_update(actor=user, instance=template, data=_template_data(data), allowed=TEMPLATE_FIELDS,
                         version=version, reason=reason)[0]


@transaction.atomic
def training_template_delete(*, user, template: TrainingTemplate, version: int | None, reason: str
                             ) -> TrainingTemplate:
    training_template_check_editable(user, template)
    return record_soft_delete(actor=user, instance=template, version=version, reason=reason)


# --- Trainings -----------------------------------------------------------------------------------------------

def _training_data(study, data: dict[str, Any], *, current: Training | None = None) -> dict[str, Any]:
    data = dict(data)
    errors: dict[str, list[str]] = {}
    if "agenda" in data:
        data["agenda"], errs = rules.agenda(data["agenda"])
        errors.update(errs)
    kind = data.get("kind", current.kind if current else "protocol")
    if kind not in TRAINING_KINDS:
        errors["kind"] = [f"Kind must be one of: {', '.join(TRAINING_KINDS)}."]
    pv = data.get("protocol_version", current.protocol_version if current else None)
    if pv is not None and pv.study_id != study.pk:
        errors["protocol_version"] = ["This protocol version belongs to another study."]
    elif pv is not None and pv.status == "draft" and kind in PROTOCOL_KINDS:
        errors["protocol_version"] = [f"Protocol version {pv.version_number} is a draft: protocol training "
                                      "is given on an approved version."]
    if kind in PROTOCOL_KINDS and pv is None and study.protocol_versions.filter(status="approved").exists():
        errors["protocol_version"] = ["Choose the protocol version this training covers."]
    _raise(errors)
    return data


@transaction.atomic
def training_create(*, user, study, data: dict[str, Any], template: TrainingTemplate | None = None,
                    reason: str = "") -> Training:
    """A training of the study, in Draft. From a template: its checklist (unticked) and agenda are copied."""
    permissions.require(user, "training.manage", study)
    data = dict(data)
    if template is not None:
        if template.study_id not in (None, study.pk):
            raise ValidationFailed.field("template_id", "This template belongs to another study.")
        data.setdefault("kind", template.kind)
        data.setdefault("title", template.name)
        data.setdefault("agenda", [dict(t) for t in template.agenda])
    if "protocol_version" not in data and data.get("kind", "protocol") in PROTOCOL_KINDS:
        from trialdesk.training.selectors import current_protocol_version

        data["protocol_version"] = current_protocol_version(study)
    checklist_items = data.pop("checklist_items", None)
    if checklist_items is None and template is not None:
        checklist_items = list(template.checklist)
    items, errors = rules.checklist_items(checklist_items or [])
    _raise(errors)
    data = _training_data(study, data)
    training = Training(study=study, template=template, status="draft", checklist=rules.checklist_from_items(items))
    return record_create(actor=user, instance=training, data=data, allowed=TRAINING_FIELDS, reason=reason)


@transaction.atomic
def training_update(*, user, training: Training, data: dict[str, Any], version: int | None, reason: str,
                    checklist_items: list[str] | None = None) -> Training:
    """Edit a training. Its kind and protocol version are fixed once certificates have been issued."""
    permissions.require(user, "training.manage", training)
    data = _training_data(training.study, data, current=training)
    if training.certificates.exists():
        new_pv = data.get("protocol_version", training.protocol_version)
        if data.get("kind", training.kind) != training.kind or getattr(new_pv, "pk", None) != \
                training.protocol_version_id:
            raise ValidationFailed.field("kind" if "kind" in data else "protocol_version",
                                         "Certificates have been issued for this training: its kind and protocol "
                                         "version can no longer change.")
    allowed = TRAINING_FIELDS
    if checklist_items is not None:
        items, errors = rules.checklist_items(checklist_items)
        _raise(errors)
        data["checklist"] = rules.checklist_from_items(items, training.checklist)
        allowed = allowed | {"checklist"}
    return record_update(actor=user, instance=training, data=data, allowed=allowed, version=version,
                         reason=reason)[0]


@transaction.atomic
def training_transition(*, user, training: Training, status: str, version: int | None, reason: str = ""
                        ) -> Training:
    permissions.require(user, "training.manage", training)
    check_version(training, version)
    if status not in TRAINING_STATUSES:
        raise ValidationFailed.field("status", f"Status must be one of: {', '.join(TRAINING_STATUSES)}.")
    if status not in TRAINING_TRANSITIONS.get(training.status, set()):
        message = (f"A {training.get_status_display().lower()} training cannot be set to "
                   f"{TRAINING_STATUSES[status].lower()}.")
        raise InvalidTransition(message, errors={"status": [message]})
    if status == "open" and training.quiz_required and not training.questions.exists():
        raise InvalidTransition("This training requires a quiz: add its questions before opening it.",
                                errors={"quiz_required": ["The quiz has no questions."]})
    reason = require_reason(reason)
    old = training.status
    training.status = status
    bump_version(training)
    training.save(update_fields=["status", "version", "updated_at"])
    audit_event_create(actor=user, action=Action.TRANSITION, record=training, changes={"status": [old, status]},
                       reason=reason)
    return training


@transaction.atomic
def training_checklist_tick(*, user, training: Training, index: int, done: bool, version: int | None,
                            reason: str = "") -> Training:
    """Tick (or untick) one preparation checklist item; who and when are recorded on the item."""
    permissions.require(user, "training.manage", training)
    check_version(training, version)
    checklist = [dict(row) for row in training.checklist or []]
    if not 0 <= index < len(checklist):
        raise ValidationFailed.field("index", f"There is no checklist item {index + 1}.")
    row = checklist[index]
    if bool(row.get("done")) == bool(done):
        return training
    old = dict(row)
    row.update({"done": bool(done), "done_by": user.display_name if done else "",
                "done_at": timezone.now().isoformat() if done else None})
    training.checklist = checklist
    bump_version(training)
    training.save(update_fields=["checklist", "version", "updated_at"])
    default = f"Preparation checklist: {row['item']!r} {'done' if done else 'not done after all'}."
    audit_event_create(actor=user, action=Action.UPDATE, record=training,
                       changes={f"checklist[{index}]": [old, row]}, reason=(reason or "").strip() or default)
    return training


@transaction.atomic
def training_delete(*, user, training: Training, version: int | None, reason: str) -> Training:
    permissions.require(user, "training.manage", training)
    if training.certificates.exists() or Attendance.objects.filter(session__training=training,
                                                                   acknowledgement__isnull=False).exists():
        raise Conflict("This training has acknowledged attendance or certificates; close it instead of deleting it.")
    return record_soft_delete(actor=user, instance=training, version=version, reason=reason)


# --- Sessions --------------------------------------------------------------------------------------------------

def _session_sites(training: Training, sites: list | None) -> list | None:
    if sites is None:
        return None
    wrong = [s for s in sites if s.study_id != training.study_id]
    if wrong:
        raise ValidationFailed.field("site_ids", "Sessions can only be for sites of the training's study.")
    return sites


def _session_check(session: TrainingSession) -> None:
    if not session.trainer_id and not (session.trainer_name or "").strip():
        raise ValidationFailed.field("trainer_id", "Name the trainer (a person, or the trainer's name).")


def _open_or_draft(training: Training) -> None:
    if training.status == "closed":
        raise InvalidTransition("This training is closed; reopen it to change its sessions or quiz.",
                                errors={"status": ["The training is closed."]})


@transaction.atomic
def training_session_create(*, user, training: Training, data: dict[str, Any], sites: list | None = None,
                            reason: str = "") -> TrainingSession:
    permissions.require(user, "training.manage", training)
    _open_or_draft(training)
    session = TrainingSession(training=training)
    sites = _session_sites(training, sites)
    for name in ("trainer", "trainer_name"):
        if name in data:
            setattr(session, name, data[name])
    _session_check(session)
    return record_create(actor=user, instance=session, data=data, allowed=SESSION_FIELDS, reason=reason,
                         m2m={"sites": sites} if sites else None)


@transaction.atomic
def training_session_update(*, user, session: TrainingSession, data: dict[str, Any], version: int | None,
                            reason: str, sites: list | None = None) -> TrainingSession:
    permissions.require(user, "training.manage", session)
    _open_or_draft(session.training)
    if session.attendance.filter(acknowledgement__isnull=False).exists() and \
            set(data) & {"starts_at", "duration_minutes", "trainer", "trainer_name"}:
        raise Conflict("Attendees have acknowledged this session as it was: its date, duration and trainer can no "
                       "longer change.")
    sites = _session_sites(session.training, sites)
    session, changes = record_update(actor=user, instance=session, data=data, allowed=SESSION_FIELDS,
                                     version=version, reason=reason, m2m={"sites": sites} if sites is not None
                                     else None)
    _session_check(session)
    return session


@transaction.atomic
def training_session_delete(*, user, session: TrainingSession, version: int | None, reason: str
                            ) -> TrainingSession:
    permissions.require(user, "training.manage", session)
    if session.attendance.filter(acknowledgement__isnull=False).exists() or session.certificates.exists():
        raise Conflict("Attendance at this session has been acknowledged; it cannot be deleted.")
    return record_soft_delete(actor=user, instance=session, version=version, reason=reason)


# --- Attendance --------------------------------------------------------------------------------------------------

@transaction.atomic
def attendance_invite(*, user, session: TrainingSession, people: list, reason: str = "") -> list[Attendance]:
    """Put people on the session's attendance list (invited). People already on it are left as they are."""
    permissions.require(user, "training.manage", session)
    _open_or_draft(session.training)
    if not people:
        raise ValidationFailed.field("person_ids", "Choose at least one person.")
    existing = set(session.attendance.values_list("person_id", flat=True))
    out = []
    for person in people:
        if person.pk in existing:
            continue
        existing.add(person.pk)
        out.append(record_create(actor=user, instance=Attendance(session=session, person=person, status="invited"),
                                 data={}, allowed=frozenset(), reason=reason))
    return out


@transaction.atomic
def attendance_record(*, user, attendance: Attendance, status: str, version: int | None, reason: str = ""
                      ) -> Attendance:
    """The trainer records who attended (or was absent). Acknowledged attendance is signed: it stays."""
    permissions.require(user, "training.manage", attendance)
    _open_or_draft(attendance.session.training)
    if status not in ("attended", "absent", "invited"):
        raise ValidationFailed.field("status", "Status must be attended, absent or invited.")
    if attendance.acknowledgement_id:
        raise InvalidTransition("The attendee has acknowledged this attendance by e-signature; it cannot change.",
                                errors={"status": ["Acknowledged attendance cannot change."]})
    if attendance.session.starts_at > timezone.now() and status != "invited":
        raise ValidationFailed.field("status", "The session has not started yet: record attendance once it has.")
    check_version(attendance, version)
    if attendance.status == status:
        return attendance
    old = attendance.status
    attendance.status = status
    bump_version(attendance)
    attendance.save(update_fields=["status", "version", "updated_at"])
    audit_event_create(actor=user, action=Action.UPDATE, record=attendance, changes={"status": [old, status]},
                       reason=(reason or "").strip() or f"Attendance recorded by the trainer: {status}.")
    return attendance


def attendance_acknowledge(*, user, attendance: Attendance, password: str, comment: str = "") -> Attendance:
    """The attendee confirms their own attendance with their password (electronic signature, meaning
    "reviewed": they attended and received the training content shown). May issue the certificate."""
    permissions.require(user, "training.attend", attendance)
    if not user.person_id or user.person_id != attendance.person_id:
        raise AccessDenied("Only the attendee can acknowledge their own attendance.")
    _acknowledgeable(attendance)
    signature = signature_create(user=user, password=password, record=attendance, meaning="reviewed",
                                 comment=(comment or "").strip() or "I attended this training session.")
    return _attendance_mark_acknowledged(user=user, attendance=attendance, signature=signature)


def _acknowledgeable(attendance: Attendance) -> None:
    if attendance.session.training.status != "open":
        raise InvalidTransition("Attendance can be acknowledged while the training is open.",
                                errors={"status": ["The training is not open."]})
    if attendance.acknowledgement_id:
        raise InvalidTransition("You have already acknowledged this attendance.",
                                errors={"acknowledgement": ["Already acknowledged."]})
    if attendance.status != "attended":
        raise InvalidTransition("The trainer has not recorded your attendance yet; you can acknowledge it once "
                                "they have.", errors={"status": ["Attendance not recorded by the trainer."]})


@transaction.atomic
def _attendance_mark_acknowledged(*, user, attendance: Attendance, signature) -> Attendance:
    attendance = (Attendance.objects.select_for_update(of=("self",)).select_related("session__training")
                  .get(pk=attendance.pk))
    _acknowledgeable(attendance)
    attendance.acknowledgement = signature
    attendance.acknowledged_at = signature.signed_at
    bump_version(attendance)
    attendance.save(update_fields=["acknowledgement", "acknowledged_at", "version", "updated_at"])
    audit_event_create(actor=user, action=Action.UPDATE, record=attendance,
                       changes={"acknowledgement": [None, signature.pk]},
                       reason="Attendance acknowledged by the attendee's electronic signature.")
    certificate_issue_if_complete(actor=user, training=attendance.session.training, person=attendance.person)
    return attendance


# --- Quiz ------------------------------------------------------------------------------------------------------

def _question_data(data: dict[str, Any], current: QuizQuestion | None = None) -> dict[str, Any]:
    data = dict(data)
    if isinstance(data.get("options"), list):
        data["options"] = [o.strip() if isinstance(o, str) else o for o in data["options"]]
    text = data.get("text", current.text if current else "")
    options = data.get("options", current.options if current else [])
    correct = data.get("correct", current.correct if current else [])
    _raise(quizmod.question_errors(text, options, correct))
    if "correct" in data:
        data["correct"] = sorted(data["correct"])
    return data


@transaction.atomic
def quiz_question_create(*, user, training: Training, data: dict[str, Any], reason: str = "") -> QuizQuestion:
    permissions.require(user, "training.manage", training)
    _open_or_draft(training)
    data = _question_data(data)
    if "order" not in data:
        last = training.questions.order_by("-order").values_list("order", flat=True).first()
        data["order"] = (last or 0) + 1
    return record_create(actor=user, instance=QuizQuestion(training=training), data=data,
                         allowed=QUESTION_FIELDS, reason=reason)


@transaction.atomic
def quiz_question_update(*, user, question: QuizQuestion, data: dict[str, Any], version: int | None,
                         reason: str) -> QuizQuestion:
    permissions.require(user, "training.manage", question)
    _open_or_draft(question.training)
    return record_update(actor=user, instance=question, data=_question_data(data, question),
                         allowed=QUESTION_FIELDS, version=version, reason=reason)[0]


@transaction.atomic
def quiz_question_delete(*, user, question: QuizQuestion, version: int | None, reason: str) -> QuizQuestion:
    permissions.require(user, "training.manage", question)
    _open_or_draft(question.training)
    training = question.training
    if training.quiz_required and training.status == "open" and training.questions.count() == 1:
        raise Conflict("This is the last question of a required quiz; add another before deleting it.")
    return record_soft_delete(actor=user, instance=question, version=version, reason=reason)


def _quiz_questions(training: Training) -> list[quizmod.Question]:
    return [quizmod.Question(id=q.pk, text=q.text, options=tuple(q.options), correct=frozenset(q.correct))
            for q in training.questions.order_by("order", "id")]


def _last_certificate(training: Training, person) -> Certificate | None:
    return (Certificate.objects.filter(training=training, person=person, revoked_at__isnull=True)
            .order_by("-issued_at", "-id").first())


def _holds_current_certificate(cert: Certificate | None, today: dt.date) -> bool:
    """A certificate that needs no renewal yet (no expiry, or expiry beyond the warning window)."""
    return cert is not None and (cert.valid_until is None or (cert.valid_until - today).days > EXPIRY_WARNING_DAYS)


@transaction.atomic
def quiz_attempt_submit(*, user, training: Training, person, answers: dict[int, list[int]]) -> QuizAttempt:
    """Score an attempt automatically. The attendee takes their own quiz (training.attend); a trainer may enter a
    paper quiz for an attendee (training.manage). A failed attempt can be retaken; a pass needs no retake."""
    if user.person_id and person.pk == user.person_id:
        permissions.require(user, "training.attend", training)
    else:
        permissions.require(user, "training.manage", training)
    training = Training.objects.select_for_update().get(pk=training.pk)
    if training.status != "open":
        raise InvalidTransition("The quiz can be taken while the training is open.",
                                errors={"status": ["The training is not open."]})
    if not Attendance.objects.filter(session__training=training, session__is_deleted=False, person=person) \
            .exclude(status="absent").exists():
        raise ValidationFailed.field("person_id", f"{person.full_name} is not on this training's attendance list.")
    questions = _quiz_questions(training)
    if not questions:
        raise InvalidTransition("This training has no quiz questions.", errors={"answers": ["No questions."]})
    last_cert = _last_certificate(training, person)
    current = _holds_current_certificate(last_cert, _today())
    previous = QuizAttempt.objects.filter(training=training, person=person).order_by("-attempt_no")
    passed_before = previous.filter(passed=True)
    if last_cert is not None and not current:
        # Renewing a certificate that expires (or has): only a pass after it counts.
        passed_before = passed_before.filter(attempted_at__gt=last_cert.issued_at)
    if passed_before.exists() or (training.quiz_required and current):
        raise InvalidTransition(f"{person.full_name} has already passed this quiz.",
                                errors={"answers": ["Already passed."]})
    cleaned: dict[int, list[int]] = {}
    for key, value in (answers or {}).items():
        try:
            qid = int(key)
        except (TypeError, ValueError):
            raise ValidationFailed.field("answers", f"Unknown question {key!r}.") from None
        cleaned[qid] = list(value) if isinstance(value, list | tuple) else [value]
    errors = quizmod.answer_errors(questions, cleaned)
    _raise(errors)
    result = quizmod.score(questions, cleaned, training.pass_mark)
    last = previous.first()
    attempt = QuizAttempt(
        training=training, person=person, attempt_no=(last.attempt_no + 1) if last else 1,
        answers={str(k): sorted(set(v)) for k, v in cleaned.items()},
        questions=[{"id": q.id, "text": q.text, "options": list(q.options), "correct": sorted(q.correct)}
                   for q in questions],
        score_percent=result.percent, passed=result.passed, pass_mark=training.pass_mark, entered_by=user,
        attempted_at=timezone.now())
    try:
        with transaction.atomic():
            attempt.save()
    except IntegrityError:
        raise Conflict("Another attempt was saved at the same time; reload and try again.") from None
    audit_event_create(actor=user, action=Action.CREATE, record=attempt, changes={
        "person": [None, person.pk], "attempt_no": [None, attempt.attempt_no],
        "score_percent": [None, attempt.score_percent], "passed": [None, attempt.passed],
        "pass_mark": [None, attempt.pass_mark], "answers": [None, attempt.answers]},
        reason="Quiz attempt scored automatically" + ("" if person.pk == user.person_id
                                                      else " (entered by the trainer)"))
    if attempt.passed:
        certificate_issue_if_complete(actor=user, training=training, person=person)
    return attempt


# --- Certificates --------------------------------------------------------------------------------------------

def certificate_content_hash(cert: Certificate) -> str:
    return hashlib.sha256(canonical_json(to_jsonable(cert.certified_facts())).encode()).hexdigest()


def _study_label(study) -> str:
    return f"{study.protocol_number} — {study.brief_title}" if study.brief_title else study.protocol_number


def certificate_issue_if_complete(*, actor, training: Training, person) -> Certificate | None:
    """Issue a certificate when the person has completed the training and holds no current one for it:
    attendance recorded and acknowledged, and (quiz required) a passed attempt since any earlier certificate."""
    with transaction.atomic():
        training = Training.objects.select_for_update(of=("self",)).select_related("study", "protocol_version").get(
            pk=training.pk)
        if training.status != "open":
            return None
        last = _last_certificate(training, person)
        today = _today()
        if _holds_current_certificate(last, today):
            return None
        since = last.issued_at if last else None
        attendance = (Attendance.objects.filter(session__training=training, session__is_deleted=False,
                                                person=person, status="attended", acknowledgement__isnull=False)
                      .select_related("session", "session__trainer"))
        if since is not None:
            attendance = attendance.filter(acknowledged_at__gt=since)
        attendance = attendance.order_by("-session__starts_at").first()
        if attendance is None:
            return None
        attempt = None
        if training.quiz_required:
            attempts = QuizAttempt.objects.filter(training=training, person=person, passed=True)
            if since is not None:
                attempts = attempts.filter(attempted_at__gt=since)
            attempt = attempts.order_by("-attempted_at").first()
            if attempt is None:
                return None
        else:
            attempt = (QuizAttempt.objects.filter(training=training, person=person, passed=True)
                       .order_by("-attempted_at").first())
        return _certificate_create(actor=actor, training=training, person=person, session=attendance.session,
                                   attempt=attempt)


def _certificate_create(*, actor, training: Training, person, session: TrainingSession, attempt) -> Certificate:
    training_date = timezone.localtime(session.starts_at).date()
    pv = training.protocol_version
    cert = Certificate(
        training=training, session=session, person=person, study=training.study, protocol_version=pv,
        quiz_attempt=attempt, person_name=person.full_name, training_title=training.title,
        training_kind=training.kind, study_label=_study_label(training.study),
        protocol_version_label=pv.version_number if pv else "", topics=training.topics,
        trainer_name=session.trainer_display, training_date=training_date,
        score_percent=attempt.score_percent if attempt else None, issued_at=timezone.now(),
        valid_until=rules.valid_until(training_date, training.validity_months))
    for _ in range(5):
        cert.number = certnum.new_number()
        if not Certificate.objects.filter(number=cert.number).exists():
            break
    else:  # pragma: no cover - 40 random bits colliding five times running
        raise Conflict("Could not allocate a certificate number; try again.")
    cert.content_hash = certificate_content_hash(cert)
    try:
        with transaction.atomic():
            cert.save()
    except IntegrityError:
        raise Conflict("A certificate was issued at the same time; reload the page.") from None
    reason = "Issued automatically: attendance acknowledged" + (
        f" and quiz passed ({attempt.score_percent:g}%)" if training.quiz_required and attempt else "") + "."
    audit_event_create(actor=actor, action=Action.CREATE, record=cert, changes={
        k: [None, v] for k, v in to_jsonable(cert.certified_facts()).items() if v not in (None, "", [])}
        | {"content_hash": [None, cert.content_hash]}, reason=reason)
    _requirements_fulfil(actor=actor, cert=cert)
    if cert.valid_until is not None:
        _refresher_schedule(actor=actor, cert=cert)
    return cert


def _requirements_fulfil(*, actor, cert: Certificate) -> list[TrainingRequirement]:
    """Close the person's open requirements this certificate satisfies."""
    open_reqs = TrainingRequirement.objects.select_for_update().filter(person=cert.person, study=cert.study,
                                                                       status="open")
    done = []
    for req in open_reqs:
        if req.training_id is not None:
            ok = req.training_id == cert.training_id
        elif req.kind in ("protocol", "retraining"):
            ok = cert.training_kind in PROTOCOL_KINDS and (req.protocol_version_id is None
                                                           or req.protocol_version_id == cert.protocol_version_id)
        else:
            ok = cert.training_kind == req.kind
        if not ok:
            continue
        req.status = "done"
        req.fulfilled_by = cert
        req.closed_at = timezone.now()
        bump_version(req)
        req.save(update_fields=["status", "fulfilled_by", "closed_at", "version", "updated_at"])
        audit_event_create(actor=actor, action=Action.TRANSITION, record=req,
                           changes={"status": ["open", "done"], "fulfilled_by": [None, cert.pk]},
                           reason=f"Fulfilled by certificate {cert.number}.")
        done.append(req)
    return done


def _refresher_schedule(*, actor, cert: Certificate) -> TrainingRequirement | None:
    """A certificate that expires brings a refresher requirement due on its last valid day."""
    if TrainingRequirement.objects.filter(person=cert.person, training=cert.training, kind="refresher",
                                          status="open").exists():
        return None
    site = _person_site(cert.study, cert.person)
    req = TrainingRequirement(study=cert.study, site=site, person=cert.person, kind="refresher",
                              training=cert.training, protocol_version=cert.protocol_version,
                              due_date=cert.valid_until,
                              reason=f"Certificate {cert.number} expires on {cert.valid_until.isoformat()}: "
                                     "refresher needed before then.")
    return record_create(actor=actor, instance=req, data={}, allowed=frozenset(),
                         reason="Refresher scheduled from the training's validity period.")


@transaction.atomic
def certificate_revoke(*, user, certificate: Certificate, reason: str) -> Certificate:
    """Withdraw a certificate issued in error. The requirements it fulfilled open again."""
    permissions.require(user, "training.manage", certificate)
    reason = require_reason(reason)
    cert = Certificate.objects.select_for_update().get(pk=certificate.pk)
    if cert.revoked_at is not None:
        raise InvalidTransition("This certificate is already revoked.", errors={"record": ["Already revoked."]})
    cert.revoked_at = timezone.now()
    cert.revoked_reason = reason
    cert.revoked_by = user
    cert.save(update_fields=["revoked_at", "revoked_reason", "revoked_by"])
    audit_event_create(actor=user, action=Action.TRANSITION, record=cert,
                       changes={"revoked_at": [None, cert.revoked_at]}, reason=reason)
    for req in TrainingRequirement.objects.select_for_update().filter(fulfilled_by=cert, status="done"):
        req.status = "open"
        req.fulfilled_by = None
        req.closed_at = None
        bump_version(req)
        req.save(update_fields=["status", "fulfilled_by", "closed_at", "version", "updated_at"])
        audit_event_create(actor=user, action=Action.TRANSITION, record=req,
                           changes={"status": ["done", "open"], "fulfilled_by": [cert.pk, None]},
                           reason=f"Certificate {cert.number} revoked: {reason}")
    return cert


# --- Requirements ----------------------------------------------------------------------------------------------

def _person_site(study, person):
    """The site where the person is on the study's roster (the first one), for requirement scoping."""
    entry = active_roster(study).filter(person_id=person.pk).first()
    return entry.site if entry is not None else None


@transaction.atomic
def training_requirement_create(*, user, study, person, kind: str, due_date: dt.date, training=None,
                                protocol_version=None, site=None, reason: str = "") -> TrainingRequirement:
    """Someone must complete a training by a date (a refresher, another training, protocol training)."""
    if kind not in REQUIREMENT_KINDS:
        raise ValidationFailed.field("kind", f"Kind must be one of: {', '.join(REQUIREMENT_KINDS)}.")
    if site is not None and site.study_id != study.pk:
        raise ValidationFailed.field("site_id", "This site belongs to another study.")
    if training is not None and training.study_id != study.pk:
        raise ValidationFailed.field("training_id", "This training belongs to another study.")
    if protocol_version is not None and protocol_version.study_id != study.pk:
        raise ValidationFailed.field("protocol_version_id", "This protocol version belongs to another study.")
    site = site or _person_site(study, person)
    req = TrainingRequirement(study=study, site=site, person=person, kind=kind, training=training,
                              protocol_version=protocol_version)
    permissions.require(user, "training.manage", req)
    if due_date is None:
        raise ValidationFailed.field("due_date", "A due date is required.")
    return record_create(actor=user, instance=req, data={"due_date": due_date, "reason": reason or ""},
                         allowed=REQUIREMENT_FIELDS, reason=reason)


@transaction.atomic
def training_requirement_update(*, user, requirement: TrainingRequirement, data: dict[str, Any],
                                version: int | None, reason: str) -> TrainingRequirement:
    permissions.require(user, "training.manage", requirement)
    if requirement.status != "open":
        raise InvalidTransition("Only an open requirement can be changed.", errors={"status": ["Not open."]})
    return record_update(actor=user, instance=requirement, data=data, allowed=REQUIREMENT_FIELDS, version=version,
                         reason=reason)[0]


@transaction.atomic
def training_requirement_waive(*, user, requirement: TrainingRequirement, version: int | None, reason: str
                               ) -> TrainingRequirement:
    """Waive an open requirement (the person left the study, trained elsewhere...), with a reason."""
    permissions.require(user, "training.manage", requirement)
    check_version(requirement, version)
    reason = require_reason(reason)
    if requirement.status != "open":
        raise InvalidTransition("Only an open requirement can be waived.", errors={"status": ["Not open."]})
    return _requirement_close(actor=user, requirement=requirement, status="waived", reason=reason)


def _requirement_close(*, actor, requirement: TrainingRequirement, status: str, reason: str) -> TrainingRequirement:
    old = requirement.status
    requirement.status = status
    requirement.closed_at = timezone.now()
    bump_version(requirement)
    requirement.save(update_fields=["status", "closed_at", "version", "updated_at"])
    audit_event_create(actor=actor, action=Action.TRANSITION, record=requirement, changes={"status": [old, status]},
                       reason=reason)
    return requirement


@transaction.atomic
def retraining_requirements_create(*, user, protocol_version, due_days: int = RETRAINING_DUE_DAYS,
                                   approved_on: dt.date | None = None) -> list[TrainingRequirement]:
    """A protocol version was approved: everyone delegated on the study must be (re)trained on it.

    Called by studies.services in the approval transaction (the approver is the actor; no training.manage
    needed: the requirements follow from the approval). Open requirements for older versions are closed as
    superseded; people already certified on this version get none. Due `due_days` after `approved_on` (default
    today; the demo dates its history).
    """
    study = protocol_version.study
    today = _today()
    approved_on = approved_on or today
    superseded = TrainingRequirement.objects.select_for_update().filter(
        study=study, status="open", kind__in=("protocol", "retraining")).exclude(protocol_version=protocol_version)
    for req in superseded.exclude(protocol_version__isnull=True):
        _requirement_close(actor=user, requirement=req, status="waived",
                           reason=f"Superseded: protocol version {protocol_version.version_number} approved.")
    has_earlier = study.protocol_versions.filter(status__in=("approved", "superseded")) \
        .exclude(pk=protocol_version.pk).exists()
    kind = "retraining" if has_earlier else "protocol"
    certified = set(Certificate.objects.filter(study=study, protocol_version=protocol_version,
                                               training_kind__in=PROTOCOL_KINDS, revoked_at__isnull=True)
                    .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
                    .values_list("person_id", flat=True))
    pending = set(TrainingRequirement.objects.filter(study=study, protocol_version=protocol_version, status="open",
                                                     kind__in=("protocol", "retraining"))
                  .values_list("person_id", flat=True))
    created = []
    what = "Retraining" if kind == "retraining" else "Protocol training"
    for person in delegated_people(study):
        if person.pk in certified or person.pk in pending:
            continue
        req = TrainingRequirement(study=study, site=_person_site(study, person), person=person, kind=kind,
                                  protocol_version=protocol_version,
                                  due_date=approved_on + dt.timedelta(days=due_days),
                                  reason=f"{what} on protocol version {protocol_version.version_number}, approved "
                                         f"{approved_on.isoformat()}.")
        created.append(record_create(actor=user, instance=req, data={}, allowed=frozenset(),
                                     reason=f"Protocol version {protocol_version.version_number} approved: "
                                            "delegated staff must be trained on it."))
    return created
