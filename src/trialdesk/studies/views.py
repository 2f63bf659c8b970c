"""Portfolio and study pages. Reads go through studies.selectors, writes through studies.services."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from trialdesk.accounts import permissions
from trialdesk.core.views_utils import TransitionForm, paginate, render_list, run_form, web_view
from trialdesk.organizations.selectors import organization_list
from trialdesk.signatures.selectors import signature_check
from trialdesk.studies import selectors, services
from trialdesk.studies.forms import (
    ApproveForm,
    ArmEditForm,
    ArmForm,
    EligibilityEditForm,
    InterventionEditForm,
    InterventionForm,
    KeyDatesEditForm,
    PortfolioFilterForm,
    ProtocolVersionEditForm,
    ProtocolVersionForm,
    StudyEditForm,
    StudyForm,
    design_summary,
)
from trialdesk.studies.lifecycle import STUDY_STATUSES, allowed_study_transitions
from trialdesk.studies.selectors import StudyFilter

STUDY_PERMS = ["study.edit", "study.transition", "protocol.edit", "protocol.approve", "site.create",
               "membership.view", "membership.manage", "audit.view", "audit.export"]


def study_page_context(request, study, active: str) -> dict:
    """Header, tabs and permission flags shared by every study tab (also used by sites/accounts/audit)."""
    user = request.user
    tabs = [
        ("overview", "Overview", reverse("study-detail", args=[study.pk])),
        ("arms", "Arms & interventions", reverse("study-arms", args=[study.pk])),
        ("eligibility", "Eligibility", reverse("study-eligibility", args=[study.pk])),
        ("protocols", "Protocol versions", reverse("study-protocols", args=[study.pk])),
        ("dates", "Key dates", reverse("study-dates", args=[study.pk])),
        ("sites", "Sites", reverse("study-sites", args=[study.pk])),
        ("subjects", "Subjects", reverse("study-subjects", args=[study.pk])),
        ("enrollment", "Enrollment", reverse("study-enrollment", args=[study.pk])),
        ("startup", "Start-up", reverse("startup-tracker", args=[study.pk])),
        ("visits", "Visits", reverse("study-visits", args=[study.pk])),
    ]
    if permissions.has_perm(user, "training.view", study):
        tabs.append(("training", "Training", reverse("study-training", args=[study.pk])))
    can = permissions.permitted(user, study, STUDY_PERMS)
    if can["membership_view"]:
        tabs.append(("team", "Team", reverse("study-team", args=[study.pk])))
    # The study-wide trail is closed to users limited to some sites.
    can["audit_study"] = permissions.has_perm(user, "audit.view", study, whole_study=True)
    can["audit_export_study"] = permissions.has_perm(user, "audit.export", study, whole_study=True)
    if can["audit_study"]:
        tabs.append(("audit", "Audit trail", reverse("study-audit", args=[study.pk])))
    return {"study": study, "tabs": tabs, "active_tab": active, "can": can}


def _status_choices(current: str) -> list[tuple[str, str]]:
    allowed = allowed_study_transitions(current)
    return [(key, label) for key, label in STUDY_STATUSES.items() if key in allowed]


# --- Portfolio -------------------------------------------------------------------------------------------

@require_GET
@web_view
def portfolio(request):
    form = PortfolioFilterForm(request.GET)
    form.is_valid()  # invalid values are ignored, valid ones still filter
    values = getattr(form, "cleaned_data", {})
    flt = StudyFilter(status=values.get("status") or None, phase=values.get("phase") or None,
                      text=values.get("q") or None)
    rows = selectors.portfolio(request.user, flt)
    page = paginate(request, rows)
    context = {
        "filter_form": form,
        "page": page,
        "rows": page.object_list,
        "totals": selectors.portfolio_totals(rows),
        "today": timezone.localdate(),
        "can_create": permissions.has_perm(request.user, "study.create"),
        "filtered": any(values.get(k) for k in ("status", "phase", "q")),
    }
    return render_list(request, target="portfolio-results", partial="studies/_portfolio_results.html",
                       full="studies/portfolio.html", context=context)


# --- Study create / edit / transition --------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def study_create(request):
    user = request.user
    permissions.require(user, "study.create")
    form = StudyForm(request.POST if request.method == "POST" else None, organizations=organization_list(user),
                     initial={"study_type": "INTERVENTIONAL"})
    outcome = run_form(
        request, form,
        lambda: services.study_create(user=user, data=form.record_data(exclude=("collaborators",)),
                                      collaborators=list(form.cleaned_data["collaborators"])),
        success=lambda study: f"Study {study.protocol_number} created in Planning.",
        redirect_to=lambda study: ("study-detail", study.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "studies/study_create.html",
                  {"form": form, "creating": True, "cancel_url": reverse("portfolio")}, status=outcome.status)


EDIT_SECTIONS = {
    "general": (StudyEditForm, "Edit study", "overview", "study-detail"),
    "eligibility": (EligibilityEditForm, "Edit eligibility", "eligibility", "study-eligibility"),
    "dates": (KeyDatesEditForm, "Edit key dates", "dates", "study-dates"),
}


def _study_initial(study, form_class) -> dict:
    initial = {name: getattr(study, name) for name in form_class.base_fields
               if name not in ("version", "reason", "collaborators")}
    if "collaborators" in form_class.base_fields:
        initial["collaborators"] = list(study.collaborators.all())
    initial["version"] = study.version
    return initial


def _study_edit(request, study_id: int, section: str):
    user = request.user
    form_class, title, tab, back = EDIT_SECTIONS[section]
    study = selectors.study_get(user, study_id)
    permissions.require(user, "study.edit", study)
    kwargs = {"organizations": organization_list(user)} if section == "general" else {}
    form = form_class(request.POST if request.method == "POST" else None, initial=_study_initial(study, form_class),
                      **kwargs)

    def update():
        collaborators = None
        if "collaborators" in form.changed_data:
            collaborators = list(form.cleaned_data["collaborators"])
        services.study_update(user=user, study=study,
                              data=form.record_data(only_changed=True, exclude=("collaborators",)),
                              version=form.cleaned_data["version"], reason=form.cleaned_data["reason"],
                              collaborators=collaborators)

    outcome = run_form(request, form, update,
                       success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
                       redirect_to=(back, study.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        study = selectors.study_get(user, study_id)  # the failed call may have changed it in memory
    context = study_page_context(request, study, tab)
    context.update({"form": form, "title": title, "section": section, "cancel_url": reverse(back, args=[study.pk]),
                    "stale_url": request.path, "pairs": section == "dates"})
    template = "studies/study_form.html" if section == "general" else "studies/study_record_form.html"
    return render(request, template, context, status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def study_edit(request, study_id: int):
    return _study_edit(request, study_id, "general")


@require_http_methods(["GET", "POST"])
@web_view
def study_eligibility_edit(request, study_id: int):
    return _study_edit(request, study_id, "eligibility")


@require_http_methods(["GET", "POST"])
@web_view
def study_dates_edit(request, study_id: int):
    return _study_edit(request, study_id, "dates")


@require_http_methods(["GET", "POST"])
@web_view
def study_transition(request, study_id: int):
    user = request.user
    study = selectors.study_get(user, study_id)
    permissions.require(user, "study.transition", study)
    form = TransitionForm(request.POST if request.method == "POST" else None,
                          choices=_status_choices(study.status), initial={"version": study.version})
    outcome = run_form(
        request, form,
        lambda: services.study_transition(user=user, study=study, status=form.cleaned_data["status"],
                                          version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success=lambda _: f"Study status changed to {STUDY_STATUSES[study.status]}.",
        redirect_to=("study-detail", study.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        study = selectors.study_get(user, study_id)
    context = study_page_context(request, study, "overview")
    context.update({"form": form, "stale_url": reverse("study-detail", args=[study.pk])})
    return render(request, "studies/study_transition.html", context, status=outcome.status)


# --- Tabs ------------------------------------------------------------------------------------------------

@require_GET
@web_view
def study_detail(request, study_id: int):
    study = selectors.study_detail(request.user, study_id)
    context = study_page_context(request, study, "overview")
    context["design"] = design_summary(study)
    if context["can"]["study_transition"] and _status_choices(study.status):
        context["transition_form"] = TransitionForm(choices=_status_choices(study.status),
                                                    initial={"version": study.version})
    return render(request, "studies/study_overview.html", context)


@require_GET
@web_view
def study_arms(request, study_id: int):
    study = selectors.study_detail(request.user, study_id)
    return render(request, "studies/study_arms.html", study_page_context(request, study, "arms"))


@require_GET
@web_view
def study_eligibility(request, study_id: int):
    study = selectors.study_get(request.user, study_id)
    return render(request, "studies/study_eligibility.html", study_page_context(request, study, "eligibility"))


@require_GET
@web_view
def study_dates(request, study_id: int):
    study = selectors.study_get(request.user, study_id)
    context = study_page_context(request, study, "dates")
    context["today"] = timezone.localdate()
    return render(request, "studies/study_dates.html", context)


@require_GET
@web_view
def study_protocols(request, study_id: int):
    study = selectors.study_detail(request.user, study_id)
    context = study_page_context(request, study, "protocols")
    context["versions"] = [
        {"pv": pv, "signature": signature_check(pv.approval_signature, pv) if pv.approval_signature_id else None}
        for pv in study.protocol_versions.all()
    ]
    return render(request, "studies/study_protocols.html", context)


# --- Arms and interventions --------------------------------------------------------------------------------

def _record_form_page(request, *, study, tab: str, form, title: str, cancel_url: str, status: int,
                      extra: dict | None = None):
    context = study_page_context(request, study, tab)
    context.update({"form": form, "title": title, "cancel_url": cancel_url, "stale_url": request.path,
                    **(extra or {})})
    return render(request, "studies/study_record_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@web_view
def arm_create(request, study_id: int):
    user = request.user
    study = selectors.study_get(user, study_id)
    permissions.require(user, "study.edit", study)
    form = ArmForm(request.POST if request.method == "POST" else None)
    outcome = run_form(request, form, lambda: services.arm_create(user=user, study=study, data=form.record_data()),
                       success=lambda arm: f"Arm “{arm.label}” added.", redirect_to=("study-arms", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _record_form_page(request, study=study, tab="arms", form=form, title="Add an arm",
                             cancel_url=reverse("study-arms", args=[study.pk]), status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def arm_edit(request, arm_id: int):
    user = request.user
    arm = selectors.arm_get(user, arm_id)
    permissions.require(user, "study.edit", arm.study)
    initial = {"label": arm.label, "arm_type": arm.arm_type, "description": arm.description,
               "planned_enrollment": arm.planned_enrollment, "version": arm.version}
    form = ArmEditForm(request.POST if request.method == "POST" else None, initial=initial)
    outcome = run_form(
        request, form,
        lambda: services.arm_update(user=user, arm=arm, data=form.record_data(only_changed=True),
                                    version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success="Arm saved.", redirect_to=("study-arms", arm.study_id))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        arm = selectors.arm_get(user, arm_id)
    return _record_form_page(request, study=arm.study, tab="arms", form=form, title=f"Edit arm “{arm.label}”",
                             cancel_url=reverse("study-arms", args=[arm.study_id]), status=outcome.status,
                             extra={"audit_url": reverse("audit-record", args=["studies.arm", arm.pk])})


@require_http_methods(["GET", "POST"])
@web_view
def intervention_create(request, study_id: int):
    user = request.user
    study = selectors.study_detail(user, study_id)
    permissions.require(user, "study.edit", study)
    form = InterventionForm(request.POST if request.method == "POST" else None, arms=study.arms.all())
    outcome = run_form(
        request, form,
        lambda: services.intervention_create(user=user, study=study, data=form.record_data(),
                                             arm_ids=form.cleaned_data["arms"]),
        success=lambda item: f"Intervention “{item.name}” added.", redirect_to=("study-arms", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _record_form_page(request, study=study, tab="arms", form=form, title="Add an intervention",
                             cancel_url=reverse("study-arms", args=[study.pk]), status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def intervention_edit(request, intervention_id: int):
    user = request.user
    item = selectors.intervention_get(user, intervention_id)
    permissions.require(user, "study.edit", item.study)
    study = selectors.study_detail(user, item.study_id)
    initial = {"kind": item.kind, "name": item.name, "description": item.description,
               "other_names": item.other_names, "arms": [a.pk for a in item.arms.all()], "version": item.version}
    form = InterventionEditForm(request.POST if request.method == "POST" else None, initial=initial,
                                arms=study.arms.all())
    outcome = run_form(
        request, form,
        lambda: services.intervention_update(
            user=user, intervention=item, data=form.record_data(only_changed=True),
            version=form.cleaned_data["version"], reason=form.cleaned_data["reason"],
            arm_ids=form.cleaned_data["arms"] if "arms" in form.changed_data else None),
        success="Intervention saved.", redirect_to=("study-arms", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _record_form_page(request, study=study, tab="arms", form=form, title=f"Edit intervention “{item.name}”",
                             cancel_url=reverse("study-arms", args=[study.pk]), status=outcome.status,
                             extra={"audit_url": reverse("audit-record", args=["studies.intervention", item.pk])})


# --- Protocol versions -------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def protocol_version_create(request, study_id: int):
    user = request.user
    study = selectors.study_get(user, study_id)
    permissions.require(user, "protocol.edit", study)
    form = ProtocolVersionForm(request.POST if request.method == "POST" else None)
    outcome = run_form(request, form,
                       lambda: services.protocol_version_create(user=user, study=study, data=form.record_data()),
                       success=lambda pv: f"{pv} created as a draft.", redirect_to=("study-protocols", study.pk))
    if outcome.response is not None:
        return outcome.response
    return _record_form_page(request, study=study, tab="protocols", form=form, title="New protocol version",
                             cancel_url=reverse("study-protocols", args=[study.pk]), status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def protocol_version_edit(request, pv_id: int):
    user = request.user
    pv = selectors.protocol_version_get(user, pv_id)
    permissions.require(user, "protocol.edit", pv)
    initial = {"version_number": pv.version_number, "version_date": pv.version_date,
               "amendment_number": pv.amendment_number, "summary_of_changes": pv.summary_of_changes,
               "version": pv.version}
    form = ProtocolVersionEditForm(request.POST if request.method == "POST" else None, initial=initial)
    outcome = run_form(
        request, form,
        lambda: services.protocol_version_update(user=user, protocol_version=pv,
                                                 data=form.record_data(only_changed=True),
                                                 version=form.cleaned_data["version"],
                                                 reason=form.cleaned_data["reason"]),
        success="Protocol version saved.", redirect_to=("study-protocols", pv.study_id))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        pv = selectors.protocol_version_get(user, pv_id)
    warning = ("This version is approved. Saving a change returns it to Draft: the approval signature will no "
               "longer match and the version must be approved again.") if pv.status == "approved" else ""
    return _record_form_page(request, study=pv.study, tab="protocols", form=form, title=f"Edit {pv}",
                             cancel_url=reverse("study-protocols", args=[pv.study_id]), status=outcome.status,
                             extra={"warning": warning,
                                    "audit_url": reverse("audit-record", args=["studies.protocolversion", pv.pk])})


@require_http_methods(["GET", "POST"])
@web_view
def protocol_version_approve(request, pv_id: int):
    user = request.user
    pv = selectors.protocol_version_get(user, pv_id)
    permissions.require(user, "protocol.approve", pv)
    form = ApproveForm(request.POST if request.method == "POST" else None, initial={"version": pv.version})
    outcome = run_form(
        request, form,
        lambda: services.protocol_version_approve(user=user, protocol_version=pv,
                                                  password=form.cleaned_data["password"],
                                                  version=form.cleaned_data["version"],
                                                  comment=form.cleaned_data["comment"]),
        success=lambda _: f"{pv} approved and signed.", redirect_to=("study-protocols", pv.study_id))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        pv = selectors.protocol_version_get(user, pv_id)
    context = study_page_context(request, pv.study, "protocols")
    context.update({"form": form, "pv": pv, "stale_url": request.path,
                    "cancel_url": reverse("study-protocols", args=[pv.study_id])})
    return render(request, "studies/protocol_approve.html", context, status=outcome.status)
