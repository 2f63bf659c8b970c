"""Protocol training API: templates, trainings, sessions, attendance, quizzes, certificates, requirements, matrix."""

from django.http import HttpResponse
from ninja import Query, Router, Status

from trialdesk.accounts import permissions
from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, DeleteIn, PageQuery, PathId, paginate, resolve_ref
from trialdesk.core.errors import ValidationFailed
from trialdesk.organizations.selectors import person_get
from trialdesk.sites.selectors import site_get
from trialdesk.studies.selectors import protocol_version_get, study_get
from trialdesk.training import exports, selectors, services
from trialdesk.training.schemas import (
    AcknowledgeIn,
    AttemptIn,
    AttemptListOut,
    AttemptOut,
    AttendanceInviteIn,
    AttendanceListOut,
    AttendanceOut,
    AttendanceRecordIn,
    CertificateFilterIn,
    CertificateListOut,
    CertificateOut,
    ChecklistTickIn,
    MatrixOut,
    MatrixQuery,
    MyTrainingListOut,
    ProgressOut,
    QuestionListOut,
    QuizQuestionCreateIn,
    QuizQuestionOut,
    QuizQuestionUpdateIn,
    RequirementCreateIn,
    RequirementFilterIn,
    RequirementListOut,
    RequirementOut,
    RequirementUpdateIn,
    RequirementWaiveIn,
    RevokeIn,
    SessionCreateIn,
    SessionListOut,
    SessionOut,
    SessionUpdateIn,
    TemplateCopyIn,
    TemplateCreateIn,
    TemplateFilterIn,
    TemplateListOut,
    TemplateOut,
    TemplateUpdateIn,
    TrainingCreateIn,
    TrainingFilterIn,
    TrainingListOut,
    TrainingOut,
    TrainingTransitionIn,
    TrainingUpdateIn,
    VerificationOut,
    VerifyQuery,
)

router = Router()

PDF = "application/pdf"
_PDF_RESPONSE = {"responses": {200: {"description": "The certificate as a PDF",
                                     "content": {PDF: {"schema": {"type": "string", "format": "binary"}}}}}}
_XLSX_RESPONSE = {"responses": {200: {"description": "The training matrix as an Excel workbook",
                                      "content": {exports.XLSX_CONTENT_TYPE: {"schema": {"type": "string",
                                                                                         "format": "binary"}}}}}}


def _payload(payload, *drop: str) -> tuple[dict, str]:
    data = payload.dict(exclude_unset=True)
    for name in ("version", *drop):
        data.pop(name, None)
    return data, data.pop("reason", "") or ""


# --- Templates ----------------------------------------------------------------------------------------------

@router.get("/templates", response={200: TemplateListOut, **READ_ERRORS},
            summary="List training templates (shared built-ins and the study's own)")
def template_list(request, filters: Query[TemplateFilterIn]):
    study = resolve_ref("study_id", study_get, request.auth, filters.study_id)
    return paginate(selectors.template_list(request.auth, study=study), limit=filters.limit, offset=filters.offset)


@router.post("/templates", response={201: TemplateOut, **WRITE_ERRORS}, summary="Create a training template")
def template_create(request, payload: TemplateCreateIn):
    study = resolve_ref("study_id", study_get, request.auth, payload.study_id)
    data, reason = _payload(payload, "study_id")
    return Status(201, services.training_template_create(user=request.auth, study=study, data=data, reason=reason))


@router.get("/templates/{template_id}", response={200: TemplateOut, **READ_ERRORS}, summary="Get a template")
def template_get(request, template_id: PathId):
    return selectors.template_get(request.auth, template_id)


@router.patch("/templates/{template_id}", response={200: TemplateOut, **WRITE_ERRORS},
              summary="Update a template (built-ins are read-only: copy them)")
def template_update(request, template_id: PathId, payload: TemplateUpdateIn):
    template = selectors.template_get(request.auth, template_id)
    data, reason = _payload(payload)
    return services.training_template_update(user=request.auth, template=template, data=data,
                                             version=payload.version, reason=reason)


@router.delete("/templates/{template_id}", response={200: TemplateOut, **WRITE_ERRORS},
               summary="Delete a template (soft)")
