"""Visit pages: schedule of events per protocol version, visit calendars, deviations, recording, .ics feeds.

Reads go through visits.selectors (and the studies/sites selectors), writes through visits.services.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_safe

from trialdesk.accounts import permissions
from trialdesk.core.errors import ServiceError
from trialdesk.core.views_utils import error_page, paginate, render_list, run_form, safe_next, web_view
from trialdesk.sites.selectors import SiteFilter, site_get, site_list
from trialdesk.sites.views import site_page_context
from trialdesk.studies.selectors import protocol_version_get, study_get
from trialdesk.studies.views import study_page_context
from trialdesk.visits import selectors, services
from trialdesk.visits.forms import (
    CalendarFilterForm,
    DeleteForm,
    DeviationFilterForm,
    ScheduleCopyForm,
    VisitDefinitionEditForm,
    VisitDefinitionForm,
    VisitMissedForm,
    VisitRecordForm,
)
from trialdesk.visits.schedule import shift_month

DEFINITION_FIELDS = ["code", "name", "order", "anchor", "target_day", "window_before", "window_after", "modality",
                     "required"]


def _study_context(request, study, active: str) -> dict:
    context = study_page_context(request, study, active)
    if not any(key == "visits" for key, *_ in context["tabs"]):
        context["tabs"].append(("visits", "Visits", reverse("study-visits", args=[study.pk])))
    return context


def _site_context(request, site, active: str) -> dict:
    context = site_page_context(request, site, active)
    if not any(key == "visits" for key, *_ in context["tabs"]):
        context["tabs"].insert(1, ("visits", "Visits", reverse("site-visits", args=[site.pk])))
    return context


# --- Schedule of events --------------------------------------------------------------------------

def _schedule_context(request, pv, *, add_form=None) -> dict:
    user = request.user
    context = _study_context(request, pv.study, "protocols")
    can_edit = permissions.has_perm(user, "schedule.edit", pv)
    editable = can_edit and pv.status == "draft"
    sources = selectors.schedule_sources(user, pv) if editable else []
    context.update({
        "pv": pv,
        "definitions": selectors.visit_definition_list(user, pv),
        "can_schedule": can_edit,
        "editable": editable,
        "add_form": add_form or (VisitDefinitionForm() if editable else None),
        "copy_form": ScheduleCopyForm(sources=sources) if sources else None,
    })
    return context


@require_GET
@web_view
def protocol_schedule(request, pv_id: int):
    pv = protocol_version_get(request.user, pv_id)
    return render(request, "visits/protocol_schedule.html", _schedule_context(request, pv))


@require_http_methods(["GET", "POST"])
@web_view
def visit_definition_create(request, pv_id: int):
    user = request.user
    pv = protocol_version_get(user, pv_id)
    permissions.require(user, "schedule.edit", pv)
    form = VisitDefinitionForm(request.POST if request.method == "POST" else None)
    outcome = run_form(
        request, form,
        lambda: services.visit_definition_create(user=user, protocol_version=pv, data=form.record_data()),
        success=lambda d: f"Visit {d.code} added to the schedule of {pv}.", redirect_to=("protocol-schedule", pv.pk))
    if outcome.response is not None:
        return outcome.response
    context = _schedule_context(request, pv, add_form=form)
    context.update({"form": form, "title": f"Add a visit to the schedule of {pv}",
                    "cancel_url": reverse("protocol-schedule", args=[pv.pk])})
    return render(request, "visits/definition_form.html", context, status=outcome.status)


def _definition_initial(d) -> dict:
    return {**{name: getattr(d, name) for name in DEFINITION_FIELDS}, "version": d.version}


@require_http_methods(["GET", "POST"])
@web_view
def visit_definition_edit(request, definition_id: int):
    """Full page, or (htmx) the table row swapped in place for an inline form."""
    user = request.user
    d = selectors.visit_definition_get(user, definition_id)
    permissions.require(user, "schedule.edit", d)
    inline = bool(request.htmx) and request.htmx.target == f"definition-{d.pk}"
    form = VisitDefinitionEditForm(request.POST if request.method == "POST" else None,
                                   initial=_definition_initial(d))
    outcome = run_form(
        request, form,
        lambda: services.visit_definition_update(user=user, definition=d, data=form.record_data(only_changed=True),
                                                 version=form.cleaned_data["version"],
                                                 reason=form.cleaned_data["reason"]),
        # Inline, the saved row is swapped back in: no message, no redirect.
        success=None if inline else (lambda _: f"Visit {d.code} saved." if form.changed_data
                                     else "Nothing was changed."),
        redirect_to=None if inline else ("protocol-schedule", d.protocol_version_id))
    if outcome.response is not None:
        return outcome.response
    if outcome.ok:  # inline (a full-page save redirected above)
        d = selectors.visit_definition_get(user, definition_id)
        return render(request, "visits/_definition_row.html",
                      {"d": d, "editable": True, "can_schedule": True, "pv": d.protocol_version})
    if outcome.error is not None:
        d = selectors.visit_definition_get(user, definition_id)
    if inline:
        # htmx swaps only 2xx responses: errors come back as 200 with the messages in the row.
        response = render(request, "visits/_definition_row_form.html", {"d": d, "form": form})
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response
    context = _schedule_context(request, d.protocol_version)
    context.update({"form": form, "title": f"Edit visit {d.code} of {d.protocol_version}",
                    "cancel_url": reverse("protocol-schedule", args=[d.protocol_version_id]),
                    "stale_url": request.path,
                    "audit_url": reverse("audit-record", args=["visits.visitdefinition", d.pk])})
    response = render(request, "visits/definition_form.html", context, status=outcome.status)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@require_http_methods(["GET", "POST"])
@web_view
def visit_definition_delete(request, definition_id: int):
    user = request.user
    d = selectors.visit_definition_get(user, definition_id)
    permissions.require(user, "schedule.edit", d)
    form = DeleteForm(request.POST if request.method == "POST" else None, initial={"version": d.version})
    outcome = run_form(
        request, form,
        lambda: services.visit_definition_delete(user=user, definition=d, version=form.cleaned_data["version"],
                                                 reason=form.cleaned_data["reason"]),
        success=lambda _: f"Visit {d.code} removed from the schedule.",
        redirect_to=("protocol-schedule", d.protocol_version_id))
    if outcome.response is not None:
        return outcome.response
    context = _study_context(request, d.study, "protocols")
    context.update({"form": form, "d": d, "pv": d.protocol_version, "stale_url": request.path,
                    "cancel_url": reverse("protocol-schedule", args=[d.protocol_version_id])})
    return render(request, "visits/definition_delete.html", context, status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def protocol_schedule_copy(request, pv_id: int):
    user = request.user
    pv = protocol_version_get(user, pv_id)
    permissions.require(user, "schedule.edit", pv)
    sources = selectors.schedule_sources(user, pv)
    form = ScheduleCopyForm(request.POST if request.method == "POST" else None, sources=sources)

    def copy():
        source = next(s for s in sources if s.pk == form.cleaned_data["source"])
        return source, services.visit_definitions_copy(user=user, source=source, target=pv,
                                                       reason=form.cleaned_data["reason"])

    outcome = run_form(request, form, copy,
                       success=lambda done: f"{len(done[1])} visits copied from the schedule of {done[0]}.",
                       redirect_to=("protocol-schedule", pv.pk))
    if outcome.response is not None:
        return outcome.response
    context = _study_context(request, pv.study, "protocols")
    context.update({"form": form, "pv": pv, "sources": sources,
                    "cancel_url": reverse("protocol-schedule", args=[pv.pk])})
    return render(request, "visits/schedule_copy.html", context, status=outcome.status)


# --- Calendar --------------------------------------------------------------------------------------

def _month_of(value: str | None, today: dt.date) -> tuple[int, int]:
    if value:
        year, month = (int(part) for part in value.split("-"))
        if 1 <= year <= 9998:  # the grid pads into the neighbouring months
            return year, month
    return today.year, today.month


def _calendar(request, *, study, site=None, base_url: str):
    user = request.user
    sites = [] if site is not None else list(site_list(user, SiteFilter(study_id=study.pk)))
    form = CalendarFilterForm(request.GET, sites=sites)
    form.is_valid()  # invalid values are ignored, valid ones still filter
    values = getattr(form, "cleaned_data", {})
    today = timezone.localdate()
    year, month = _month_of(values.get("month"), today)
    site_id = site.pk if site is not None else values.get("site")
    cal = selectors.visit_calendar(user, study_id=study.pk, site_id=site_id, year=year, month=month,
                                   modality=values.get("modality") or None, status=values.get("status") or None,
                                   today=today)
    view = values.get("view") or "month"
    keep = {k: v for k, v in (("site", values.get("site") if site is None else None),
                              ("modality", values.get("modality")), ("status", values.get("status")),
                              ("view", view if view != "month" else None)) if v}

    def url(**params) -> str:
        from urllib.parse import urlencode

        merged = {**keep, **{k: v for k, v in params.items() if v is not None}}
        merged = {k: v for k, v in merged.items() if v}
        return f"{base_url}?{urlencode(merged)}" if merged else base_url

    prev_year, prev_month = shift_month(year, month, -1)
    next_year, next_month = shift_month(year, month, 1)
    month_param = f"{year:04d}-{month:02d}"
    return {
        "filter_form": form, "cal": cal, "view": view, "site_locked": site,
        "prev_url": url(month=f"{prev_year:04d}-{prev_month:02d}") if prev_year >= 1 else None,
        "next_url": url(month=f"{next_year:04d}-{next_month:02d}") if next_year <= 9998 else None,
        "today_url": url(month=f"{today.year:04d}-{today.month:02d}"),
        "month_url": url(month=month_param, view="month"),
        "agenda_url": url(month=month_param, view="agenda"),
        "month_param": month_param,
        "base_url": base_url,
        "can_record": permissions.has_perm(user, "visit.edit", site or study),
        "filtered": any(values.get(k) for k in ("site", "modality", "status")),
        "ics_url": reverse("study-visits-ics", args=[study.pk]),
    }


@require_GET
@web_view
def study_visits(request, study_id: int):
    study = study_get(request.user, study_id)
    permissions.require(request.user, "visit.view", study)
    context = _study_context(request, study, "visits")
    context.update(_calendar(request, study=study, base_url=reverse("study-visits", args=[study.pk])))
    return render_list(request, target="visit-calendar", partial="visits/_calendar.html",
                       full="visits/study_visits.html", context=context)


@require_GET
@web_view
def site_visits(request, site_id: int):
    site = site_get(request.user, site_id)
    permissions.require(request.user, "visit.view", site)
    context = _site_context(request, site, "visits")
    context.update(_calendar(request, study=site.study, site=site,
                             base_url=reverse("site-visits", args=[site.pk])))
    return render_list(request, target="visit-calendar", partial="visits/_calendar.html",
                       full="visits/site_visits.html", context=context)


@require_GET
@web_view
def study_visit_deviations(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "visit.view", study)
    form = DeviationFilterForm(request.GET, sites=site_list(user, SiteFilter(study_id=study.pk)))
    form.is_valid()
    site_id = getattr(form, "cleaned_data", {}).get("site")
    page = paginate(request, selectors.visit_deviations(user, study_id=study.pk, site_id=site_id))
    context = _study_context(request, study, "visits")
    context.update({"filter_form": form, "page": page, "deviations": page.object_list, "filtered": bool(site_id)})
    return render_list(request, target="deviation-results", partial="visits/_deviation_results.html",
                       full="visits/study_deviations.html", context=context)


# --- Recording ------------------------------------------------------------------------------------

def _back_url(request, visit, form=None) -> str:
    candidate = (form.cleaned_data.get("next") if form is not None and hasattr(form, "cleaned_data")
                 else request.GET.get("next"))
    return safe_next(request, candidate, reverse("study-visits", args=[visit.study_id]))


@require_http_methods(["GET", "POST"])
@web_view
def subject_visit_record(request, visit_id: int):
    user = request.user
    visit = selectors.subject_visit_get(user, visit_id)
    permissions.require(user, "visit.edit", visit)
    initial = {"version": visit.version, "modality": visit.modality or visit.definition.modality,
               "notes": visit.notes, "next": request.GET.get("next", "")}
    if visit.actual_on:
        initial["actual_on"] = visit.actual_on
    form = VisitRecordForm(request.POST if request.method == "POST" else None, initial=initial)
    correcting = visit.status in ("completed", "missed")
    if not correcting:
        del form.fields["reason"]  # a first recording needs no reason; corrections do

    def recorded(saved) -> str:
        flag = " It was outside its window and is listed as a deviation." if saved.out_of_window else ""
        return (f"Visit {saved.definition.code} of subject {saved.subject.subject_number} "
                f"recorded on {saved.actual_on.isoformat()}.{flag}")

    outcome = run_form(
        request, form,
        lambda: services.subject_visit_record(user=user, visit=visit, actual_on=form.cleaned_data["actual_on"],
                                              modality=form.cleaned_data["modality"],
                                              notes=form.cleaned_data["notes"],
                                              version=form.cleaned_data["version"],
                                              reason=form.cleaned_data.get("reason", "")),
        success=recorded, redirect_to=lambda saved: _back_url(request, saved, form))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        visit = selectors.subject_visit_get(user, visit_id)
    context = _study_context(request, visit.study, "visits")
    context.update({"form": form, "visit": visit, "stale_url": request.path,
                    "cancel_url": _back_url(request, visit, form if form.is_bound else None),
                    "correcting": correcting})
    return render(request, "visits/visit_record.html", context, status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def subject_visit_missed(request, visit_id: int):
    user = request.user
    visit = selectors.subject_visit_get(user, visit_id)
    permissions.require(user, "visit.edit", visit)
    form = VisitMissedForm(request.POST if request.method == "POST" else None,
                           initial={"version": visit.version, "next": request.GET.get("next", "")})
    outcome = run_form(
        request, form,
        lambda: services.subject_visit_mark_missed(user=user, visit=visit, version=form.cleaned_data["version"],
                                                   reason=form.cleaned_data["reason"]),
        success=lambda _: f"Visit {visit.definition.code} of subject {visit.subject.subject_number} marked missed.",
        redirect_to=lambda _: _back_url(request, visit, form))
    if outcome.response is not None:
        return outcome.response
    if outcome.error is not None:
        visit = selectors.subject_visit_get(user, visit_id)
    context = _study_context(request, visit.study, "visits")
    context.update({"form": form, "visit": visit, "stale_url": request.path,
                    "cancel_url": _back_url(request, visit, form if form.is_bound else None)})
    return render(request, "visits/visit_missed.html", context, status=outcome.status)


# --- iCalendar --------------------------------------------------------------------------------------

def _ics_response(body: str, filename: str, *, attachment: bool) -> HttpResponse:
    response = HttpResponse(body.encode("utf-8"), content_type="text/calendar; charset=utf-8")
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@web_view
def study_visits_ics(request, study_id: int):
    """The signed-in user's download of a study's upcoming visits (sites they may see only)."""
    study = study_get(request.user, study_id)
    permissions.require(request.user, "visit.view", study)
    visits = selectors.feed_upcoming_visits(request.user, study_id=study.pk)
    body = selectors.visits_ics(visits, name=f"{study.protocol_number} visits")
    safe_name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in study.protocol_number)
    return _ics_response(body, f"{safe_name}-visits.ics", attachment=True)


@require_safe
def visits_feed(request, token: str):
    """The subscription feed for calendar apps: the token in the URL stands in for a login."""
    try:
        user = selectors.feed_user(token)
    except ServiceError:
        return error_page(request, 404, "Calendar feed not found.")
    body = selectors.visits_ics(selectors.feed_upcoming_visits(user), name="Trialdesk visits")
    return _ics_response(body, "trialdesk-visits.ics", attachment=False)


@require_GET
@web_view
def visits_feed_info(request):
    path = reverse("visits-feed", args=[selectors.feed_token(request.user)])
    return render(request, "visits/feed_info.html", {"feed_url": request.build_absolute_uri(path),
                                                     "note": selectors.FEED_NOTE})
