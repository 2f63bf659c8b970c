"""Training pages: the study's Training tab, a training's page (checklist, agenda, sessions, attendance, quiz),
taking the quiz, one's own training and certificates, the matrix per study and site, verification.
Reads go through training.selectors, writes through training.services."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound
from trialdesk.core.views_utils import int_or_none, run_form, web_view
from trialdesk.organizations.selectors import person_list
from trialdesk.sites.selectors import SiteFilter, site_get, site_list
from trialdesk.staff.selectors import active_roster
from trialdesk.studies.selectors import study_get
from trialdesk.studies.views import study_page_context
from trialdesk.training import rules, selectors, services
from trialdesk.training.api import certificate_response, matrix_response
from trialdesk.training.forms import (
    AcknowledgeForm,
    AttendanceRecordForm,
    ChecklistTickForm,
    CopyTemplateForm,
    DeleteForm,
    InviteForm,
    QuestionEditForm,
    QuestionForm,
    QuizForm,
    RequirementForm,
    RevokeForm,
    SessionEditForm,
    SessionForm,
    TemplateForm,
    TrainingEditForm,
    TrainingForm,
    TransitionForm,
    VerifyForm,
    WaiveForm,
)
from trialdesk.training.matrix import STATE_LABELS
from trialdesk.training.models import TRAINING_STATUSES
from trialdesk.training.services import TRAINING_TRANSITIONS

TRAINING_PERMS = ["training.manage", "training.attend", "audit.view"]


def _training_context(request, study, extra: dict | None = None) -> dict:
    context = study_page_context(request, study, "training")
    context["can"].update(permissions.permitted(request.user, study, TRAINING_PERMS))
    context.update(extra or {})
    return context


def _form_page(request, *, study, form, title: str, cancel_url: str, status: int, extra: dict | None = None,
               template: str = "training/form.html"):
    context = _training_context(request, study, {"form": form, "title": title, "cancel_url": cancel_url,
                                                 "stale_url": request.path, **(extra or {})})
    return render(request, template, context, status=status)


def _protocol_versions(study):
    return study.protocol_versions.filter(status__in=("approved", "superseded")).order_by("-version_date", "-id")


# --- Study tab ------------------------------------------------------------------------------------------------

@require_GET
@web_view
def study_training(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "training.view", study)
    trainings = list(selectors.training_list(user, selectors.TrainingFilter(study_id=study.pk)))
    open_reqs = selectors.requirement_list(user, selectors.RequirementFilter(study_id=study.pk, status="open"))
    today = timezone.localdate()
    context = _training_context(request, study, {
        "trainings": trainings, "current_pv": selectors.current_protocol_version(study),
        "open_requirements": open_reqs.count(),
        "overdue_requirements": open_reqs.filter(due_date__lt=today).count(),
    })
    return render(request, "training/study_training.html", context)


@require_http_methods(["GET", "POST"])
@web_view
def training_create(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "training.manage", study)
    current = selectors.current_protocol_version(study)
    builtin = selectors.template_list(user, study=study).filter(builtin=True, kind="protocol").first()
    form = TrainingForm(request.POST if request.method == "POST" else None,
                        templates=selectors.template_list(user, study=study),
                        protocol_versions=_protocol_versions(study),
                        initial={"protocol_version": current, "template": builtin})

    def create():
        data = form.service_data()
        template = form.cleaned_data.get("template")
        return services.training_create(user=user, study=study, data=data, template=template)

    outcome = run_form(request, form, create, success=lambda t: f"Training “{t.title}” created as a draft.",
                       redirect_to=lambda t: ("training-detail", t.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=study, form=form, title="New training", status=outcome.status,
                      cancel_url=reverse("study-training", args=[study.pk]))


# --- A training's page -------------------------------------------------------------------------------------------

@require_GET
@web_view
def training_detail(request, training_id: int):
    user = request.user
    training = selectors.training_get(user, training_id)
    sessions = list(selectors.sessions_of(training))
    for s in sessions:
        s.rows = list(selectors.attendance_of(s))
    can_manage = permissions.has_perm(user, "training.manage", training)
    progress = selectors.training_progress(training)
    mine = None
    if user.person_id:
        mine = next((p for p in progress if p.person.pk == user.person_id), None)
    context = _training_context(request, training.study, {
        "training": training, "sessions": sessions, "questions": list(selectors.questions_of(training)),
        "progress": progress, "mine": mine, "can_manage": can_manage,
        "transitions": [(s, TRAINING_STATUSES[s]) for s in sorted(TRAINING_TRANSITIONS.get(training.status, ()))],
        "now": timezone.now(),
    })
    return render(request, "training/training_detail.html", context)


def _training_initial(training) -> dict:
    return {"title": training.title, "kind": training.kind, "protocol_version": training.protocol_version,
            "objectives": training.objectives, "pass_mark": training.pass_mark,
            "quiz_required": training.quiz_required, "validity_months": training.validity_months,
            "agenda_text": rules.agenda_text(training.agenda),
            "checklist_text": "\n".join(r.get("item", "") for r in training.checklist or []),
            "version": training.version}


@require_http_methods(["GET", "POST"])
@web_view
def training_edit(request, training_id: int):
    user = request.user
    training = selectors.training_get(user, training_id)
    permissions.require(user, "training.manage", training)
    form = TrainingEditForm(request.POST if request.method == "POST" else None, initial=_training_initial(training),
                            protocol_versions=_protocol_versions(training.study))

    def update():
        data = form.service_data(only_changed=True)
        if "agenda_text" in form.changed_data:
            data["agenda"] = rules.agenda_from_text(form.cleaned_data["agenda_text"])
        checklist = rules.lines(form.cleaned_data["checklist_text"]) if "checklist_text" in form.changed_data \
            else None
        return services.training_update(user=user, training=training, data=data, checklist_items=checklist,
                                        version=form.cleaned_data["version"], reason=form.cleaned_data["reason"])

    outcome = run_form(request, form, update, success="Training saved.", redirect_to=("training-detail", training.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=training.study, form=form, title=f"Edit “{training.title}”",
                      status=outcome.status, cancel_url=reverse("training-detail", args=[training.pk]),
                      extra={"audit_url": reverse("audit-record", args=["training.training", training.pk])})


@require_http_methods(["GET", "POST"])
@web_view
def training_transition(request, training_id: int):
    user = request.user
    training = selectors.training_get(user, training_id)
    permissions.require(user, "training.manage", training)
    choices = [(s, TRAINING_STATUSES[s]) for s in sorted(TRAINING_TRANSITIONS.get(training.status, ()))]
    form = TransitionForm(request.POST if request.method == "POST" else None, choices=choices,
                          initial={"version": training.version, "status": request.GET.get("status", "")})
    outcome = run_form(
        request, form,
        lambda: services.training_transition(user=user, training=training, status=form.cleaned_data["status"],
                                             version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success=lambda t: f"Training is now {t.get_status_display().lower()}.",
        redirect_to=("training-detail", training.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=training.study, form=form, title=f"Change the status of “{training.title}”",
                      status=outcome.status, cancel_url=reverse("training-detail", args=[training.pk]))


@require_http_methods(["GET", "POST"])
@web_view
def training_checklist(request, training_id: int):
    """The preparation checklist; POST ticks or unticks one item."""
    user = request.user
    training = selectors.training_get(user, training_id)
    permissions.require(user, "training.manage", training)
    form = ChecklistTickForm(request.POST if request.method == "POST" else None)
    outcome = run_form(
        request, form,
        lambda: services.training_checklist_tick(user=user, training=training, index=form.cleaned_data["index"],
                                                 done=form.cleaned_data["done"], version=form.cleaned_data["version"]),
        success="Checklist updated.", redirect_to=lambda t: reverse("training-detail", args=[t.pk]) + "#checklist")
    if outcome.response is not None:
        return outcome.response
    training = selectors.training_get(user, training_id)
    context = _training_context(request, training.study, {"training": training, "form": form})
    return render(request, "training/checklist.html", context, status=outcome.status)


# --- Sessions and attendance -------------------------------------------------------------------------------------

def _session_kwargs(user, training) -> dict:
    return {"people": person_list(user),
            "sites": site_list(user, SiteFilter(study_id=training.study_id))}


@require_http_methods(["GET", "POST"])
@web_view
def session_create(request, training_id: int):
    user = request.user
    training = selectors.training_get(user, training_id)
    permissions.require(user, "training.manage", training)
    form = SessionForm(request.POST if request.method == "POST" else None, **_session_kwargs(user, training),
                       initial={"mode": "in_person", "duration_minutes": 120, "trainer": user.person})

    def create():
        data = form.record_data(exclude=("sites",))
        return services.training_session_create(user=user, training=training, data=data,
                                                sites=list(form.cleaned_data["sites"]))

    outcome = run_form(request, form, create, success="Session scheduled.",
                       redirect_to=lambda s: ("training-session-attendance", s.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=training.study, form=form, title=f"New session of “{training.title}”",
                      status=outcome.status, cancel_url=reverse("training-detail", args=[training.pk]))


@require_http_methods(["GET", "POST"])
@web_view
def session_edit(request, session_id: int):
    user = request.user
    session = selectors.session_get(user, session_id)
    permissions.require(user, "training.manage", session)
    initial = {name: getattr(session, name) for name in ("mode", "trainer", "trainer_name", "duration_minutes",
                                                         "location", "materials")}
    initial.update({"starts_at": timezone.localtime(session.starts_at).replace(tzinfo=None),
                    "sites": list(session.sites.all()), "version": session.version})
    form = SessionEditForm(request.POST if request.method == "POST" else None, initial=initial,
                           **_session_kwargs(user, session.training))

    def update():
        data = form.record_data(only_changed=True, exclude=("sites",))
        sites = list(form.cleaned_data["sites"]) if "sites" in form.changed_data else None
        return services.training_session_update(user=user, session=session, data=data, sites=sites,
                                                version=form.cleaned_data["version"],
                                                reason=form.cleaned_data["reason"])

    outcome = run_form(request, form, update, success="Session saved.",
                       redirect_to=("training-detail", session.training_id))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=session.training.study, form=form, title="Edit session", status=outcome.status,
                      cancel_url=reverse("training-detail", args=[session.training_id]),
                      extra={"audit_url": reverse("audit-record", args=["training.trainingsession", session.pk])})


def _invitees(user, session):
    """People to invite: the roster of the session's sites (or of the whole study), not yet on the list."""
    training = session.training
    site_ids = [s.pk for s in session.sites.all()]
    roster = active_roster(training.study)
    if site_ids:
        roster = roster.filter(site_id__in=site_ids)
    taken = session.attendance.values_list("person_id", flat=True)
    ids = roster.exclude(person_id__in=taken).values_list("person_id", flat=True)
    return person_list(user).filter(pk__in=ids)