def template_delete(request, template_id: PathId, payload: DeleteIn):
    template = selectors.template_get(request.auth, template_id)
    return services.training_template_delete(user=request.auth, template=template, version=payload.version,
                                             reason=payload.reason)


@router.post("/templates/{template_id}/copy", response={201: TemplateOut, **WRITE_ERRORS},
             summary="Make an editable copy of a template")
def template_copy(request, template_id: PathId, payload: TemplateCopyIn):
    template = selectors.template_get(request.auth, template_id)
    study = resolve_ref("study_id", study_get, request.auth, payload.study_id)
    return Status(201, services.training_template_copy(user=request.auth, template=template, study=study,
                                                       name=payload.name))


# --- Trainings ------------------------------------------------------------------------------------------------

def _training_input(user, study, payload) -> tuple[dict, str, list | None]:
    data, reason = _payload(payload, "study_id", "template_id")
    checklist = data.pop("checklist", None)
    if "protocol_version_id" in data:
        pv_id = data.pop("protocol_version_id")
        pv = resolve_ref("protocol_version_id", protocol_version_get, user, pv_id)
        if pv is not None and pv.study_id != study.pk:
            raise ValidationFailed.field("protocol_version_id", "This protocol version belongs to another study.")
        data["protocol_version"] = pv
    return data, reason, checklist


@router.get("/trainings", response={200: TrainingListOut, **READ_ERRORS}, summary="List trainings")
def training_list(request, filters: Query[TrainingFilterIn]):
    flt = selectors.TrainingFilter(study_id=filters.study_id, kind=filters.kind, status=filters.status,
                                   protocol_version_id=filters.protocol_version_id)
    return paginate(selectors.training_list(request.auth, flt), limit=filters.limit, offset=filters.offset)


@router.post("/trainings", response={201: TrainingOut, **WRITE_ERRORS},
             summary="Create a training (Draft), optionally from a template")
def training_create(request, payload: TrainingCreateIn):
    study = resolve_ref("study_id", study_get, request.auth, payload.study_id)
    template = resolve_ref("template_id", selectors.template_get, request.auth, payload.template_id)
    data, reason, checklist = _training_input(request.auth, study, payload)
    if checklist is not None:
        data["checklist_items"] = checklist
    return Status(201, services.training_create(user=request.auth, study=study, data=data, template=template,
                                                reason=reason))


@router.get("/trainings/{training_id}", response={200: TrainingOut, **READ_ERRORS}, summary="Get a training")
def training_get(request, training_id: PathId):
    return selectors.training_get(request.auth, training_id)


@router.patch("/trainings/{training_id}", response={200: TrainingOut, **WRITE_ERRORS}, summary="Update a training")
def training_update(request, training_id: PathId, payload: TrainingUpdateIn):
    training = selectors.training_get(request.auth, training_id)
    data, reason, checklist = _training_input(request.auth, training.study, payload)
    return services.training_update(user=request.auth, training=training, data=data, version=payload.version,
                                    reason=reason, checklist_items=checklist)


@router.delete("/trainings/{training_id}", response={200: TrainingOut, **WRITE_ERRORS},
               summary="Delete a training (soft; not once attendance is acknowledged)")
def training_delete(request, training_id: PathId, payload: DeleteIn):
    training = selectors.training_get(request.auth, training_id)
    return services.training_delete(user=request.auth, training=training, version=payload.version,
                                    reason=payload.reason)


@router.post("/trainings/{training_id}/transition", response={200: TrainingOut, **WRITE_ERRORS},
             summary="Open, close or reopen a training")
def training_transition(request, training_id: PathId, payload: TrainingTransitionIn):
    training = selectors.training_get(request.auth, training_id)
    return services.training_transition(user=request.auth, training=training, status=payload.status,
                                        version=payload.version, reason=payload.reason)


@router.post("/trainings/{training_id}/checklist", response={200: TrainingOut, **WRITE_ERRORS},
             summary="Tick or untick a preparation checklist item")
def training_checklist_tick(request, training_id: PathId, payload: ChecklistTickIn):
    training = selectors.training_get(request.auth, training_id)
    return services.training_checklist_tick(user=request.auth, training=training, index=payload.index,
                                            done=payload.done, version=payload.version, reason=payload.reason)


@router.get("/trainings/{training_id}/progress", response={200: list[ProgressOut], **READ_ERRORS},
            summary="Where each attendee stands: attended, acknowledged, quiz, certificate")
