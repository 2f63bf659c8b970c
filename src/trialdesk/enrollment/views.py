"""Enrollment pages: actual vs plan vs forecast, the plan editor with its baselines, and what-if scenarios.

Reads go through enrollment.selectors, writes through enrollment.services.
"""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods

from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound, ValidationFailed
from trialdesk.core.views_utils import add_service_errors, paginate, render_list, run_form, web_view
from trialdesk.enrollment import charts, curves, selectors, services
from trialdesk.enrollment.forms import (
    SORTS,
    AddSiteFormSet,
    EnrollmentFilterForm,
    EntryDeleteForm,
    EntryEditForm,
    EntryForm,
    GenerateEntriesForm,
    PlanEditForm,
    PlanForm,
    RateChangeFormSet,
    RebaselineForm,
    WhatIfForm,
)
from trialdesk.sites.selectors import SiteFilter, site_list
from trialdesk.studies.selectors import study_get
from trialdesk.studies.views import study_page_context


def _error_status(exc) -> int:
    return exc.status_code if exc is not None else 422


def _context(request, study, **extra) -> dict:
    context = study_page_context(request, study, "enrollment")
    context["can"]["enrollment_plan"] = permissions.has_perm(request.user, "enrollment.plan", study)
    context.update(extra)
    return context


def funnel_svg(actual: selectors.Actuals, label: str) -> str:
    stages = [charts.FunnelStage(key, name, count, outcome) for key, name, count, outcome in actual.funnel_stages()]
    return charts.funnel_chart_svg(
        chart_id="enrollment-funnel", title=f"Screening funnel: {label}",
        desc=("Subjects reaching each stage of the screening log, from pre-screened to completed, then screen "
              "failures and withdrawals. The table below lists the counts."),
        stages=stages, width=480)


def _sorted_rows(rows: list[dict], sort: str) -> list[dict]:
    key = sort.lstrip("-")
    if key not in SORTS:
        return rows
    return sorted(rows, key=SORTS[key][1], reverse=sort.startswith("-"))


# --- The enrollment page -------------------------------------------------------------------------------

SITE_ROWS_PER_PAGE = 100