@require_http_methods(["GET", "POST"])
@web_view
def session_attendance(request, session_id: int):
    """The session's attendance log: invite people, record attended/absent (trainer), see acknowledgements."""
    user = request.user
    session = selectors.session_get(user, session_id)
    can_manage = permissions.has_perm(user, "training.manage", session)
    action = request.POST.get("action") if request.method == "POST" else None
    invite = InviteForm(request.POST if action == "invite" else None, people=_invitees(user, session))
    record = AttendanceRecordForm(request.POST if action == "record" else None)
    status = 200
    if action in ("invite", "record"):
        permissions.require(user, "training.manage", session)
        if action == "invite":
            outcome = run_form(request, invite, lambda: services.attendance_invite(
                user=user, session=session, people=list(invite.cleaned_data["people"])),
                success=lambda rows: f"{len(rows)} invited.", redirect_to=request.path)
        else:
            def do_record():
                attendance = selectors.attendance_get(user, record.cleaned_data["attendance"])
                if attendance.session_id != session.pk:
                    raise NotFound("Attendance record not found.")
                return services.attendance_record(user=user, attendance=attendance,
                                                  status=record.cleaned_data["status"],
                                                  version=record.cleaned_data["version"])
            outcome = run_form(request, record, do_record,
                               success=lambda a: f"{a.person.full_name}: {a.get_status_display().lower()}.",
                               redirect_to=request.path)
        if outcome.response is not None:
            return outcome.response
        status = outcome.status
    context = _training_context(request, session.training.study, {
        "session": session, "training": session.training, "rows": list(selectors.attendance_of(session)),
        "invite_form": invite, "record_form": record, "can_manage": can_manage,
        "started": session.starts_at <= timezone.now()})
    return render(request, "training/session_attendance.html", context, status=status)


