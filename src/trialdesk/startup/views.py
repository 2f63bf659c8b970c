"""Start-up pages: the study's Start-up tab (tracker, candidates and feasibility, questionnaire, milestone
template) and the site's Start-up tab (milestones, feasibility answers, selection decision).

Reads go through startup.selectors, writes through startup.services.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound, ServiceError
from trialdesk.core.views_utils import add_service_errors, run_form, web_view
from trialdesk.sites.views import site_page_context
from trialdesk.startup import exports, scoring, selectors, services
from trialdesk.startup.cycle import CYCLES
from trialdesk.startup.defaults import DEFAULT_TEMPLATE, STATUS_KEYS
from trialdesk.startup.forms import (
    AnswersForm,
    ConfirmForm,
    DecisionForm,
    DefinitionEditForm,
    DefinitionForm,
    DeleteForm,
    MilestoneForm,
    QuestionEditForm,
    QuestionForm,
    ReopenForm,
)
from trialdesk.startup.models import StartupMilestoneDefinition
from trialdesk.studies.views import study_page_context

SECTIONS = [("tracker", "Tracker", "startup-tracker"), ("candidates", "Candidates & feasibility", "startup-candidates"),
            ("questionnaire", "Questionnaire", "startup-questions"), ("template", "Milestone template",
                                                                      "startup-template")]
QUESTION_INITIAL = ("order", "text", "kind", "help_text", "required", "weight", "preferred_answer", "score_min",
                    "score_max")
DEFINITION_INITIAL = ("key", "label", "order", "mandatory", "applies_when", "target_days", "owner_role")


def _context(request, study, section: str, **extra) -> dict:
    context = study_page_context(request, study, "startup")
    context["can"]["startup_edit"] = permissions.has_perm(request.user, "startup.edit", study)
    context["can"]["decide"] = context["can"]["startup_edit"] and permissions.has_perm(request.user,
                                                                                     "site.transition", study)
    context["section"] = section
    context["sections"] = [(key, label, reverse(name, args=[study.pk])) for key, label, name in SECTIONS]
    context.update(extra)
    return context


def _site_context(request, site, **extra) -> dict:
    context = site_page_context(request, site, "startup")
    user = request.user
    context["can"]["startup_edit"] = permissions.has_perm(user, "startup.edit", site)
    context["can"]["feasibility_answer"] = selectors.may_answer(user, site)
    context.update(extra)
    return context


def _form_page(request, context: dict, *, form, title: str, cancel_url: str, status: int, submit_label="Save",
               template="startup/study_form.html", **extra):
    context.update({"form": form, "title": title, "cancel_url": cancel_url, "submit_label": submit_label,
                    "stale_url": request.path, **extra})
    return render(request, template, context, status=status)


# --- Tracker -------------------------------------------------------------------------------------------------

@require_GET
@web_view
def startup_tracker(request, study_id: int):
    user = request.user
    study = selectors.startup_study_get(user, study_id)
    countries = selectors.tracker_countries(user, study)
    country = request.GET.get("country") or ""
    if country not in countries:
        country = ""
    tracker = selectors.tracker(user, study, timezone.localdate(), country=country or None)
    context = _context(request, study, "tracker", tracker=tracker, countries=countries, country=country,
                       cycles=CYCLES, has_template=bool(tracker.definitions),
                       gantt_svg=mark_safe(tracker.gantt_svg()))  # noqa: S308 - built with escaped text
    return render(request, "startup/tracker.html", context)


@require_GET
@web_view
def startup_tracker_export(request, study_id: int):
    user = request.user
    study = selectors.startup_study_get(user, study_id)
    tracker = selectors.tracker(user, study, timezone.localdate())
    content = exports.tracker_xlsx(tracker)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="startup-tracker-{study.protocol_number}-{stamp}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response


# --- Candidates and feasibility ------------------------------------------------------------------------------------

@require_GET
@web_view
def startup_candidates(request, study_id: int):
    user = request.user
    study = selectors.startup_study_get(user, study_id)
    rows = selectors.candidate_ranking(user, study, timezone.localdate())
    has_questions = selectors.question_list(user, study).exists()
    return render(request, "startup/candidates.html", _context(request, study, "candidates", rows=rows,
                                                               has_questions=has_questions))


@require_http_methods(["GET", "POST"])
@web_view
def site_feasibility_invite(request, site_id: int):
    user = request.user
    site = selectors.startup_site_get(user, site_id)
    permissions.require(user, "startup.edit", site)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    outcome = run_form(request, form,
                       lambda: services.feasibility_invite(user=user, site=site, reason=form.cleaned_data["reason"]),
                       success=f"Site {site.site_number} is invited to answer the feasibility questionnaire.",
                       redirect_to=("startup-candidates", site.study_id))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _site_context(request, site), form=form, template="startup/site_form.html",
                      title=f"Invite site {site.site_number} to answer the feasibility questionnaire",
                      cancel_url=reverse("startup-candidates", args=[site.study_id]), status=outcome.status,
                      submit_label="Invite")


def _answers_initial(view) -> dict:
    initial = {"version": view.version}
    for row in view.rows:
        value = row.value
        if value is None:
            continue
        initial[f"q_{row.question.pk}"] = value if not isinstance(value, float) else f"{value:g}"
    return initial


@require_http_methods(["GET", "POST"])
@web_view
def site_feasibility(request, site_id: int):
    user = request.user
    site = selectors.startup_site_get(user, site_id)
    view = selectors.feasibility_view(user, site)
    editable = selectors.may_answer(user, site) and not view.submitted and site.status not in (
        services.CLOSED_SITE_STATUSES)
    questions = [r.question for r in view.rows]
    form = None
    status = 200
    if editable:
        if request.method == "POST":
            form = AnswersForm(request.POST, questions=questions, initial=_answers_initial(view))
            if form.is_valid():
                submit = request.POST.get("action") == "submit"
                try:
                    with transaction.atomic():
                        response = services.feasibility_answers_save(
                            user=user, site=site, answers=form.answers(), version=form.cleaned_data["version"],
                            reason=form.cleaned_data["reason"])
                        if submit:
                            services.feasibility_submit(user=user, site=site, version=response.version)
                except ServiceError as exc:
                    add_service_errors(form, exc)
                    status = exc.status_code
                else:
                    from django.contrib import messages

                    messages.success(request, "Questionnaire submitted." if submit else "Answers saved.")
                    return redirect("site-feasibility", site.pk)
            else:
                status = 422
        else:
            form = AnswersForm(initial=_answers_initial(view), questions=questions)
    elif request.method == "POST":
        permissions.require(user, "feasibility.answer", site)  # 403 for those who may not answer at all
        return redirect("site-feasibility", site.pk)
    reopen = ReopenForm(initial={"version": view.version}) if view.submitted and permissions.has_perm(
        user, "startup.edit", site) else None
    context = _site_context(request, site, view=view, form=form, reopen_form=reopen, stale_url=request.path)
    return render(request, "startup/site_feasibility.html", context, status=status)


@require_http_methods(["GET", "POST"])
@web_view
def site_feasibility_reopen(request, site_id: int):
    user = request.user
    site = selectors.startup_site_get(user, site_id)
    permissions.require(user, "startup.edit", site)
    view = selectors.feasibility_view(user, site)
    form = ReopenForm(request.POST if request.method == "POST" else None, initial={"version": view.version})
    outcome = run_form(request, form,
                       lambda: services.feasibility_reopen(user=user, site=site, version=form.cleaned_data["version"],
                                                           reason=form.cleaned_data["reason"]),
                       success="The questionnaire is open for changes again.",
                       redirect_to=("site-feasibility", site.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _site_context(request, site), form=form, template="startup/site_form.html",
                      title=f"Reopen site {site.site_number}'s feasibility questionnaire",
                      cancel_url=reverse("site-feasibility", args=[site.pk]), status=outcome.status,
                      submit_label="Reopen")


@require_http_methods(["GET", "POST"])
@web_view
def site_selection_decide(request, site_id: int):
    user = request.user
    site = selectors.startup_site_get(user, site_id)
    permissions.require(user, "startup.edit", site)
    permissions.require(user, "site.transition", site)
    form = DecisionForm(request.POST if request.method == "POST" else None, initial={"version": site.version})
    outcome = run_form(request, form,
                       lambda: services.site_selection_decide(user=user, site=site,
                                                              decision=form.cleaned_data["decision"],
                                                              reason=form.cleaned_data["reason"],
                                                              version=form.cleaned_data["version"]),
                       success=lambda s: f"Site {s.site_number}: {s.get_status_display()}.",
                       redirect_to=("site-startup", site.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        site = selectors.startup_site_get(user, site_id)
    feasibility = selectors.feasibility_view(user, site)
    return _form_page(request, _site_context(request, site), form=form, template="startup/site_form.html",
                      title=f"Selection decision for site {site.site_number}",
                      cancel_url=reverse("site-startup", args=[site.pk]), status=outcome.status,
                      submit_label="Record decision", feasibility=feasibility)


# --- Questionnaire -----------------------------------------------------------------------------------------------

@require_GET
@web_view
def startup_questions(request, study_id: int):
    user = request.user
    study = selectors.startup_study_get(user, study_id)
    questions = list(selectors.question_list(user, study))
    return render(request, "startup/questions.html", _context(request, study, "questionnaire", questions=questions))


@require_http_methods(["GET", "POST"])
@web_view
def startup_question_create(request, study_id: int):
    user = request.user
    study = selectors.startup_study_get(user, study_id)
    permissions.require(user, "startup.edit", study)
    form = QuestionForm(request.POST if request.method == "POST" else None, initial={"kind": "yes_no", "weight": 1})
    outcome = run_form(request, form,
                       lambda: services.feasibility_question_create(user=user, study=study, data=form.record_data()),
                       success="Question added.", redirect_to=("startup-questions", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _context(request, study, "questionnaire"), form=form, title="Add a question",
                      cancel_url=reverse("startup-questions", args=[study.pk]), status=outcome.status,
                      submit_label="Add question")


def _question_or_404(user, question_id):
    return selectors.question_get(user, question_id)


@require_http_methods(["GET", "POST"])
@web_view
def startup_question_edit(request, question_id: int):
    user = request.user
    question = _question_or_404(user, question_id)
    study = question.study
    permissions.require(user, "startup.edit", study)
    initial = {name: getattr(question, name) for name in QUESTION_INITIAL}
    initial.update({"choices": scoring.format_choices(question.choices), "version": question.version})
    form = QuestionEditForm(request.POST if request.method == "POST" else None, initial=initial)
    outcome = run_form(
        request, form,
        lambda: services.feasibility_question_update(user=user, question=question,
                                                     data=form.record_data(only_changed=True),
                                                     version=form.cleaned_data["version"],
                                                     reason=form.cleaned_data["reason"]),
        success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("startup-questions", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _context(request, study, "questionnaire"), form=form, title="Edit question",
                      cancel_url=reverse("startup-questions", args=[study.pk]), status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def startup_question_delete(request, question_id: int):
    user = request.user
    question = _question_or_404(user, question_id)
    study = question.study
    permissions.require(user, "startup.edit", study)
    form = DeleteForm(request.POST if request.method == "POST" else None, initial={"version": question.version})
    outcome = run_form(request, form,
                       lambda: services.feasibility_question_delete(user=user, question=question,
                                                                    version=form.cleaned_data["version"],
                                                                    reason=form.cleaned_data["reason"]),
                       success="Question deleted; the responses were re-scored.",
                       redirect_to=("startup-questions", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _context(request, study, "questionnaire"), form=form,
                      title=f"Delete the question “{question.text[:80]}”",
                      cancel_url=reverse("startup-questions", args=[study.pk]), status=outcome.status,
                      submit_label="Delete question")


# --- Template -------------------------------------------------------------------------------------------------------

@require_GET
@web_view
def startup_template(request, study_id: int):
    user = request.user
    study = selectors.startup_study_get(user, study_id)
    definitions = selectors.template_list(user, study)
    return render(request, "startup/template.html", _context(request, study, "template", definitions=definitions,
                                                             defaults=DEFAULT_TEMPLATE,
                                                             lifecycle_keys=set(STATUS_KEYS.values())))


@require_http_methods(["GET", "POST"])
@web_view
def startup_template_ensure(request, study_id: int):
    user = request.user
    study = selectors.startup_study_get(user, study_id)
    permissions.require(user, "startup.edit", study)
    if selectors.study_has_template(study.pk) and request.method == "POST":
        return redirect("startup-template", study.pk)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    outcome = run_form(request, form,
                       lambda: services.startup_template_ensure(user=user, study=study,
                                                                reason=form.cleaned_data["reason"]),
                       success="The default start-up template is in place; edit it to suit the study.",
                       redirect_to=("startup-template", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _context(request, study, "template", defaults=DEFAULT_TEMPLATE,
                                        explain_defaults=True),
                      form=form, title="Create the start-up template from the defaults",
                      cancel_url=reverse("startup-template", args=[study.pk]), status=outcome.status,
                      submit_label="Create template")


def _definitions_for(study, exclude=None):
    qs = StartupMilestoneDefinition.objects.filter(study=study).order_by("order", "id")
    return qs.exclude(pk=exclude.pk) if exclude is not None else qs


@require_http_methods(["GET", "POST"])
@web_view
def startup_definition_create(request, study_id: int):
    user = request.user
    study = selectors.startup_study_get(user, study_id)
    permissions.require(user, "startup.edit", study)
    form = DefinitionForm(request.POST if request.method == "POST" else None, definitions=_definitions_for(study),
                          initial={"mandatory": False, "applies_when": "always"})
    outcome = run_form(
        request, form,
        lambda: services.milestone_definition_create(user=user, study=study, data=form.record_data(),
                                                     depends_on=list(form.cleaned_data["depends_on"])),
        success="Milestone added to the template.", redirect_to=("startup-template", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _context(request, study, "template"), form=form, title="Add a milestone",
                      cancel_url=reverse("startup-template", args=[study.pk]), status=outcome.status,
                      submit_label="Add milestone")


@require_http_methods(["GET", "POST"])
@web_view
def startup_definition_edit(request, definition_id: int):
    user = request.user
    definition = selectors.definition_get(user, definition_id)
    study = definition.study
    permissions.require(user, "startup.edit", study)
    initial = {name: getattr(definition, name) for name in DEFINITION_INITIAL}
    initial.update({"depends_on": list(definition.depends_on.all()), "version": definition.version})
    form = DefinitionEditForm(request.POST if request.method == "POST" else None, initial=initial,
                              definitions=_definitions_for(study, exclude=definition))

    def update():
        depends_on = list(form.cleaned_data["depends_on"]) if "depends_on" in form.changed_data else None
        return services.milestone_definition_update(user=user, definition=definition,
                                                    data=form.record_data(only_changed=True), depends_on=depends_on,
                                                    version=form.cleaned_data["version"],
                                                    reason=form.cleaned_data["reason"])

    outcome = run_form(request, form, update,
                       success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
                       redirect_to=("startup-template", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _context(request, study, "template"), form=form,
                      title=f"Edit milestone “{definition.label}” ({definition.key})",
                      cancel_url=reverse("startup-template", args=[study.pk]), status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def startup_definition_delete(request, definition_id: int):
    user = request.user
    definition = selectors.definition_get(user, definition_id)
    study = definition.study
    permissions.require(user, "startup.edit", study)
    form = DeleteForm(request.POST if request.method == "POST" else None, initial={"version": definition.version})
    outcome = run_form(request, form,
                       lambda: services.milestone_definition_delete(user=user, definition=definition,
                                                                    version=form.cleaned_data["version"],
                                                                    reason=form.cleaned_data["reason"]),
                       success="Milestone removed from the template.", redirect_to=("startup-template", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, _context(request, study, "template"), form=form,
                      title=f"Remove “{definition.label}” from the template",
                      cancel_url=reverse("startup-template", args=[study.pk]), status=outcome.status,
                      submit_label="Remove milestone")


# --- A site's start-up ------------------------------------------------------------------------------------------------

@require_GET
@web_view
def site_startup(request, site_id: int):
    user = request.user
    site = selectors.startup_site_get(user, site_id)
    startup = selectors.site_startup(user, site, timezone.localdate())
    feasibility = selectors.feasibility_view(user, site)
    can_decide = (site.status == "candidate" and permissions.has_perm(user, "startup.edit", site)
                  and permissions.has_perm(user, "site.transition", site))
    context = _site_context(request, site, startup=startup, feasibility=feasibility, can_decide=can_decide,
                            has_template=bool(startup.rows), today=startup.today)
    return render(request, "startup/site_startup.html", context)


@require_http_methods(["GET", "POST"])
@web_view
def site_milestone_edit(request, site_id: int, definition_id: int):
    user = request.user
    site = selectors.startup_site_get(user, site_id)
    permissions.require(user, "startup.edit", site)
    definition = selectors.definition_get(user, definition_id)
    if definition.study_id != site.study_id:
        raise NotFound("Milestone not found.")
    startup, row = selectors.milestone_row(user, site, definition)
    initial = {"planned_date": row.planned_stored, "actual_date": row.actual, "owner": row.owner,
               "not_applicable": row.not_applicable, "not_applicable_reason": row.not_applicable_reason,
               "notes": row.notes, "version": row.version}
    applicable_choice = not (definition.mandatory and definition.applies_when == "always") \
        and definition.key not in STATUS_KEYS.values()
    form = MilestoneForm(request.POST if request.method == "POST" else None, initial=initial,
                         owners=selectors.owner_candidates(user, site.study), applicable_choice=applicable_choice)
    outcome = run_form(
        request, form,
        lambda: services.site_milestone_update(user=user, site=site, definition=definition,
                                               data=form.record_data(only_changed=True),
                                               version=form.cleaned_data["version"],
                                               reason=form.cleaned_data["reason"]),
        success=lambda _: f"{definition.label} saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("site-startup", site.pk))
    if outcome.response is not None:
        return outcome.response
    dependencies = [startup.by_key[k] for k in startup.graph.get(definition.key, []) if k in startup.by_key]
    return _form_page(request, _site_context(request, site), form=form, template="startup/milestone_form.html",
                      title=f"{definition.label} at site {site.site_number}",
                      cancel_url=reverse("site-startup", args=[site.pk]), status=outcome.status, row=row,
                      definition=definition, dependencies=dependencies)