@require_GET
@web_view
def study_enrollment(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    data = selectors.enrollment_data(user, study)
    form = EnrollmentFilterForm(request.GET, countries=data.countries, sites=[r.site for r in data.sites])
    form.is_valid()  # an unknown country or site is ignored, the rest still applies
    values = getattr(form, "cleaned_data", {})
    selection = selectors.Selection(country=values.get("country") or None,
                                    site_ids=[values["site"]] if values.get("site") else [])
    try:
        selectors.selection_check(data, selection)
    except ValidationFailed:
        selection = selectors.Selection()

    fi = selectors.forecast_input(data)
    study_forecast = selectors.run_forecast(data, fi=fi)
    forecast = study_forecast
    if not selection.is_study:
        # A country or site borrows the study-wide fit: the same rate distribution, computed once.
        engine = study_forecast.engine
        forecast = selectors.run_forecast(data, selection, fi=fi, fit=engine.fit if engine else None,
                                          delays=engine.delays if engine else None)
    warnings = selectors.warnings_for(data, study_forecast)
    curve = selectors.enrollment_curve(data, selection, forecast)
    headers, table = selectors.curve_table(curve)
    rows = data.select(country=selection.country, site_ids=selection.site_ids)
    actual = selectors.actuals_of(data, rows)
    sort = values.get("sort") or "-rate"
    site_rows = _sorted_rows(selectors.site_rate_rows(rows, warnings), sort)
    # A mega-trial's 1,200 sites are 12 pages of the rates table, not one page of a megabyte.
    site_page = paginate(request, site_rows, per_page=SITE_ROWS_PER_PAGE)
    label = selection.label(data)

    params = request.GET.copy()
    params.pop("sort", None)
    params.pop("page", None)  # a new order starts at its first page
    base_query = params.urlencode()
    sort_links = {key: f"?{base_query}{'&' if base_query else ''}sort={'' if sort == '-' + key else '-'}{key}"
                  for key in SORTS}
    context = _context(
        request, study, data=data, filter_form=form, selection=selection, selection_label=label,
        forecast=forecast, study_forecast=study_forecast, warnings=warnings, actual=actual,
        chart_svg=mark_safe(selectors.curve_svg(curve, study=study)),  # noqa: S308 - built with escaped text
        table_headers=headers, table_rows=table, funnel_svg=mark_safe(funnel_svg(actual, label)),  # noqa: S308
        site_rows=site_page.object_list, site_page=site_page, sort=sort, sort_links=sort_links,
        sort_labels={k: v[0] for k, v in SORTS.items()},
        plan=data.current_plan,
    )
    return render_list(request, target="enrollment-view", partial="enrollment/_enrollment_view.html",
                       full="enrollment/study_enrollment.html", context=context)


# --- The plan editor -----------------------------------------------------------------------------------

@require_GET
@web_view
def enrollment_plan(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    data = selectors.enrollment_data(user, study)
    plan = data.current_plan
    entries = data.entries.get(plan.pk, []) if plan else []
    planned_at_lsi = None
    lsi = (plan.planned_last_subject_in if plan else None) or study.planned_last_subject_in
    if plan is not None and entries and lsi is not None:
        planned_at_lsi = {"date": lsi, "subjects": curves.planned_cumulative(selectors.planned_rates(entries), lsi,
                                                                             plan.target)}
    baselines = [{"plan": p, "entries": len(data.entries.get(p.pk, []))} for p in reversed(data.plans)]
    return render(request, "enrollment/plan.html", _context(
        request, study, plan=plan, entries=entries, baselines=baselines, planned_at_lsi=planned_at_lsi))


def _current_plan_or_404(user, study):
    plan = selectors.plan_current(user, study)
    if plan is None:
        raise NotFound("This study has no enrollment plan yet.")
    return plan


@require_http_methods(["GET", "POST"])
@web_view
def enrollment_plan_create(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "enrollment.plan", study)
    existing = selectors.plan_current(user, study)
    form = PlanForm(request.POST if request.method == "POST" and existing is None else None,
                    initial={"target": study.planned_enrollment,
                             "planned_last_subject_in": study.planned_last_subject_in, "label": "Original plan"})
    outcome = run_form(request, form,
                       lambda: services.enrollment_plan_create(user=user, study=study, data=form.record_data()),
                       success="Enrollment plan created (baseline 1). Add its sites and countries next.",
                       redirect_to=("enrollment-plan", study.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "enrollment/plan_form.html",
                  _context(request, study, form=form, existing=existing, title="Create the enrollment plan",
                           submit_label="Create plan", cancel_url=reverse("enrollment-plan", args=[study.pk])),
                  status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def enrollment_plan_edit(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "enrollment.plan", study)
    plan = _current_plan_or_404(user, study)
    form = PlanEditForm(request.POST if request.method == "POST" else None,
                        initial={"label": plan.label, "target": plan.target,
                                 "planned_last_subject_in": plan.planned_last_subject_in, "version": plan.version})
    outcome = run_form(
        request, form,
        lambda: services.enrollment_plan_update(user=user, plan=plan, data=form.record_data(only_changed=True),
                                                version=form.cleaned_data["version"],
                                                reason=form.cleaned_data["reason"]),
        success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("enrollment-plan", study.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "enrollment/plan_form.html",
                  _context(request, study, form=form, title=f"Edit baseline {plan.baseline}", submit_label="Save",
                           cancel_url=reverse("enrollment-plan", args=[study.pk]), stale_url=request.path),
                  status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def enrollment_plan_rebaseline(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "enrollment.plan", study)
    plan = _current_plan_or_404(user, study)
    form = RebaselineForm(request.POST if request.method == "POST" else None,
                          initial={"label": "", "target": plan.target,
                                   "planned_last_subject_in": plan.planned_last_subject_in, "version": plan.version})

    def rebaseline():
        data = {k: v for k, v in form.record_data().items() if k in form.changed_data or k == "label"}
        return services.enrollment_plan_rebaseline(user=user, plan=plan, reason=form.cleaned_data["reason"],
                                                   version=form.cleaned_data["version"], data=data)

    outcome = run_form(request, form, rebaseline,
                       success=lambda new: (f"Re-baselined: baseline {new.baseline} is now current; baseline "
                                            f"{plan.baseline} is kept in the history."),
                       redirect_to=("enrollment-plan", study.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "enrollment/plan_form.html",
                  _context(request, study, form=form, title=f"Re-baseline (baseline {plan.baseline} → "
                                                            f"{plan.baseline + 1})",
                           submit_label="Re-baseline", cancel_url=reverse("enrollment-plan", args=[study.pk]),
                           stale_url=request.path, rebaseline=True, plan=plan),
                  status=outcome.status)


def _study_sites(user, study):
    return site_list(user, SiteFilter(study_id=study.pk))


@require_http_methods(["GET", "POST"])
@web_view
def enrollment_entry_create(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "enrollment.plan", study)
    plan = _current_plan_or_404(user, study)
    form = EntryForm(request.POST if request.method == "POST" else None, sites=_study_sites(user, study))
    outcome = run_form(request, form,
                       lambda: services.enrollment_plan_entry_create(user=user, plan=plan, data=form.record_data()),
                       success="Plan entry added.", redirect_to=("enrollment-plan", study.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "enrollment/plan_form.html",
                  _context(request, study, form=form, title=f"Add an entry to baseline {plan.baseline}",
                           submit_label="Add entry", cancel_url=reverse("enrollment-plan", args=[study.pk])),
                  status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def enrollment_entry_edit(request, entry_id: int):
    user = request.user
    entry = selectors.plan_entry_get(user, entry_id)
    study = entry.plan.study
    permissions.require(user, "enrollment.plan", study)
    initial = {name: getattr(entry, name) for name in ("site", "country", "planned_activation",
                                                       "planned_rate_per_month", "planned_subjects")}
    initial["version"] = entry.version
    form = EntryEditForm(request.POST if request.method == "POST" else None, initial=initial,
                         sites=_study_sites(user, study))
    outcome = run_form(
        request, form,
        lambda: services.enrollment_plan_entry_update(user=user, entry=entry,
                                                      data=form.record_data(only_changed=True),
                                                      version=form.cleaned_data["version"],
                                                      reason=form.cleaned_data["reason"]),
        success=lambda _: "Changes saved." if form.changed_data else "Nothing was changed.",
        redirect_to=("enrollment-plan", study.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "enrollment/plan_form.html",
                  _context(request, study, form=form, title=f"Edit the entry for {entry}", submit_label="Save",
                           cancel_url=reverse("enrollment-plan", args=[study.pk]), stale_url=request.path),
                  status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def enrollment_entry_delete(request, entry_id: int):
    user = request.user
    entry = selectors.plan_entry_get(user, entry_id)
    study = entry.plan.study
    permissions.require(user, "enrollment.plan", study)
    form = EntryDeleteForm(request.POST if request.method == "POST" else None, initial={"version": entry.version})
    outcome = run_form(
        request, form,
        lambda: services.enrollment_plan_entry_delete(user=user, entry=entry, version=form.cleaned_data["version"],
                                                      reason=form.cleaned_data["reason"]),
        success="Plan entry deleted.", redirect_to=("enrollment-plan", study.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "enrollment/plan_form.html",
                  _context(request, study, form=form, title=f"Delete the entry for {entry}",
                           submit_label="Delete entry", danger=True,
                           cancel_url=reverse("enrollment-plan", args=[study.pk]), stale_url=request.path),
                  status=outcome.status)


@require_http_methods(["GET", "POST"])
@web_view
def enrollment_entries_generate(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    permissions.require(user, "enrollment.plan", study)
    plan = _current_plan_or_404(user, study)
    form = GenerateEntriesForm(request.POST if request.method == "POST" else None)

    def added(result) -> str:
        created, skipped = result
        text = f"{len(created)} entr{'y' if len(created) == 1 else 'ies'} added."
        if skipped:
            text += (" No planned activation date for site " + ", ".join(s.site_number for s in skipped)
                     + ": give an activation date to include them.")
        return text

    outcome = run_form(
        request, form,
        lambda: services.enrollment_plan_entries_generate(
            user=user, plan=plan, rate_per_month=form.cleaned_data["rate_per_month"],
            activation_date=form.cleaned_data["activation_date"],
            planned_subjects=form.cleaned_data["planned_subjects"]),
        success=added, redirect_to=("enrollment-plan", study.pk))
    if outcome.response is not None:
        return outcome.response
    return render(request, "enrollment/plan_form.html",
                  _context(request, study, form=form, title="Add entries for the study's sites",
                           submit_label="Add entries", cancel_url=reverse("enrollment-plan", args=[study.pk])),
                  status=outcome.status)


# --- What-if -------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@web_view
def enrollment_what_if(request, study_id: int):
    user = request.user
    study = study_get(user, study_id)
    data = selectors.enrollment_data(user, study)
    sites = [r.site for r in data.sites]
    posted = request.POST if request.method == "POST" else None
    form = WhatIfForm(posted, sites=sites)
    added = AddSiteFormSet(posted, prefix="add")
    rates = RateChangeFormSet(posted, prefix="rate", form_kwargs={"sites": sites})
    result = None
    chart = None
    error = None
    if posted is not None and form.is_valid() and added.is_valid() and rates.is_valid():
        try:
            result = selectors.enrollment_what_if(
                data,
                add_sites=[selectors.AddedSite(label=f.cleaned_data["label"],
                                               planned_activation=f.cleaned_data["planned_activation"],
                                               rate_per_month=f.cleaned_data["rate_per_month"],
                                               country=f.cleaned_data.get("country") or "")
                           for f in added.forms if f.cleaned_data.get("label")],
                drop_site_ids=form.cleaned_data["drop_sites"],
                rate_changes={f.cleaned_data["site"]: f.cleaned_data["rate_per_month"]
                              for f in rates.forms if f.cleaned_data.get("site") is not None},
                target=form.cleaned_data["target"])
        except ValidationFailed as exc:
            error = exc
            add_service_errors(form, exc)
        else:
            curve = selectors.enrollment_curve(data, selectors.Selection(), result.baseline)
            scenario = [(p["date"], p["p50"]) for p in result.scenario.curve if p["p50"] is not None]
            if scenario:
                curve.series.append(charts.Series(key="scenario", label="What-if median", points=scenario,
                                                  kind="scenario"))
            chart = mark_safe(charts.cumulative_chart_svg(  # noqa: S308 - built with escaped text
                chart_id="what-if-chart", title=f"What-if: {study.protocol_number}",
                desc="Actual enrollment, the current plan, the baseline forecast (median and 90% interval) and "
                     "the what-if scenario's median.",
                series=curve.series, bands=curve.bands, markers=curve.markers))
    elif posted is None:
        form = WhatIfForm(sites=sites)
    context = _context(request, study, form=form, added=added, rates=rates, result=result, chart=chart,
                       data=data)
    status = 200
    if posted is not None and result is None:
        status = _error_status(error)
    return render(request, "enrollment/what_if.html", context, status=status)
