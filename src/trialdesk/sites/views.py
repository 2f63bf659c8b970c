"""Study-site pages. Reads go through sites.selectors, writes through sites.services."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from trialdesk.accounts import permissions
from trialdesk.audit.selectors import audit_record_history
from trialdesk.audit.views import audit_panel, render_audit
from trialdesk.core.views_utils import TransitionForm, paginate, render_list, run_form, web_view
from trialdesk.organizations.selectors import organization_list, person_list
from trialdesk.sites import selectors, services
from trialdesk.sites.forms import DETAIL_FIELDS, MILESTONE_FIELDS, SiteEditForm, SiteFilterForm, SiteForm
from trialdesk.sites.lifecycle import SITE_STATUSES, SITE_TRANSITIONS
from trialdesk.sites.selectors import SiteFilter
from trialdesk.studies.selectors import study_get
from trialdesk.studies.views import study_page_context

SITE_PERMS = ["site.edit", "site.transition", "audit.view", "audit.export"]


def _status_choices(current: str) -> list[tuple[str, str]]:
    allowed = SITE_TRANSITIONS.get(current, frozenset())
    return [(key, label) for key, label in SITE_STATUSES.items() if key in allowed]


def site_page_context(request, site, active: str) -> dict:
    can = permissions.permitted(request.user, site, SITE_PERMS)
    tabs = [("overview", "Overview", reverse("site-detail", args=[site.pk])),
            ("subjects", "Subjects", reverse("site-subjects", args=[site.pk])),
            ("visits", "Visits", reverse("site-visits", args=[site.pk])),
            ("staff", "Staff & delegation", reverse("site-staff", args=[site.pk]))]
    if permissions.has_perm(request.user, "startup.view", site):
        tabs.append(("startup", "Start-up", reverse("site-startup", args=[site.pk])))
    if permissions.has_perm(request.user, "training.view", site):
        tabs.append(("training", "Training", reverse("site-training", args=[site.pk])))
    if can["audit_view"]:
        tabs.append(("audit", "Audit trail", reverse("site-audit", args=[site.pk])))
    return {"site": site, "study": site.study, "can": can, "tabs": tabs, "active_tab": active}


def _form_kwargs(user, current_institution_id=None) -> dict:
    institutions = organization_list(user, kind="institution")
    if current_institution_id is not None:
        # An imported site may sit at an organization of another kind; keep it selectable.
        institutions = institutions | organization_list(user).filter(pk=current_institution_id)
    return {"institutions": institutions, "people": person_list(user)}


@require_GET
@web_view
def study_sites(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    form = SiteFilterForm(request.GET, countries=selectors.site_countries(user, study.pk))
    form.is_valid()
    values = form.cleaned_data
    sites = selectors.site_list(user, SiteFilter(study_id=study.pk, status=values.get("status") or None,
                                                 country=values.get("country") or None,
                                                 text=values.get("q") or None))
    page = paginate(request, sites)
    context = study_page_context(request, study, "sites")
    context.update({"filter_form": form, "page": page, "sites": page.object_list,
                    "filtered": any(values.get(k) for k in ("status", "country", "q"))})
    return render_list(request, target="site-results", partial="sites/_site_results.html",
                       full="sites/study_sites.html", context=context)


@require_http_methods(["GET", "POST"])
@web_view
def site_create(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "site.create", study)
    form = SiteForm(request.POST if request.method == "POST" else None, **_form_kwargs(user))
    outcome = run_form(request, form, lambda: services.site_create(user=user, study=study, data=form.record_data()),
                       success=lambda site: f"Site {site.site_number} added as a candidate.",
                       redirect_to=lambda site: ("site-detail", site.pk))
    if outcome.response is not None:
        return outcome.response
    context = study_page_context(request, study, "sites")
    context.update({"form": form, "title": "Add a site", "cancel_url": reverse("study-sites", args=[study.pk])})
    return render(request, "sites/site_form.html", context, status=outcome.status)


@require_GET
@web_view
def site_detail(request, site_id: int):
    site = selectors.site_get(request.user, site_id)
    context = site_page_context(request, site, "overview")
    if context["can"]["site_transition"] and _status_choices(site.status):
        context["transition_form"] = TransitionForm(choices=_status_choices(site.status),
                                                    initial={"version": site.version})
    context["today"] = timezone.localdate()
    return render(request, "sites/site_detail.html", context)


@require_http_methods(["GET", "POST"])
@web_view
def site_edit(request, site_id: int):
    user = request.user
    site = selectors.site_get(user, site_id)
    permissions.require(user, "site.edit", site)
    initial = {name: getattr(site, name) for name in DETAIL_FIELDS + MILESTONE_FIELDS}
    initial["version"] = site.version
    form = SiteEditForm(request.POST if request.method == "POST" else None, initial=initial,
                        **_form_kwargs(user, site.institution_id))
    outcome = run_form(
        request, form,
        lambda: services.site_update(user=user, site=site, data=form.record_data(only_changed=True),
                                     version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("site-detail", site.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        site = selectors.site_get(user, site_id)
    context = site_page_context(request, site, "overview")
    context.update({"form": form, "title": f"Edit site {site.site_number}", "editing": True,
                    "cancel_url": reverse("site-detail", args=[site.pk]), "stale_url": request.path})
    return render(request, "sites/site_form.html", context, status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def site_transition(request, site_id: int):
    user = request.user
    site = selectors.site_get(user, site_id)
    permissions.require(user, "site.transition", site)
    form = TransitionForm(request.POST if request.method == "POST" else None, choices=_status_choices(site.status),
                          initial={"version": site.version})
    outcome = run_form(
        request, form,
        lambda: services.site_transition(user=user, site=site, status=form.cleaned_data["status"],
                                         version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success=lambda _: f"Site status changed to {SITE_STATUSES[site.status]}.",
        redirect_to=("site-detail", site.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        site = selectors.site_get(user, site_id)
    context = site_page_context(request, site, "overview")
    context.update({"form": form, "stale_url": reverse("site-detail", args=[site.pk])})
    return render(request, "sites/site_transition.html", context, status=outcome.status)


@require_GET
@web_view
def site_audit(request, site_id: int):
    user = request.user
    site = selectors.site_get(user, site_id)
    context = site_page_context(request, site, "audit")
    export_url = reverse("audit-record-export", args=["sites.studysite", site.pk]) \
        if context["can"]["audit_export"] else None
    context.update(audit_panel(request, lambda flt: audit_record_history(user, "sites.studysite", site.pk, flt),
                               export_url=export_url))
    return render_audit(request, "sites/site_audit.html", context)