@require_http_methods(["GET", "POST"])
@web_view
def attendance_acknowledge(request, attendance_id: int):
    user = request.user
    attendance = selectors.attendance_get(user, attendance_id)
    permissions.require(user, "training.attend", attendance)
    own = bool(user.person_id) and user.person_id == attendance.person_id
    form = AcknowledgeForm(request.POST if request.method == "POST" and own else None)
    outcome = run_form(
        request, form,
        lambda: services.attendance_acknowledge(user=user, attendance=attendance,
                                                password=form.cleaned_data["password"],
                                                comment=form.cleaned_data["comment"]),
        success="Attendance acknowledged and signed.", redirect_to=("my-training",))
    if outcome.response is not None:
        return outcome.response
    attendance = selectors.attendance_get(user, attendance_id)
    context = _training_context(request, attendance.session.training.study, {
        "attendance": attendance, "session": attendance.session, "training": attendance.session.training,
        "form": form, "own": own})
    return render(request, "training/acknowledge.html", context, status=outcome.status)


# --- Quiz -----------------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def question_create(request, training_id: int):
    user = request.user
    training = selectors.training_get(user, training_id)
    permissions.require(user, "training.manage", training)
    form = QuestionForm(request.POST if request.method == "POST" else None)
    outcome = run_form(request, form, lambda: services.quiz_question_create(user=user, training=training,
                                                                            data=form.service_data()),
                       success="Question added.", redirect_to=lambda q: reverse("training-detail",
                                                                                args=[training.pk]) + "#quiz")
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=training.study, form=form, title=f"New quiz question for “{training.title}”",
                      status=outcome.status, cancel_url=reverse("training-detail", args=[training.pk]))


