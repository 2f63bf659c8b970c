"""Organization and people pages. Reads go through organizations.selectors, writes through its services."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from trialdesk.accounts import permissions
from trialdesk.audit.selectors import audit_record_history
from trialdesk.audit.views import audit_panel, render_audit
from trialdesk.core.views_utils import paginate, render_list, run_form, web_view
from trialdesk.organizations import selectors, services
from trialdesk.organizations.forms import (
    ORG_FORM_FIELDS,
    PERSON_FORM_FIELDS,
    OrganizationEditForm,
    OrganizationFilterForm,
    OrganizationForm,
    PersonEditForm,
    PersonFilterForm,
    PersonForm,
)


def _page_context(request, obj, *, kind: str, active: str) -> dict:
    """Header, tabs and permission flags for an organization or person page."""
    edit_perm = "org.edit" if kind == "organization" else "person.edit"
    can = {"edit": permissions.has_perm(request.user, edit_perm, obj),
           "audit_view": permissions.has_perm(request.user, "audit.view", obj),
           "audit_export": permissions.has_perm(request.user, "audit.export", obj)}
    tabs = [("overview", "Overview", reverse(f"{kind}-detail", args=[obj.pk]))]
    if can["audit_view"]:
        tabs.append(("audit", "Audit trail", reverse(f"{kind}-audit", args=[obj.pk])))
    return {"object": obj, "kind": kind, "can": can, "tabs": tabs, "active_tab": active,
            "list_url": reverse(f"{kind}-list"), "list_label": "Organizations" if kind == "organization" else "People"}


# --- Organizations -----------------------------------------------------------------------------------------

@require_GET
@web_view
def organization_list(request):
    user = request.user
    permissions.require(user, "org.view")
    form = OrganizationFilterForm(request.GET)
    form.is_valid()
    values = form.cleaned_data
    orgs = selectors.organization_list(user, kind=values.get("kind") or None, text=values.get("q") or None,
                                       country=values.get("country") or None)
    page = paginate(request, orgs)
    context = {"filter_form": form, "page": page, "organizations": page.object_list,
               "can_create": permissions.has_perm(user, "org.edit"),
               "filtered": any(values.get(k) for k in ("kind", "q", "country"))}
    return render_list(request, target="org-results", partial="organizations/_organization_results.html",
                       full="organizations/organization_list.html", context=context)


@require_http_methods(["GET", "POST"])
@web_view
def organization_create(request):
    user = request.user
    permissions.require(user, "org.edit")
    form = OrganizationForm(request.POST if request.method == "POST" else None)
    outcome = run_form(request, form, lambda: services.organization_create(user=user, data=form.record_data()),
                       success=lambda org: f"Organization “{org.name}” created.",
                       redirect_to=lambda org: ("organization-detail", org.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "organizations/record_form.html",
                  {"form": form, "title": "New organization", "list_url": reverse("organization-list"),
                   "list_label": "Organizations", "cancel_url": reverse("organization-list")},
                  status=outcome.status)


@require_GET
@web_view
def organization_detail(request, org_id: int):
    user = request.user
    org = selectors.organization_get(user, org_id)
    context = _page_context(request, org, kind="organization", active="overview")
    context["people"] = selectors.person_list(user, organization_id=org.pk)[:200]
    context["can_add_person"] = permissions.has_perm(user, "person.edit")
    return render(request, "organizations/organization_detail.html", context)


@require_http_methods(["GET", "POST"])
@web_view
def organization_edit(request, org_id: int):
    user = request.user
    org = selectors.organization_get(user, org_id)
    permissions.require(user, "org.edit", org)
    initial = {name: getattr(org, name) for name in ORG_FORM_FIELDS}
    initial["version"] = org.version
    form = OrganizationEditForm(request.POST if request.method == "POST" else None, initial=initial)
    outcome = run_form(
        request, form,
        lambda: services.organization_update(user=user, organization=org, data=form.record_data(only_changed=True),
                                             version=form.cleaned_data["version"],
                                             reason=form.cleaned_data["reason"]),
        success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("organization-detail", org.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        org = selectors.organization_get(user, org_id)
    context = _page_context(request, org, kind="organization", active="overview")
    context.update({"form": form, "title": f"Edit {org.name}", "cancel_url": reverse("organization-detail",
                                                                                    args=[org.pk]),
                    "stale_url": request.path})
    return render(request, "organizations/record_form.html", context, status=outcome.status)


@require_GET
@web_view
def organization_audit(request, org_id: int):
    user = request.user
    org = selectors.organization_get(user, org_id)
    context = _page_context(request, org, kind="organization", active="audit")
    export_url = reverse("audit-record-export", args=["organizations.organization", org.pk]) \
        if context["can"]["audit_export"] else None
    context.update(audit_panel(
        request, lambda flt: audit_record_history(user, "organizations.organization", org.pk, flt),
        export_url=export_url))
    return render_audit(request, "organizations/record_audit.html", context)


# --- People ------------------------------------------------------------------------------------------------

@require_GET
@web_view
def person_list(request):
    user = request.user
    permissions.require(user, "person.view")
    form = PersonFilterForm(request.GET)
    form.is_valid()
    text = form.cleaned_data.get("q") or None
    page = paginate(request, selectors.person_list(user, text=text))
    context = {"filter_form": form, "page": page, "people": page.object_list,
               "can_create": permissions.has_perm(user, "person.edit"), "filtered": bool(text)}
    return render_list(request, target="person-results", partial="organizations/_person_results.html",
                       full="organizations/person_list.html", context=context)


@require_http_methods(["GET", "POST"])
@web_view
def person_create(request):
    user = request.user
    permissions.require(user, "person.edit")
    initial = {}
    org_id = request.GET.get("organization")
    if org_id and org_id.isdigit():
        initial["organization"] = org_id
    form = PersonForm(request.POST if request.method == "POST" else None, initial=initial,
                      organizations=selectors.organization_list(user))
    outcome = run_form(request, form, lambda: services.person_create(user=user, data=form.record_data()),
                       success=lambda person: f"{person.full_name} added.",
                       redirect_to=lambda person: ("person-detail", person.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "organizations/record_form.html",
                  {"form": form, "title": "New person", "list_url": reverse("person-list"), "list_label": "People",
                   "cancel_url": reverse("person-list")},
                  status=outcome.status)


@require_GET
@web_view
def person_detail(request, person_id: int):
    person = selectors.person_get(request.user, person_id)
    return render(request, "organizations/person_detail.html",
                  _page_context(request, person, kind="person", active="overview"))


@require_http_methods(["GET", "POST"])
@web_view
def person_edit(request, person_id: int):
    user = request.user
    person = selectors.person_get(user, person_id)
    permissions.require(user, "person.edit", person)
    initial = {name: getattr(person, name) for name in PERSON_FORM_FIELDS}
    initial["version"] = person.version
    form = PersonEditForm(request.POST if request.method == "POST" else None, initial=initial,
                          organizations=selectors.organization_list(user))
    outcome = run_form(
        request, form,
        lambda: services.person_update(user=user, person=person, data=form.record_data(only_changed=True),
                                       version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("person-detail", person.pk))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        person = selectors.person_get(user, person_id)
    context = _page_context(request, person, kind="person", active="overview")
    context.update({"form": form, "title": f"Edit {person.full_name}",
                    "cancel_url": reverse("person-detail", args=[person.pk]), "stale_url": request.path})
    return render(request, "organizations/record_form.html", context, status=outcome.status)


@require_GET
@web_view
def person_audit(request, person_id: int):
    user = request.user
    person = selectors.person_get(user, person_id)
    context = _page_context(request, person, kind="person", active="audit")
    export_url = reverse("audit-record-export", args=["organizations.person", person.pk]) \
        if context["can"]["audit_export"] else None
    context.update(audit_panel(request, lambda flt: audit_record_history(user, "organizations.person", person.pk, flt),
                               export_url=export_url))
    return render_audit(request, "organizations/record_audit.html", context)