def training_progress(request, training_id: PathId):
    training = selectors.training_get(request.auth, training_id)
    return [{"person": p.person, "attended": p.attended, "acknowledged": p.acknowledged, "attempts": len(p.attempts),
             "best_score_percent": p.best_attempt.score_percent if p.best_attempt else None, "passed": p.passed,
             "certificate_number": p.certificate.number if p.certificate else None}
            for p in selectors.training_progress(training)]


# --- Sessions and attendance ------------------------------------------------------------------------------------

def _session_input(user, training, payload) -> tuple[dict, str, list | None]:
    data, reason = _payload(payload)
    sites = None
    if "site_ids" in data:
        sites = [resolve_ref("site_ids", site_get, user, pk) for pk in data.pop("site_ids") or []]
    if "trainer_id" in data:
        data["trainer"] = resolve_ref("trainer_id", person_get, user, data.pop("trainer_id"))
    return data, reason, sites


@router.get("/trainings/{training_id}/sessions", response={200: SessionListOut, **READ_ERRORS},
            summary="A training's sessions")
def session_list(request, training_id: PathId, filters: Query[PageQuery]):
    training = selectors.training_get(request.auth, training_id)
    return paginate(selectors.sessions_of(training), limit=filters.limit, offset=filters.offset)


@router.post("/trainings/{training_id}/sessions", response={201: SessionOut, **WRITE_ERRORS},
             summary="Schedule a session (in person or virtual)")
def session_create(request, training_id: PathId, payload: SessionCreateIn):
    training = selectors.training_get(request.auth, training_id)
    data, reason, sites = _session_input(request.auth, training, payload)
    return Status(201, services.training_session_create(user=request.auth, training=training, data=data,
                                                        sites=sites, reason=reason))


@router.get("/sessions/{session_id}", response={200: SessionOut, **READ_ERRORS}, summary="Get a session")
def session_get(request, session_id: PathId):
    return selectors.session_get(request.auth, session_id)


@router.patch("/sessions/{session_id}", response={200: SessionOut, **WRITE_ERRORS}, summary="Update a session")
def session_update(request, session_id: PathId, payload: SessionUpdateIn):
    session = selectors.session_get(request.auth, session_id)
    data, reason, sites = _session_input(request.auth, session.training, payload)
    return services.training_session_update(user=request.auth, session=session, data=data, sites=sites,
                                            version=payload.version, reason=reason)


@router.delete("/sessions/{session_id}", response={200: SessionOut, **WRITE_ERRORS},
               summary="Delete a session (soft; not once attendance is acknowledged)")
def session_delete(request, session_id: PathId, payload: DeleteIn):
    session = selectors.session_get(request.auth, session_id)
    return services.training_session_delete(user=request.auth, session=session, version=payload.version,
                                            reason=payload.reason)


@router.get("/sessions/{session_id}/attendance", response={200: AttendanceListOut, **READ_ERRORS},
            summary="A session's attendance log")
def attendance_list(request, session_id: PathId, filters: Query[PageQuery]):
    session = selectors.session_get(request.auth, session_id)
    return paginate(selectors.attendance_of(session), limit=filters.limit, offset=filters.offset)


@router.post("/sessions/{session_id}/attendance", response={201: list[AttendanceOut], **WRITE_ERRORS},
             summary="Invite people to a session (people already on the list are skipped)")
def attendance_invite(request, session_id: PathId, payload: AttendanceInviteIn):
    session = selectors.session_get(request.auth, session_id)
    people = [resolve_ref("person_ids", person_get, request.auth, pk) for pk in dict.fromkeys(payload.person_ids)]
    return Status(201, services.attendance_invite(user=request.auth, session=session, people=people,
                                                  reason=payload.reason))


@router.post("/attendance/{attendance_id}/record", response={200: AttendanceOut, **WRITE_ERRORS},
             summary="Trainer: record attended / absent")
def attendance_record(request, attendance_id: PathId, payload: AttendanceRecordIn):
    attendance = selectors.attendance_get(request.auth, attendance_id)
    return services.attendance_record(user=request.auth, attendance=attendance, status=payload.status,
                                      version=payload.version, reason=payload.reason)