@require_http_methods(["GET", "POST"])
@web_view
def question_edit(request, question_id: int):
    user = request.user
    question = selectors.question_get(user, question_id)
    permissions.require(user, "training.manage", question)
    form = QuestionEditForm(request.POST if request.method == "POST" else None, initial={
        "order": question.order, "text": question.text, "options_text": QuestionForm.options_initial(question),
        "version": question.version})
    outcome = run_form(
        request, form,
        lambda: services.quiz_question_update(user=user, question=question, data=form.service_data(),
                                              version=form.cleaned_data["version"],
                                              reason=form.cleaned_data["reason"]),
        success="Question saved.", redirect_to=lambda q: reverse("training-detail", args=[q.training_id]) + "#quiz")
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=question.training.study, form=form, title="Edit quiz question",
                      status=outcome.status, cancel_url=reverse("training-detail", args=[question.training_id]))


@require_http_methods(["GET", "POST"])
@web_view
def question_delete(request, question_id: int):
    user = request.user
    question = selectors.question_get(user, question_id)
    permissions.require(user, "training.manage", question)
    form = DeleteForm(request.POST if request.method == "POST" else None, initial={"version": question.version})
    outcome = run_form(
        request, form,
        lambda: services.quiz_question_delete(user=user, question=question, version=form.cleaned_data["version"],
                                              reason=form.cleaned_data["reason"]),
        success="Question deleted.", redirect_to=lambda q: reverse("training-detail", args=[q.training_id]) + "#quiz")
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=question.training.study, form=form, title=f"Delete question: {question.text}",
                      status=outcome.status, cancel_url=reverse("training-detail", args=[question.training_id]),
                      extra={"submit_label": "Delete question"})


@require_http_methods(["GET", "POST"])
@web_view
def training_quiz(request, training_id: int):
    """The attendee takes (or retakes) the quiz; the score and pass/fail show straight away."""
    user = request.user
    training = selectors.training_get(user, training_id)
    permissions.require(user, "training.attend", training)
    progress = selectors.training_progress(training, user.person_id) if user.person_id else []
    mine = progress[0] if progress else None
    questions = list(selectors.questions_of(training))
    form = QuizForm(request.POST if request.method == "POST" and mine else None, questions=questions)
    outcome = run_form(
        request, form,
        lambda: services.quiz_attempt_submit(user=user, training=training, person=user.person,
                                             answers=form.answers()),
        success=lambda a: (f"You scored {a.score_percent:g}% — passed." if a.passed else
                           f"You scored {a.score_percent:g}%; the pass mark is {a.pass_mark}%. You may retake the "
                           "quiz."),
        redirect_to=request.path)
    if outcome.response is not None:
        return outcome.response
    context = _training_context(request, training.study, {
        "training": training, "form": form, "mine": mine, "questions": questions,
        "attempts": mine.attempts if mine else [],
    })
    return render(request, "training/quiz.html", context, status=outcome.status)


