"""Subject pages: screening log (study and site tabs), subject page, consent forms, settings, import.

Reads go through subjects.selectors, writes through subjects.services. Blinded users see "Blinded"
wherever an arm would show.
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from trialdesk.accounts import permissions
from trialdesk.audit.selectors import audit_record_history
from trialdesk.audit.views import audit_panel, render_audit
from trialdesk.core.errors import NotFound, ServiceError, ValidationFailed
from trialdesk.core.views_utils import PAGE_SIZE, int_or_none, paginate, render_list, run_form, web_view
from trialdesk.sites.selectors import site_get
from trialdesk.sites.views import site_page_context
from trialdesk.studies.models import Arm, ProtocolVersion
from trialdesk.studies.selectors import study_get
from trialdesk.studies.views import study_page_context
from trialdesk.subjects import rules, selectors, services
from trialdesk.subjects.api import template_response
from trialdesk.subjects.forms import (
    ConsentForm,
    FirstDoseForm,
    IcfApproveForm,
    IcfVersionEditForm,
    IcfVersionForm,
    ImportForm,
    RandomizeForm,
    SettingsForm,
    SubjectCreateForm,
    SubjectDeleteForm,
    SubjectFilterForm,
    SubjectTransitionForm,
)
from trialdesk.subjects.importer import COLUMNS
from trialdesk.subjects.lifecycle import ON_STUDY_STATUSES, SUBJECT_STATUSES, WITHDRAWAL_REASONS
from trialdesk.subjects.selectors import ReconsentFilter, SubjectFilter

SUBJECT_PERMS = ["subject.edit", "consent.record", "audit.view", "audit.export"]
VISITS_PARTIAL = "visits/_subject_visits.html"
# Recorded with their own forms (consent, randomization), never through the plain status change.
EVENT_STATUSES = {"consented", "randomized"}


def _template_exists(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


def subject_nav(request, study, active: str) -> list[tuple[str, str, str]]:
    """Sub-sections of the study's Subjects tab."""
    user = request.user
    items = [("log", "Screening log", reverse("study-subjects", args=[study.pk])),
             ("consent", "Consent forms", reverse("study-icf-versions", args=[study.pk]))]
    if permissions.has_perm(user, "subject.import", study):
        items.append(("import", "Import", reverse("subject-import", args=[study.pk])))
    items.append(("settings", "Settings", reverse("subject-settings", args=[study.pk])))
    return [(key, label, url, key == active) for key, label, url in items]


def _study_context(request, study, active: str) -> dict:
    context = study_page_context(request, study, "subjects")
    context["subject_nav"] = subject_nav(request, study, active)
    context["can"].update(permissions.permitted(request.user, study, ["subject.edit", "subject.import", "icf.edit",
                                                                       "consent.record"]))
    return context


# --- Screening log --------------------------------------------------------------------------------------------