@router.post("/attendance/{attendance_id}/acknowledge", response={200: AttendanceOut, **WRITE_ERRORS},
             summary="Attendee: acknowledge your own attendance by electronic signature (password)")
def attendance_acknowledge(request, attendance_id: PathId, payload: AcknowledgeIn):
    attendance = selectors.attendance_get(request.auth, attendance_id)
    services.attendance_acknowledge(user=request.auth, attendance=attendance, password=payload.password,
                                    comment=payload.comment)
    return selectors.attendance_get(request.auth, attendance_id)


# --- Quiz -----------------------------------------------------------------------------------------------------------

def _question_out(question, show_correct: bool) -> dict:
    return {"id": question.pk, "version": question.version, "training_id": question.training_id,
            "order": question.order, "text": question.text, "options": list(question.options),
            "correct": list(question.correct) if show_correct else None}


@router.get("/trainings/{training_id}/questions", response={200: QuestionListOut, **READ_ERRORS},
            summary="The training's quiz (correct answers shown to training managers only)")
def question_list(request, training_id: PathId, filters: Query[PageQuery]):
    training = selectors.training_get(request.auth, training_id)
    show = permissions.has_perm(request.auth, "training.manage", training)
    page = paginate(selectors.questions_of(training), limit=filters.limit, offset=filters.offset)
    return {"items": [_question_out(q, show) for q in page["items"]], "count": page["count"]}


@router.post("/trainings/{training_id}/questions", response={201: QuizQuestionOut, **WRITE_ERRORS},
             summary="Add a quiz question")
def question_create(request, training_id: PathId, payload: QuizQuestionCreateIn):
    training = selectors.training_get(request.auth, training_id)
    data, reason = _payload(payload)
    question = services.quiz_question_create(user=request.auth, training=training, data=data, reason=reason)
    return Status(201, _question_out(question, True))


@router.patch("/questions/{question_id}", response={200: QuizQuestionOut, **WRITE_ERRORS},
              summary="Update a quiz question")
def question_update(request, question_id: PathId, payload: QuizQuestionUpdateIn):
    question = selectors.question_get(request.auth, question_id)
    data, reason = _payload(payload)
    return _question_out(services.quiz_question_update(user=request.auth, question=question, data=data,
                                                       version=payload.version, reason=reason), True)


@router.delete("/questions/{question_id}", response={200: QuizQuestionOut, **WRITE_ERRORS},
               summary="Delete a quiz question (soft)")
def question_delete(request, question_id: PathId, payload: DeleteIn):
    question = selectors.question_get(request.auth, question_id)
    return _question_out(services.quiz_question_delete(user=request.auth, question=question,
                                                       version=payload.version, reason=payload.reason), True)


def _attempt_out(attempt) -> dict:
    cert = attempt.training.certificates.filter(quiz_attempt=attempt).first()
    return {"id": attempt.pk, "training_id": attempt.training_id, "person": attempt.person,
            "attempt_no": attempt.attempt_no, "score_percent": attempt.score_percent, "passed": attempt.passed,
            "pass_mark": attempt.pass_mark, "attempted_at": attempt.attempted_at, "answers": attempt.answers,
            "certificate_number": cert.number if cert else None}


@router.get("/trainings/{training_id}/attempts", response={200: AttemptListOut, **READ_ERRORS},
            summary="Quiz attempts (training managers: everyone's; others: their own)")
def attempt_list(request, training_id: PathId, filters: Query[PageQuery]):
    training = selectors.training_get(request.auth, training_id)
    person_id = None if permissions.has_perm(request.auth, "training.manage", training) \
        else (request.auth.person_id or -1)
    page = paginate(selectors.attempts_of(request.auth, training, person_id), limit=filters.limit,
                    offset=filters.offset)
    return {"items": [_attempt_out(a) for a in page["items"]], "count": page["count"]}


@router.post("/trainings/{training_id}/attempts", response={201: AttemptOut, **WRITE_ERRORS},
             summary="Submit a quiz attempt (scored automatically; a pass may issue the certificate)")
def attempt_submit(request, training_id: PathId, payload: AttemptIn):
    training = selectors.training_get(request.auth, training_id)
    if payload.person_id is None:
        if not request.auth.person_id:
            raise ValidationFailed.field("person_id", "Your login is not linked to a person: say whose attempt "
                                                      "this is.")
        person = request.auth.person
    else:
        person = resolve_ref("person_id", person_get, request.auth, payload.person_id)
    answers = {int(k): v for k, v in payload.answers.items()}
    attempt = services.quiz_attempt_submit(user=request.auth, training=training, person=person, answers=answers)
    return Status(201, _attempt_out(attempt))