# --- Requirements ----------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def training_requirements(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "training.view", study)
    can_manage = permissions.has_perm(user, "training.manage", study)
    roster_ids = active_roster(study).values_list("person_id", flat=True)
    form = RequirementForm(request.POST if request.method == "POST" else None,
                           people=person_list(user).filter(pk__in=roster_ids),
                           trainings=selectors.training_list(user, selectors.TrainingFilter(study_id=study.pk)))
    status = 200
    if request.method == "POST":
        permissions.require(user, "training.manage", study)
        outcome = run_form(request, form, lambda: services.training_requirement_create(
            user=user, study=study, person=form.cleaned_data["person"], kind=form.cleaned_data["kind"],
            due_date=form.cleaned_data["due_date"], training=form.cleaned_data["training"],
            reason=form.cleaned_data["reason"]), success="Requirement added.", redirect_to=request.path)
        if outcome.response is not None:
            return outcome.response
        status = outcome.status
    show = request.GET.get("status", "open")
    flt = selectors.RequirementFilter(study_id=study.pk, status=show if show in ("open", "done", "waived") else None)
    context = _training_context(request, study, {
        "requirements": selectors.requirement_list(user, flt), "form": form, "can_manage": can_manage,
        "show": show, "today": timezone.localdate()})
    return render(request, "training/requirements.html", context, status=status)


@require_http_methods(["GET", "POST"])
@web_view
def requirement_waive(request, requirement_id: int):
    user = request.user
    req = selectors.requirement_get(user, requirement_id)
    permissions.require(user, "training.manage", req)
    form = WaiveForm(request.POST if request.method == "POST" else None, initial={"version": req.version})
    outcome = run_form(
        request, form,
        lambda: services.training_requirement_waive(user=user, requirement=req, version=form.cleaned_data["version"],
                                                    reason=form.cleaned_data["reason"]),
        success="Requirement waived.", redirect_to=("training-requirements", req.study_id))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=req.study, form=form, title=f"Waive: {req}", status=outcome.status,
                      cancel_url=reverse("training-requirements", args=[req.study_id]),
                      extra={"submit_label": "Waive requirement"})


# --- Matrix ------------------------------------------------------------------------------------------------------

def _matrix_context(matrix) -> dict:
    counts = matrix.counts()
    return {"matrix": matrix, "column_counts": list(zip(matrix.columns, counts, strict=True)),
            "state_labels": STATE_LABELS}