def _log_page(request, user, flt: SubjectFilter, total: int):
    """The log page named by `cursor` (keyset: the 1,000th page costs what the first does); an old-style
    `page` number still works (offset); a tampered cursor shows the first page."""
    cursor = request.GET.get("cursor") or None
    if cursor:
        try:
            return selectors.subject_page(user, flt, cursor=cursor, limit=PAGE_SIZE, count=total)
        except ValidationFailed:
            pass
    number = int_or_none(request.GET.get("page")) or 1
    last = max(1, -(-total // PAGE_SIZE))
    offset = (min(max(number, 1), last) - 1) * PAGE_SIZE
    return selectors.subject_page(user, flt, limit=PAGE_SIZE, offset=offset, count=total)


def _log_context(request, *, study, site=None) -> tuple[dict, SubjectFilter]:
    user = request.user
    sites = None if site is not None else \
        permissions.visible_sites(user, "subject.view").filter(study=study).order_by("site_number") \
        .only("id", "site_number")
    form = SubjectFilterForm(request.GET, sites=sites)
    values = form.values()
    flt = SubjectFilter(study_id=study.pk, site_id=site.pk if site else values.get("site"),
                        status=values.get("status") or None, since=values.get("since"), until=values.get("until"),
                        text=values.get("q") or None)
    counts = selectors.subject_status_counts(user, flt)
    total = sum(c["count"] for c in counts if not flt.status or c["status"] == flt.status)
    page = _log_page(request, user, flt, total)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("cursor", None)
    export = reverse("subject-export", args=[study.pk])
    if site is not None:
        query["site"] = str(site.pk)
    context = {"filter_form": form, "page": page, "subjects": page.object_list,
               "counts": counts, "show_arm": selectors.arm_visible(user),
               "filtered": any(values.get(k) for k in ("status", "site", "since", "until", "q")),
               "export_url": f"{export}?{query.urlencode()}" if query else export,
               "list_url": request.path, "site_filter": site}
    return context, flt


@require_GET
@web_view
def study_subjects(request, study_id: int):
    study = study_get(request.user, study_id)
    context = _study_context(request, study, "log")
    log, _ = _log_context(request, study=study)
    context.update(log)
    context["add_url"] = reverse("subject-create", args=[study.pk])
    return render_list(request, target="subject-results", partial="subjects/_subject_results.html",
                       full="subjects/study_subjects.html", context=context)


@require_GET
@web_view
def site_subjects(request, site_id: int):
    user = request.user
    site = site_get(user, site_id)
    context = site_page_context(request, site, "subjects")
    log, _ = _log_context(request, study=site.study, site=site)
    context.update(log)
    context["can"].update(permissions.permitted(user, site, ["subject.edit", "consent.record"]))
    context["add_url"] = reverse("subject-create", args=[site.study_id]) + f"?site={site.pk}"
    context["reconsents"] = selectors.reconsent_list(user, ReconsentFilter(site_id=site.pk, status="open"))
    context["current_icf"] = selectors.current_icf_for_site(site)
    return render_list(request, target="subject-results", partial="subjects/_subject_results.html",
                       full="subjects/site_subjects.html", context=context)


@require_GET
@web_view
def subject_export(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "subject.view", study)
    _, flt = _log_context(request, study=study)
    qs = selectors.subject_list(user, flt)
    settings = selectors.subject_settings_get(user, study)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(selectors.screening_log_csv(user, qs, settings), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="screening-log-{study.protocol_number}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@web_view
def subject_create(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "subject.edit", study)
    sites = selectors.subject_sites_for_entry(user, study)
    initial = {"status": "pre_screened", "site": request.GET.get("site") if request.GET.get("site", "").isdigit()
               else None}
    form = SubjectCreateForm(request.POST if request.method == "POST" else None, sites=sites, initial=initial)

    def create():
        data = form.cleaned_data
        return services.subject_create(user=user, site=data["site"], status=data["status"], on=data["on"],
                                       subject_number=data["subject_number"])

    outcome = run_form(request, form, create,
                       success=lambda subject: (f"Subject {subject.subject_number} added to the screening log of "
                                                f"site {subject.site.site_number}."),
                       redirect_to=lambda subject: ("subject-detail", subject.pk))
    if outcome.response is not None:
        return outcome.response
    context = _study_context(request, study, "log")
    context.update({"form": form, "title": "Add a subject", "submit_label": "Add subject",
                    "cancel_url": reverse("study-subjects", args=[study.pk])})
    return render(request, "subjects/study_form.html", context, status=outcome.status)


# --- Subject page ---------------------------------------------------------------------------------------------

def subject_page_context(request, subject, active: str) -> dict:
    user = request.user
    can = permissions.permitted(user, subject, SUBJECT_PERMS)
    tabs = [("overview", "Overview", reverse("subject-detail", args=[subject.pk]))]
    if can["audit_view"]:
        tabs.append(("audit", "Audit trail", reverse("subject-audit", args=[subject.pk])))
    return {"subject": subject, "site": subject.site, "study": subject.study, "can": can, "tabs": tabs,
            "active_tab": active, "show_arm": selectors.arm_visible(user)}


def _transition_choices(subject) -> list[tuple[str, str]]:
    allowed = rules.allowed_next(subject.status) - EVENT_STATUSES
    return [(key, label) for key, label in SUBJECT_STATUSES.items() if key in allowed]


# Fields of the status-change form that only some target statuses use.
_STATUS_FIELDS = {"screen_failed": ("screen_fail_reason_code", "screen_fail_reason_text"),
                  "withdrawn": ("withdrawal_reason", "withdrawal_text"),
                  "enrolled": ("eligibility_confirmed_by",)}


def _transition_form(request, subject, data=None) -> SubjectTransitionForm:
    settings = selectors.subject_settings_get(request.user, subject.study)
    choices = _transition_choices(subject)
    form = SubjectTransitionForm(data, choices=choices,
                                 reasons=list(rules.reason_codes(settings.screen_fail_reasons).items()),
                                 people=selectors.delegated_people(subject.site, "eligibility"),
                                 initial={"version": subject.version})
    allowed = {key for key, _ in choices}
    for status, names in _STATUS_FIELDS.items():
        if status not in allowed:
            for name in names:
                del form.fields[name]  # not reachable from the current status: do not ask
    return form


@require_GET
@web_view
def subject_detail(request, subject_id: int):
    user = request.user
    subject = selectors.subject_get(user, subject_id)
    context = subject_page_context(request, subject, "overview")
    can = context["can"]
    settings = selectors.subject_settings_get(user, subject.study)
    allowed = rules.allowed_next(subject.status)
    context.update({
        "timeline": selectors.subject_timeline(subject),
        "consents": selectors.consent_list(user, subject),
        "reconsents": selectors.reconsent_list(user, ReconsentFilter(subject_id=subject.pk)),
        "randomization": getattr(subject, "randomization", None) if subject.randomized_on else None,
        "screen_fail_label": selectors.screen_fail_label(subject, settings),
        "withdrawal_label": WITHDRAWAL_REASONS.get(subject.withdrawal_reason, ""),
        "can_randomize": can["consent_record"] and "randomized" in allowed and selectors.arm_visible(user),
        "can_consent": can["consent_record"] and (subject.status in ON_STUDY_STATUSES
                                                  or subject.status in rules.ENTRY_STATUSES),
        "can_first_dose": can["subject_edit"] and subject.enrolled_on is not None,
        "visits_template": VISITS_PARTIAL if _template_exists(VISITS_PARTIAL) else None,
    })
    if can["subject_edit"] and _transition_choices(subject):
        context["transition_form"] = _transition_form(request, subject)
    return render(request, "subjects/subject_detail.html", context)


def _subject_action(request, subject, *, form, title: str, status: int, template: str = "subjects/subject_action.html",
                    extra: dict | None = None):
    context = subject_page_context(request, subject, "overview")
    context.update({"form": form, "title": title, "cancel_url": reverse("subject-detail", args=[subject.pk]),
                    "stale_url": reverse("subject-detail", args=[subject.pk]), **(extra or {})})
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@web_view
def subject_transition(request, subject_id: int):
    user = request.user
    subject = selectors.subject_get(user, subject_id)
    permissions.require(user, "subject.edit", subject)
    form = _transition_form(request, subject, request.POST if request.method == "POST" else None)

    def transition():
        data = form.cleaned_data
        services.subject_transition(
            user=user, subject=subject, status=data["status"], on=data["on"], version=data["version"],
            reason=data["reason"], screen_fail_reason_code=data.get("screen_fail_reason_code", ""),
            screen_fail_reason_text=data.get("screen_fail_reason_text", ""),
            withdrawal_reason=data.get("withdrawal_reason", ""), withdrawal_text=data.get("withdrawal_text", ""),
            eligibility_confirmed_by=data.get("eligibility_confirmed_by"))

    outcome = run_form(request, form, transition,
                       success=lambda _: (f"Subject {subject.subject_number} is now "
                                          f"{SUBJECT_STATUSES[form.cleaned_data['status']]}."),
                       redirect_to=("subject-detail", subject.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        subject = selectors.subject_get(user, subject_id)
    return _subject_action(request, subject, form=form, title="Record a status change", status=outcome.status,
                           extra={"final": not _transition_choices(subject)})


@require_http_methods(["GET", "POST"])
@web_view
def subject_randomize(request, subject_id: int):
    user = request.user
    subject = selectors.subject_get(user, subject_id)
    permissions.require(user, "consent.record", subject)
    form = RandomizeForm(request.POST if request.method == "POST" else None,
                         arms=Arm.objects.filter(study_id=subject.study_id).order_by("id"),
                         initial={"version": subject.version})

    def randomize():
        data = form.cleaned_data
        services.subject_randomize(user=user, subject=subject, arm=data["arm"], version=data["version"],
                                   randomized_on=data["randomized_on"], stratum=data["stratum"],
                                   irt_reference=data["irt_reference"], reason=data["reason"])

    outcome = run_form(request, form, randomize,
                       success=lambda _: f"Randomization of subject {subject.subject_number} recorded.",
                       redirect_to=("subject-detail", subject.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        subject = selectors.subject_get(user, subject_id)
    blocked = None
    if not selectors.arm_visible(user):
        blocked = "Blinded users cannot record a treatment assignment: they would see the arm."
    elif "randomized" not in rules.allowed_next(subject.status):
        blocked = (f"Subject {subject.subject_number} is {rules.status_label(subject.status)}: only an enrolled "
                   "subject can be randomized.")
    return _subject_action(request, subject, form=form, title="Record the randomization", status=outcome.status,
                           extra={"blocked": blocked, "submit_label": "Record randomization"})


@require_http_methods(["GET", "POST"])
@web_view
def subject_consent(request, subject_id: int):
    user = request.user
    subject = selectors.subject_get(user, subject_id)
    permissions.require(user, "consent.record", subject)
    icfs = selectors.icf_choices_for(subject)
    form = ConsentForm(request.POST if request.method == "POST" else None, icfs=icfs,
                       people=selectors.delegated_people(subject.site, "consent"),
                       initial={"consented_on": timezone.localdate(), "method": "paper"})

    def consent():
        data = form.cleaned_data
        return services.consent_record(user=user, subject=subject, icf_version=data["icf_version"],
                                       consented_on=data["consented_on"], method=data["method"],
                                       obtained_by=data["obtained_by"], reason=data["reason"])

    outcome = run_form(request, form, consent,
                       success=lambda event: (f"{'Re-consent' if event.is_reconsent else 'Consent'} of subject "
                                              f"{subject.subject_number} to form "
                                              f"{event.icf_version.version_number} recorded."),
                       redirect_to=("subject-detail", subject.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        subject = selectors.subject_get(user, subject_id)
    blocked = None if icfs else (f"No approved consent form applies at site {subject.site.site_number} yet: "
                                 "approve one on the study's Consent forms page first.")
    return _subject_action(request, subject, form=form, title="Record informed consent", status=outcome.status,
                           extra={"blocked": blocked, "submit_label": "Record consent"})


@require_http_methods(["GET", "POST"])
@web_view
def subject_first_dose(request, subject_id: int):
    user = request.user
    subject = selectors.subject_get(user, subject_id)
    permissions.require(user, "subject.edit", subject)
    form = FirstDoseForm(request.POST if request.method == "POST" else None,
                         initial={"first_dose_on": subject.first_dose_on, "version": subject.version})
    outcome = run_form(
        request, form,
        lambda: services.subject_first_dose_record(user=user, subject=subject,
                                                   first_dose_on=form.cleaned_data["first_dose_on"],
                                                   version=form.cleaned_data["version"],
                                                   reason=form.cleaned_data["reason"]),
        success=lambda _: "First dose date saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("subject-detail", subject.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        subject = selectors.subject_get(user, subject_id)
    return _subject_action(request, subject, form=form, title="First dose", status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def subject_delete(request, subject_id: int):
    user = request.user
    subject = selectors.subject_get(user, subject_id)
    permissions.require(user, "subject.edit", subject)
    form = SubjectDeleteForm(request.POST if request.method == "POST" else None, initial={"version": subject.version})
    outcome = run_form(
        request, form,
        lambda: services.subject_delete(user=user, subject=subject, version=form.cleaned_data["version"],
                                        reason=form.cleaned_data["reason"]),
        success=lambda _: f"Subject {subject.subject_number} deleted; the number stays used.",
        redirect_to=("site-subjects", subject.site_id))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        subject = selectors.subject_get(user, subject_id)
    return _subject_action(request, subject, form=form, title=f"Delete subject {subject.subject_number}",
                           status=outcome.status, extra={"submit_label": "Delete subject", "danger": True})


@require_GET
@web_view
def subject_audit(request, subject_id: int):
    user = request.user
    subject = selectors.subject_get(user, subject_id)
    context = subject_page_context(request, subject, "audit")
    export_url = reverse("audit-record-export", args=["subjects.subject", subject.pk]) \
        if context["can"]["audit_export"] else None
    context.update(audit_panel(request, lambda flt: audit_record_history(user, "subjects.subject", subject.pk, flt),
                               export_url=export_url))
    randomization = getattr(subject, "randomization", None) if subject.randomized_on else None
    context["related"] = [(f"Consent to form {c.icf_version.version_number} ({c.consented_on})",
                           reverse("audit-record", args=["subjects.consentevent", c.pk]))
                          for c in selectors.consent_list(user, subject)]
    if randomization is not None:
        context["related"].append(("Randomization", reverse("audit-record",
                                                            args=["subjects.randomization", randomization.pk])))
    return render_audit(request, "subjects/subject_audit.html", context)


# --- Consent forms -------------------------------------------------------------------------------------------

@require_GET
@web_view
def study_icf_versions(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    context = _study_context(request, study, "consent")
    context["icf_versions"] = selectors.icf_version_list(user, study_id=study.pk)
    reconsents = selectors.reconsent_list(user, ReconsentFilter(study_id=study.pk, status="open"))
    context["reconsent_page"] = paginate(request, reconsents)
    return render(request, "subjects/icf_versions.html", context)


def _icf_form_kwargs(study) -> dict:
    return {"sites": study.sites.select_related("institution").order_by("site_number"),
            "protocol_versions": ProtocolVersion.objects.filter(study=study).order_by("version_date", "id")}


@require_http_methods(["GET", "POST"])
@web_view
def icf_version_create(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "icf.edit", study)
    form = IcfVersionForm(request.POST if request.method == "POST" else None, **_icf_form_kwargs(study))
    outcome = run_form(request, form,
                       lambda: services.icf_version_create(user=user, study=study, data=form.record_data()),
                       success=lambda icf: f"Consent form {icf.version_number} added as a draft.",
                       redirect_to=("study-icf-versions", study.pk))
    if outcome.response is not None:
        return outcome.response
    context = _study_context(request, study, "consent")
    context.update({"form": form, "title": "New consent form version", "submit_label": "Add draft",
                    "cancel_url": reverse("study-icf-versions", args=[study.pk])})
    return render(request, "subjects/study_form.html", context, status=outcome.status)


ICF_FORM_FIELDS = ["version_number", "version_date", "country", "site", "protocol_version", "irb_approval_date"]


@require_http_methods(["GET", "POST"])
@web_view
def icf_version_edit(request, icf_id: int):
    user = request.user
    icf = selectors.icf_version_get(user, icf_id)
    permissions.require(user, "icf.edit", icf)
    initial = {name: getattr(icf, name) for name in ICF_FORM_FIELDS}
    initial["version"] = icf.version
    form = IcfVersionEditForm(request.POST if request.method == "POST" else None, initial=initial,
                              **_icf_form_kwargs(icf.study))
    outcome = run_form(
        request, form,
        lambda: services.icf_version_update(user=user, icf_version=icf, data=form.record_data(only_changed=True),
                                            version=form.cleaned_data["version"],
                                            reason=form.cleaned_data["reason"]),
        success=lambda _: "Consent form saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("study-icf-versions", icf.study_id))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        icf = selectors.icf_version_get(user, icf_id)
    context = _study_context(request, icf.study, "consent")
    context.update({"form": form, "title": f"Edit consent form {icf.version_number}", "stale_url": request.path,
                    "cancel_url": reverse("study-icf-versions", args=[icf.study_id]),
                    "audit_url": reverse("audit-record", args=["subjects.icfversion", icf.pk])})
    return render(request, "subjects/study_form.html", context, status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def icf_version_approve(request, icf_id: int):
    user = request.user
    icf = selectors.icf_version_get(user, icf_id)
    permissions.require(user, "icf.edit", icf)
    form = IcfApproveForm(request.POST if request.method == "POST" else None, initial={"version": icf.version})

    def approved(_) -> str:
        fresh = selectors.icf_version_get(user, icf_id)  # with the count of re-consents the approval opened
        return (f"Consent form {fresh.version_number} approved. Subjects who must re-consent: "
                f"{fresh.open_reconsents}.")

    outcome = run_form(
        request, form,
        lambda: services.icf_version_approve(user=user, icf_version=icf, version=form.cleaned_data["version"],
                                             reason=form.cleaned_data["reason"]),
        success=approved, redirect_to=("study-icf-versions", icf.study_id))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        icf = selectors.icf_version_get(user, icf_id)
    context = _study_context(request, icf.study, "consent")
    context.update({"form": form, "icf": icf, "stale_url": request.path,
                    "cancel_url": reverse("study-icf-versions", args=[icf.study_id])})
    return render(request, "subjects/icf_approve.html", context, status=outcome.status)


# --- Settings -----------------------------------------------------------------------------------------------

SETTINGS_FORM_FIELDS = ["id_pattern", "screen_fail_reasons", "no_enrollment_alert_days",
                        "on_time_probability_threshold", "screen_fail_alert_ratio"]


@require_http_methods(["GET", "POST"])
@web_view
def subject_settings(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    settings = selectors.subject_settings_get(user, study)
    can_edit = permissions.has_perm(user, "study.edit", study)
    if request.method == "POST":
        permissions.require(user, "study.edit", study)
    initial = {name: getattr(settings, name) for name in SETTINGS_FORM_FIELDS}
    initial["version"] = settings.version
    form = SettingsForm(request.POST if request.method == "POST" else None, initial=initial) if can_edit else None
    status = 200
    if form is not None:
        outcome = run_form(
            request, form,
            lambda: services.subject_settings_update(user=user, study=study,
                                                     data=form.record_data(only_changed=True),
                                                     version=form.cleaned_data["version"],
                                                     reason=form.cleaned_data["reason"]),
            success=lambda _: "Settings saved." if form.changed_data else "Nothing was changed.",
            redirect_to=("subject-settings", study.pk))
        if outcome.response is not None:
            return outcome.response
        status = outcome.status
    context = _study_context(request, study, "settings")
    context.update({"settings": settings, "form": form, "stale_url": request.path,
                    "example": rules.format_subject_number(settings.id_pattern, site_number="101", seq=7,
                                                           protocol_number=study.protocol_number)
                    if not rules.id_pattern_errors(settings.id_pattern) else ""})
    return render(request, "subjects/settings.html", context, status=status)


# --- Import -------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def subject_import(request, study_id: int):
    """Upload a file → dry-run report (every problem by row and column) → confirm the import of that file."""
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "subject.import", study)
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    error = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            content = upload.read()
            commit = form.cleaned_data.get("action") == "import"
            if commit and form.cleaned_data.get("digest") != hashlib.sha256(content).hexdigest():
                # Confirming imports exactly the file whose dry-run report the user saw.
                error = "This is not the file you checked: check it again before importing."
                status = 409
                commit = False
            try:
                report = services.screening_log_import(user=user, study=study, content=content,
                                                       filename=upload.name, dry_run=not commit)
            except ServiceError as exc:
                report = getattr(exc, "report", None)
                if report is None:
                    raise
                error = exc.message
                status = exc.status_code
            if report is not None and not report.dry_run:
                messages.success(request, f"{len(report.created)} subject{'s' if len(report.created) != 1 else ''} "
                                          f"imported from {report.filename}.")
                if request.htmx:  # a full navigation, not a swap of the log page into the report
                    return HttpResponseClientRedirect(reverse("study-subjects", args=[study.pk]))
                return redirect("study-subjects", study.pk)
            if report is not None and not report.ok:
                status = 422 if status == 200 else status
        else:
            status = 422
            confirming = request.POST.get("action") == "import" and request.POST.get("digest")
            error = "Choose the screening log file (CSV or XLSX)" + (
                ", the same you checked, and import it again: browsers do not keep the file between steps."
                if confirming else ".")
    pending = request.POST.get("digest", "")[:64] if request.method == "POST" and report is None else ""
    context = _study_context(request, study, "import")
    context.update({"form": form, "report": report, "error": error, "columns": COLUMNS, "pending_digest": pending})
    if request.htmx and request.method == "POST":
        return render(request, "subjects/_import_report.html", context, status=200 if status < 500 else status)
    return render(request, "subjects/import.html", context, status=status)


@require_GET
@web_view
def subject_import_template(request, study_id: int, fmt: str):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "subject.import", study)
    if fmt not in ("csv", "xlsx"):
        raise NotFound("Templates come as .csv or .xlsx.")
    return template_response(study, selectors.subject_settings_get(user, study), fmt)