# --- Certificates --------------------------------------------------------------------------------------------------

@router.get("/certificates/verify", response={200: VerificationOut, **READ_ERRORS},
            summary="Verify a certificate number (check digits, issued here, still valid)")
def certificate_verify(request, params: Query[VerifyQuery]):
    result = selectors.certificate_verify(params.number)
    c = result.certificate
    facts = {} if c is None else {
        "person_name": c.person_name, "training_title": c.training_title, "study_label": c.study_label,
        "protocol_version_label": c.protocol_version_label, "training_date": c.training_date,
        "valid_until": c.valid_until}
    return {"number": result.number, "status": result.status, "intact": result.intact, "message": result.message,
            **facts}


@router.get("/certificates", response={200: CertificateListOut, **READ_ERRORS}, summary="List certificates")
def certificate_list(request, filters: Query[CertificateFilterIn]):
    if filters.mine:
        qs = selectors.my_certificates(request.auth)
        for name in ("study_id", "training_id"):
            if getattr(filters, name) is not None:
                qs = qs.filter(**{name: getattr(filters, name)})
    else:
        qs = selectors.certificate_list(request.auth, selectors.CertificateFilter(
            study_id=filters.study_id, person_id=filters.person_id, training_id=filters.training_id))
    return paginate(qs, limit=filters.limit, offset=filters.offset)


@router.get("/certificates/{certificate_id}", response={200: CertificateOut, **READ_ERRORS},
            summary="Get a certificate")
def certificate_get(request, certificate_id: PathId):
    return selectors.certificate_get(request.auth, certificate_id)


@router.get("/certificates/{certificate_id}/pdf", response={200: None, **READ_ERRORS}, openapi_extra=_PDF_RESPONSE,
            summary="Download a certificate as PDF")
def certificate_pdf(request, certificate_id: PathId):
    cert = selectors.certificate_get(request.auth, certificate_id)
    return certificate_response(request, cert)


def certificate_response(request, cert) -> HttpResponse:
    """The certificate PDF download (shared with the web page)."""
    from django.urls import reverse

    verify = request.build_absolute_uri(reverse("training-certificate-verify")) + f"?number={cert.number}"
    body = exports.certificate_pdf(cert.certified_facts(), status=selectors.certificate_state(cert),
                                   verify_url=verify, issued_at=cert.issued_at.strftime("%Y-%m-%d %H:%M UTC"))
    response = HttpResponse(body, content_type=PDF)
    response["Content-Disposition"] = f'attachment; filename="certificate-{cert.number}.pdf"'
    return response


@router.post("/certificates/{certificate_id}/revoke", response={200: CertificateOut, **WRITE_ERRORS},
             summary="Revoke a certificate issued in error (its requirements open again)")
def certificate_revoke(request, certificate_id: PathId, payload: RevokeIn):
    cert = selectors.certificate_get(request.auth, certificate_id)
    return services.certificate_revoke(user=request.auth, certificate=cert, reason=payload.reason)


# --- Requirements ------------------------------------------------------------------------------------------------

@router.get("/requirements", response={200: RequirementListOut, **READ_ERRORS}, summary="List training requirements")
def requirement_list(request, filters: Query[RequirementFilterIn]):
    flt = selectors.RequirementFilter(study_id=filters.study_id, site_id=filters.site_id, person_id=filters.person_id,
                                      status=filters.status, kind=filters.kind)
    return paginate(selectors.requirement_list(request.auth, flt), limit=filters.limit, offset=filters.offset)


@router.post("/requirements", response={201: RequirementOut, **WRITE_ERRORS},
             summary="Require someone to complete a training by a date")
def requirement_create(request, payload: RequirementCreateIn):
    from trialdesk.training.selectors import training_get

    user = request.auth
    study = resolve_ref("study_id", study_get, user, payload.study_id)
    req = services.training_requirement_create(
        user=user, study=study, person=resolve_ref("person_id", person_get, user, payload.person_id),
        kind=payload.kind, due_date=payload.due_date,
        training=resolve_ref("training_id", training_get, user, payload.training_id),
        protocol_version=resolve_ref("protocol_version_id", protocol_version_get, user, payload.protocol_version_id),
        site=resolve_ref("site_id", site_get, user, payload.site_id), reason=payload.reason)
    return Status(201, req)