@require_GET
@web_view
def training_matrix(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    site = None
    site_id = int_or_none(request.GET.get("site"))
    if site_id is not None:
        site = site_get(user, site_id)
        if site.study_id != study.pk:
            raise NotFound("Site not found.")
    matrix = selectors.training_matrix(user, study, site)
    context = _training_context(request, study, {
        **_matrix_context(matrix), "sites": site_list(user, SiteFilter(study_id=study.pk)), "site": site,
        "xlsx_url": reverse("training-matrix-xlsx", args=[study.pk]) + (f"?site={site.pk}" if site else "")})
    return render(request, "training/matrix.html", context)


@require_GET
@web_view
def training_matrix_xlsx(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    site = None
    site_id = int_or_none(request.GET.get("site"))
    if site_id is not None:
        site = site_get(user, site_id)
        if site.study_id != study.pk:
            raise NotFound("Site not found.")
    return matrix_response(selectors.training_matrix(user, study, site))


@require_GET
@web_view
def site_training(request, site_id: int):
    """The site page's Training tab: the site's matrix."""
    from trialdesk.sites.views import site_page_context

    user = request.user
    site = site_get(user, site_id)
    matrix = selectors.training_matrix(user, site.study, site)
    context = site_page_context(request, site, "training")
    context.update(_matrix_context(matrix))
    context["xlsx_url"] = reverse("training-matrix-xlsx", args=[site.study_id]) + f"?site={site.pk}"
    context["study_matrix_url"] = reverse("training-matrix", args=[site.study_id])
    return render(request, "training/site_training.html", context)


# --- Templates ------------------------------------------------------------------------------------------------------

@require_GET
@web_view
def training_templates(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "training.view", study)
    context = _training_context(request, study, {"templates": selectors.template_list(user, study=study),
                                                 "portfolio_manager": permissions.is_portfolio_wide(
                                                     user, "training.manage")})
    return render(request, "training/templates.html", context)


@require_http_methods(["GET", "POST"])
@web_view
def template_copy(request, study_id: int, template_id: int):
    user = request.user
    study = study_get(user, study_id)
    template = selectors.template_get(user, template_id)
    permissions.require(user, "training.manage", study)
    form = CopyTemplateForm(request.POST if request.method == "POST" else None,
                            initial={"name": f"{template.name} ({study.protocol_number})"})
    outcome = run_form(request, form, lambda: services.training_template_copy(
        user=user, template=template, study=study, name=form.cleaned_data["name"]),
        success=lambda t: f"Template copied as “{t.name}”; edit it below.",
        redirect_to=lambda t: ("training-template-edit", t.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=study, form=form, title=f"Copy template “{template.name}”",
                      status=outcome.status, cancel_url=reverse("training-templates", args=[study.pk]),
                      extra={"submit_label": "Copy template", "template_obj": template})


@require_http_methods(["GET", "POST"])
@web_view
def template_edit(request, template_id: int):
    user = request.user
    template = selectors.template_get(user, template_id)
    study = template.study
    if template.builtin or study is None:
        # Shared templates are changed by portfolio-wide managers; built-ins by nobody (the service says so).
        services.training_template_check_editable(user, template)
    else:
        permissions.require(user, "training.manage", study)
    form = TemplateForm(request.POST if request.method == "POST" else None, initial={
        "name": template.name, "kind": template.kind, "description": template.description,
        "checklist_text": "\n".join(template.checklist), "agenda_text": rules.agenda_text(template.agenda),
        "version": template.version})
    back = reverse("training-templates", args=[study.pk]) if study else reverse("my-training")
    outcome = run_form(request, form, lambda: services.training_template_update(
        user=user, template=template, data=form.service_data(), version=form.cleaned_data["version"],
        reason=form.cleaned_data["reason"]), success="Template saved.", redirect_to=back)
    if outcome.response is not None:
        return outcome.response
    if study is None:
        return render(request, "training/template_shared_form.html",
                      {"form": form, "title": f"Edit template “{template.name}”", "cancel_url": back,
                       "stale_url": request.path}, status=outcome.status)
    return _form_page(request, study=study, form=form, title=f"Edit template “{template.name}”",
                      status=outcome.status, cancel_url=back,
                      extra={"audit_url": reverse("audit-record", args=["training.trainingtemplate", template.pk])})


# --- One's own training and certificates ------------------------------------------------------------------------------

@require_GET
@web_view
def my_training(request):
    user = request.user
    today = timezone.localdate()
    requirements = selectors.requirement_list(user, selectors.RequirementFilter(
        person_id=user.person_id or -1, status="open"))
    context = {"rows": selectors.my_trainings(user), "certificates": selectors.my_certificates(user),
               "requirements": requirements, "today": today, "has_person": bool(user.person_id),
               "verify_form": VerifyForm()}
    return render(request, "training/my_training.html", context)


@require_GET
@web_view
def certificate_detail(request, certificate_id: int):
    user = request.user
    cert = selectors.certificate_get(user, certificate_id)
    context = {"cert": cert, "state": selectors.certificate_state(cert),
               "can_revoke": permissions.has_perm(user, "training.manage", cert),
               "can_view_training": permissions.has_perm(user, "training.view", cert),
               "verification": selectors.certificate_verify(cert.number)}
    return render(request, "training/certificate.html", context)


@require_GET
@web_view
def certificate_pdf(request, certificate_id: int) -> HttpResponse:
    cert = selectors.certificate_get(request.user, certificate_id)
    return certificate_response(request, cert)


@require_http_methods(["GET", "POST"])
@web_view
def certificate_revoke(request, certificate_id: int):
    user = request.user
    cert = selectors.certificate_get(user, certificate_id)
    permissions.require(user, "training.manage", cert)
    form = RevokeForm(request.POST if request.method == "POST" else None)
    outcome = run_form(request, form, lambda: services.certificate_revoke(user=user, certificate=cert,
                                                                          reason=form.cleaned_data["reason"]),
                       success=f"Certificate {cert.number} revoked.",
                       redirect_to=("training-certificate", cert.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, study=cert.study, form=form, title=f"Revoke certificate {cert.number}",
                      status=outcome.status, cancel_url=reverse("training-certificate", args=[cert.pk]),
                      extra={"submit_label": "Revoke certificate"})


@require_GET
@web_view
def certificate_verify(request):
    """Any signed-in user may check a certificate number; the answer shows only what the certificate shows."""
    form = VerifyForm(request.GET or None)
    result = selectors.certificate_verify(form.cleaned_data["number"]) if form.is_bound and form.is_valid() else None
    return render(request, "training/verify.html", {"form": form, "result": result})
