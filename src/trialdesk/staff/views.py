"""Site staff pages: the site's "Staff & delegation" tab (roster, delegation log, exports) and the forms behind it.

Reads go through staff.selectors, writes through staff.services.
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound, StaleVersion
from trialdesk.core.views_utils import run_form, web_view
from trialdesk.organizations.selectors import person_list
from trialdesk.sites.selectors import site_get
from trialdesk.sites.views import site_page_context
from trialdesk.staff import selectors, services, tasks
from trialdesk.staff.api import delegation_log_response, roster_response
from trialdesk.staff.forms import (
    DelegationCreateForm,
    DelegationEditForm,
    DelegationEndForm,
    DelegationWithdrawForm,
    SignForm,
    StaffCreateForm,
    StaffDeleteForm,
    StaffEditForm,
)

STAFF_PERMS = ["staff.edit", "delegation.edit", "delegation.sign"]


def _site(user, site_id: int):
    site = site_get(user, site_id)
    if not permissions.has_perm(user, "staff.view", site):
        raise NotFound("Site not found.")
    return site


def _context(request, site) -> dict:
    context = site_page_context(request, site, "staff")
    context["can"].update(permissions.permitted(request.user, site, STAFF_PERMS))
    context["staff_url"] = reverse("site-staff", args=[site.pk])
    return context


def _form_page(request, site, *, form, title: str, outcome, extra: dict | None = None,
               template: str = "staff/form.html"):
    context = _context(request, site)
    context.update({"form": form, "title": title, "cancel_url": context["staff_url"],
                    "stale_url": _stale_url(request, outcome)})
    context.update(extra or {})
    return render(request, template, context, status=outcome.status)


def _stale_url(request, outcome) -> str | None:
    """The "reload the current version" link, only when the record changed under the user."""
    return request.path if isinstance(outcome.error, StaleVersion) else None


# --- The tab ---------------------------------------------------------------------------------------------------

@require_GET
@web_view
def site_staff(request, site_id: int):
    user = request.user
    site = _site(user, site_id)
    today = timezone.localdate()
    context = _context(request, site)
    roster = list(selectors.staff_list(user, selectors.StaffFilter(site_id=site.pk)))
    for entry in roster:
        entry.flag_list = [(f, selectors.FLAG_LABELS[f]) for f in selectors.staff_flags(entry, today)]
        entry.is_current = entry.end_date is None or entry.end_date >= today
    show_withdrawn = request.GET.get("withdrawn") == "1"
    delegations = list(selectors.delegation_list(user, selectors.DelegationFilter(site_id=site.pk)))
    withdrawn = sum(1 for d in delegations if d.status == "withdrawn")
    if not show_withdrawn:
        delegations = [d for d in delegations if d.status != "withdrawn"]
    signer_problem = selectors.signer_problem(user, site)
    for d in delegations:
        d.blockers = selectors.delegation_sign_blockers(d, today) if d.status == "pending" else []
        d.in_force = d.covers(today)
    context.update({
        "roster": roster, "delegations": delegations, "withdrawn_count": withdrawn, "show_withdrawn": show_withdrawn,
        "pending_count": sum(1 for d in delegations if d.status == "pending"),
        "may_sign": signer_problem is None, "legend": list(enumerate(tasks.TASKS.values(), start=1)),
        "today": today,
    })
    return render(request, "staff/site_staff.html", context)


@require_GET
@web_view
def roster_export(request, site_id: int):
    return roster_response(request.user, _site(request.user, site_id))


@require_GET
@web_view
def delegation_log_export(request, site_id: int, fmt: str):
    if fmt not in ("pdf", "xlsx"):
        raise NotFound("Unknown export format.")
    return delegation_log_response(request.user, _site(request.user, site_id), fmt)


# --- Roster -----------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def staff_create(request, site_id: int):
    user = request.user
    site = _site(user, site_id)
    permissions.require(user, "staff.edit", site)
    form = StaffCreateForm(request.POST if request.method == "POST" else None, people=person_list(user),
                           initial={"start_date": timezone.localdate()})
    outcome = run_form(request, form,
                       lambda: services.site_staff_create(user=user, site=site, data=form.record_data()),
                       success=lambda s: f"{s.person.full_name} added to the roster.",
                       redirect_to=reverse("site-staff", args=[site.pk]))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, site, form=form, title="Add a person to the roster", outcome=outcome)


@require_http_methods(["GET", "POST"])
@web_view
def staff_edit(request, staff_id: int):
    user = request.user
    staff = selectors.staff_get(user, staff_id)
    permissions.require(user, "staff.edit", staff)
    initial = {name: getattr(staff, name) for name in StaffEditForm.base_fields if name not in ("version", "reason")}
    initial["version"] = staff.version
    form = StaffEditForm(request.POST if request.method == "POST" else None, initial=initial)
    outcome = run_form(
        request, form,
        lambda: services.site_staff_update(user=user, staff=staff, data=form.record_data(only_changed=True),
                                           version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
        redirect_to=reverse("site-staff", args=[staff.site_id]))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, staff.site, form=form, title=f"Edit roster entry: {staff.person.full_name}",
                      outcome=outcome, extra={"record": staff, "audit_type": "staff.sitestaff"})


@require_http_methods(["GET", "POST"])
@web_view
def staff_delete(request, staff_id: int):
    user = request.user
    staff = selectors.staff_get(user, staff_id)
    permissions.require(user, "staff.edit", staff)
    form = StaffDeleteForm(request.POST if request.method == "POST" else None, initial={"version": staff.version})
    outcome = run_form(
        request, form,
        lambda: services.site_staff_delete(user=user, staff=staff, version=form.cleaned_data["version"],
                                           reason=form.cleaned_data["reason"]),
        success=f"{staff.person.full_name}'s roster entry was deleted.",
        redirect_to=reverse("site-staff", args=[staff.site_id]))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, staff.site, form=form, title=f"Delete roster entry: {staff.person.full_name}",
                      outcome=outcome, extra={"danger": True, "submit_label": "Delete entry",
                                              "note": "Only for an entry made in error. Someone who left the site "
                                                      "keeps their entry with an end date."})


# --- Delegation log -------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def delegation_create(request, site_id: int):
    user = request.user
    site = _site(user, site_id)
    permissions.require(user, "delegation.edit", site)
    staff = selectors.staff_list(user, selectors.StaffFilter(site_id=site.pk, current=True)) \
        .exclude(role=tasks.PI_ROLE)
    initial = {"start_date": timezone.localdate()}
    if request.GET.get("staff", "").isdigit():
        initial["staff"] = int(request.GET["staff"])
    form = DelegationCreateForm(request.POST if request.method == "POST" else None, staff=staff, initial=initial)
    outcome = run_form(
        request, form,
        lambda: services.delegations_create(user=user, staff=form.cleaned_data["staff"],
                                            task_list=form.cleaned_data["tasks"],
                                            task_detail=form.cleaned_data["task_detail"] or "",
                                            start_date=form.cleaned_data["start_date"],
                                            end_date=form.cleaned_data["end_date"]),
        success=lambda made: f"{len(made)} delegation{'s' if len(made) != 1 else ''} proposed; the principal "
                             "investigator signs them.",
        redirect_to=reverse("site-staff", args=[site.pk]))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, site, form=form, title="Propose delegations", outcome=outcome,
                      extra={"submit_label": "Propose", "note": "The site's principal investigator signs each "
                                                                "delegation electronically before it takes effect."})


def _delegation(user, delegation_id: int):
    return selectors.delegation_get(user, delegation_id)


@require_http_methods(["GET", "POST"])
@web_view
def delegation_edit(request, delegation_id: int):
    user = request.user
    delegation = _delegation(user, delegation_id)
    permissions.require(user, "delegation.edit", delegation)
    site = delegation.staff.site
    if delegation.status != "pending":
        return _blocked(request, site, delegation, "Change delegation",
                        "Only a delegation pending signature can be changed. End it and propose a new one.")
    initial = {"task": delegation.task, "task_detail": delegation.task_detail, "start_date": delegation.start_date,
               "end_date": delegation.end_date, "version": delegation.version}
    form = DelegationEditForm(request.POST if request.method == "POST" else None, initial=initial)
    outcome = run_form(
        request, form,
        lambda: services.delegation_update(user=user, delegation=delegation,
                                           data=form.record_data(only_changed=True),
                                           version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
        redirect_to=reverse("site-staff", args=[site.pk]))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, site, form=form, title=f"Change delegation: {delegation}", outcome=outcome,
                      extra={"delegation": delegation})


def _blocked(request, site, delegation, title: str, message: str):
    context = _context(request, site)
    context.update({"title": title, "blocked": message, "delegation": delegation,
                    "cancel_url": context["staff_url"]})
    return render(request, "staff/form.html", context)


@require_http_methods(["GET", "POST"])
@web_view
def delegation_sign(request, delegation_id: int):
    user = request.user
    delegation = _delegation(user, delegation_id)
    site = delegation.staff.site
    permissions.require(user, "delegation.sign", delegation)
    form = SignForm(request.POST if request.method == "POST" else None, initial={"version": delegation.version})
    outcome = run_form(
        request, form,
        lambda: services.delegation_sign(user=user, delegation=delegation, password=form.cleaned_data["password"],
                                         version=form.cleaned_data["version"], comment=form.cleaned_data["comment"]),
        success=lambda d: f"Delegation of {d.task_label} to {d.staff.person.full_name} signed.",
        redirect_to=reverse("site-staff", args=[site.pk]))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        delegation = _delegation(user, delegation_id)
    context = _context(request, site)
    context.update({"form": form, "delegation": delegation, "stale_url": _stale_url(request, outcome),
                    "cancel_url": context["staff_url"], "signer_problem": selectors.signer_problem(user, site),
                    "blockers": selectors.delegation_sign_blockers(delegation) if delegation.status == "pending"
                    else [], "content": delegation.signature_content()})
    return render(request, "staff/delegation_sign.html", context, status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def delegation_end(request, delegation_id: int):
    user = request.user
    delegation = _delegation(user, delegation_id)
    permissions.require(user, "delegation.edit", delegation)
    site = delegation.staff.site
    if delegation.status != "active":
        return _blocked(request, site, delegation, "End delegation",
                        f"Only a signed delegation can be ended; this one is {delegation.get_status_display()}.")
    form = DelegationEndForm(request.POST if request.method == "POST" else None,
                             initial={"version": delegation.version, "ended_on": timezone.localdate()})
    outcome = run_form(
        request, form,
        lambda: services.delegation_end(user=user, delegation=delegation, ended_on=form.cleaned_data["ended_on"],
                                        version=form.cleaned_data["version"], reason=form.cleaned_data["reason"]),
        success=lambda d: f"Delegation of {d.task_label} to {d.staff.person.full_name} ended.",
        redirect_to=reverse("site-staff", args=[site.pk]))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, site, form=form, title=f"End delegation: {delegation}", outcome=outcome,
                      extra={"delegation": delegation, "submit_label": "End delegation", "danger": True})


@require_http_methods(["GET", "POST"])
@web_view
def delegation_withdraw(request, delegation_id: int):
    user = request.user
    delegation = _delegation(user, delegation_id)
    permissions.require(user, "delegation.edit", delegation)
    site = delegation.staff.site
    if delegation.status != "pending":
        return _blocked(request, site, delegation, "Withdraw delegation",
                        f"Only a delegation pending signature can be withdrawn; this one is "
                        f"{delegation.get_status_display()}.")
    form = DelegationWithdrawForm(request.POST if request.method == "POST" else None,
                                  initial={"version": delegation.version})
    outcome = run_form(
        request, form,
        lambda: services.delegation_withdraw(user=user, delegation=delegation, version=form.cleaned_data["version"],
                                             reason=form.cleaned_data["reason"]),
        success=lambda d: f"Delegation of {d.task_label} to {d.staff.person.full_name} withdrawn.",
        redirect_to=reverse("site-staff", args=[site.pk]))
    if outcome.response is not None:
        return outcome.response
    return _form_page(request, site, form=form, title=f"Withdraw delegation: {delegation}", outcome=outcome,
                      extra={"delegation": delegation, "submit_label": "Withdraw", "danger": True})