@router.get("/requirements/{requirement_id}", response={200: RequirementOut, **READ_ERRORS},
            summary="Get a training requirement")
def requirement_get(request, requirement_id: PathId):
    return selectors.requirement_get(request.auth, requirement_id)


@router.patch("/requirements/{requirement_id}", response={200: RequirementOut, **WRITE_ERRORS},
              summary="Change an open requirement's due date")
def requirement_update(request, requirement_id: PathId, payload: RequirementUpdateIn):
    req = selectors.requirement_get(request.auth, requirement_id)
    return services.training_requirement_update(user=request.auth, requirement=req,
                                                data={"due_date": payload.due_date}, version=payload.version,
                                                reason=payload.reason)


@router.post("/requirements/{requirement_id}/waive", response={200: RequirementOut, **WRITE_ERRORS},
             summary="Waive an open requirement, with a reason")
def requirement_waive(request, requirement_id: PathId, payload: RequirementWaiveIn):
    req = selectors.requirement_get(request.auth, requirement_id)
    return services.training_requirement_waive(user=request.auth, requirement=req, version=payload.version,
                                               reason=payload.reason)


# --- Matrix and one's own training ---------------------------------------------------------------------------------

def _matrix(request, study_id: int, site_id: int | None):
    study = study_get(request.auth, study_id)
    site = None
    if site_id is not None:
        site = site_get(request.auth, site_id)
        if site.study_id != study.pk:
            raise ValidationFailed.field("site_id", "This site belongs to another study.")
    return selectors.training_matrix(request.auth, study, site)


@router.get("/studies/{study_id}/matrix", response={200: MatrixOut, **READ_ERRORS},
            summary="Training matrix: roster people x required trainings (done / due / overdue / expired)")
def matrix_get(request, study_id: PathId, params: Query[MatrixQuery]):
    m = _matrix(request, study_id, params.site_id)
    return {"study": m.study, "site": m.site, "today": m.today, "protocol_version": m.protocol_version,
            "columns": m.columns, "totals": m.totals,
            "rows": [{"person": r.person, "sites": r.sites, "roles": r.roles,
                      "cells": [{"state": c.state, "date": c.date, "note": c.note} for c in r.cells]}
                     for r in m.rows]}


@router.get("/studies/{study_id}/matrix.xlsx", response={200: None, **READ_ERRORS}, openapi_extra=_XLSX_RESPONSE,
            summary="Training matrix as an Excel workbook")
def matrix_export(request, study_id: PathId, params: Query[MatrixQuery]):
    return matrix_response(_matrix(request, study_id, params.site_id))


def matrix_response(matrix) -> HttpResponse:
    """The matrix workbook download (shared with the web page)."""
    scope = f"site {matrix.site.site_number}" if matrix.site else "all sites"
    title = f"Training matrix — {matrix.study.protocol_number}, {scope}"
    response = HttpResponse(exports.matrix_xlsx(matrix, title=title), content_type=exports.XLSX_CONTENT_TYPE)
    stem = f"training-matrix-{matrix.study.protocol_number}" + (f"-site-{matrix.site.site_number}"
                                                                 if matrix.site else "")
    response["Content-Disposition"] = f'attachment; filename="{_filename(stem)}.xlsx"'
    return response


def _filename(stem: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in stem)


@router.get("/mine", response={200: MyTrainingListOut, **READ_ERRORS},
            summary="Your own trainings: attendance to acknowledge, quizzes to take, certificates")
def my_trainings(request, filters: Query[PageQuery]):
    all_rows = selectors.my_trainings(request.auth)
    rows = all_rows[filters.offset: filters.offset + filters.limit]
    return {"count": len(all_rows), "items": [
        {"training": r.training, "attendance": r.attendance, "acknowledge_attendance_ids": [a.pk for a in
                                                                                              r.can_acknowledge],
         "quiz_open": r.quiz_open, "passed": r.progress.passed,
         "certificate_number": r.progress.certificate.number if r.progress.certificate else None} for r in rows]}
