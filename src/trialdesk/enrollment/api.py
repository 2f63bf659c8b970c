"""Enrollment API: actuals, curves, forecasts, what-if, warnings, and enrollment plans with their baselines."""

from __future__ import annotations

from ninja import Query, Router, Status

from trialdesk.core.api_utils import READ_ERRORS, WRITE_ERRORS, PageQuery, PathId, resolve_ref
from trialdesk.enrollment import selectors, services
from trialdesk.enrollment.schemas import (
    CurveOut,
    CurveQuery,
    ForecastOut,
    ForecastQuery,
    GenerateEntriesIn,
    GenerateEntriesOut,
    PlanCreateIn,
    PlanEntryCreateIn,
    PlanEntryDeleteIn,
    PlanEntryOut,
    PlanEntryUpdateIn,
    PlanListOut,
    PlanOut,
    PlanUpdateIn,
    RebaselineIn,
    SelectionQuery,
    SummaryOut,
    WarningOut,
    WhatIfIn,
    WhatIfOut,
)
from trialdesk.sites.selectors import site_get
from trialdesk.studies.selectors import study_get

router = Router()


def _data(request, study_id: int) -> selectors.EnrollmentData:
    return selectors.enrollment_data(request.auth, study_get(request.auth, study_id))


def _selection(data, country: str | None, site_ids: list[int] | None) -> selectors.Selection:
    selection = selectors.Selection(country=(country or "").strip() or None, site_ids=list(site_ids or []))
    selectors.selection_check(data, selection)
    return selection


# --- Actuals, curves, forecasts ------------------------------------------------------------------------

@router.get("/studies/{study_id}/summary", response={200: SummaryOut, **READ_ERRORS},
            summary="Enrollment actuals: totals, screening funnel, monthly counts and per-site rates")
def enrollment_summary(request, study_id: PathId, filters: Query[SelectionQuery]):
    study = study_get(request.auth, study_id)
    data = selectors.enrollment_data(request.auth, study)
    selection = _selection(data, filters.country, None)
    warnings = selectors.enrollment_warnings(request.auth, study, data=data)
    return selectors.summary(data, selection, warnings)


@router.get("/studies/{study_id}/curve", response={200: CurveOut, **READ_ERRORS},
            summary="Cumulative enrollment: actual, plan baselines, forecast median and 90% band")
def enrollment_curve(request, study_id: PathId, filters: Query[CurveQuery]):
    data = _data(request, study_id)
    selection = _selection(data, filters.country, [filters.site_id] if filters.site_id else None)
    forecast = selectors.run_forecast(data, selection)
    return selectors.curve_out(selectors.enrollment_curve(data, selection, forecast))


@router.get("/studies/{study_id}/forecast", response={200: ForecastOut, **READ_ERRORS},
            summary="Forecast of the date the target is reached (study, a country, or chosen sites)")
def enrollment_forecast(request, study_id: PathId, filters: Query[ForecastQuery]):
    data = _data(request, study_id)
    selection = _selection(data, filters.country, filters.site_ids)
    return selectors.forecast_out(selectors.run_forecast(data, selection))


@router.post("/studies/{study_id}/what-if", response={200: WhatIfOut, **WRITE_ERRORS},
             summary="Forecast a scenario (sites added or dropped, rates changed, another target) beside the "
                     "baseline")
def enrollment_what_if(request, study_id: PathId, payload: WhatIfIn):
    data = _data(request, study_id)
    result = selectors.enrollment_what_if(
        data,
        add_sites=[selectors.AddedSite(label=s.label, planned_activation=s.planned_activation,
                                       rate_per_month=s.rate_per_month, country=s.country) for s in payload.add_sites],
        drop_site_ids=list(payload.drop_site_ids),
        rate_changes={c.site_id: c.rate_per_month for c in payload.rate_changes},
        target=payload.target,
    )
    return selectors.what_if_out(result)


@router.get("/studies/{study_id}/warnings", response={200: list[WarningOut], **READ_ERRORS},
            summary="Bottleneck warnings: idle or slow sites, screen failures, a forecast passing the planned "
                    "last subject in")
def enrollment_warnings(request, study_id: PathId):
    return selectors.enrollment_warnings(request.auth, study_get(request.auth, study_id))


# --- Plans ---------------------------------------------------------------------------------------------

@router.get("/studies/{study_id}/plans", response={200: PlanListOut, **READ_ERRORS},
            summary="The study's enrollment plan baselines (current and earlier), with entries")
def plan_list(request, study_id: PathId, page: Query[PageQuery]):
    plans = selectors.plan_list(request.auth, study_get(request.auth, study_id))
    return {"items": plans[page.offset: page.offset + page.limit], "count": len(plans)}


@router.post("/studies/{study_id}/plans", response={201: PlanOut, **WRITE_ERRORS},
             summary="Create the study's enrollment plan (baseline 1)")
def plan_create(request, study_id: PathId, payload: PlanCreateIn):
    study = study_get(request.auth, study_id)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "") or ""
    plan = services.enrollment_plan_create(user=request.auth, study=study, data=data, reason=reason)
    return Status(201, selectors.plan_get(request.auth, plan.pk))


@router.get("/plans/{plan_id}", response={200: PlanOut, **READ_ERRORS}, summary="Get a plan baseline")
def plan_get(request, plan_id: PathId):
    return selectors.plan_get(request.auth, plan_id)


@router.patch("/plans/{plan_id}", response={200: PlanOut, **WRITE_ERRORS},
              summary="Correct the current baseline's label, target or planned last subject in")
def plan_update(request, plan_id: PathId, payload: PlanUpdateIn):
    plan = selectors.plan_get(request.auth, plan_id)
    data = payload.dict(exclude_unset=True, exclude={"version", "reason"})
    services.enrollment_plan_update(user=request.auth, plan=plan, data=data, version=payload.version,
                                    reason=payload.reason)
    return selectors.plan_get(request.auth, plan_id)


@router.post("/plans/{plan_id}/rebaseline", response={201: PlanOut, **WRITE_ERRORS},
             summary="Re-baseline: copy the current plan into a new baseline (the old one is kept)")
def plan_rebaseline(request, plan_id: PathId, payload: RebaselineIn):
    plan = selectors.plan_get(request.auth, plan_id)
    data = payload.dict(exclude_unset=True, exclude={"version", "reason"})
    new = services.enrollment_plan_rebaseline(user=request.auth, plan=plan, reason=payload.reason,
                                              version=payload.version, data=data)
    return Status(201, selectors.plan_get(request.auth, new.pk))


@router.post("/plans/{plan_id}/entries", response={201: PlanEntryOut, **WRITE_ERRORS},
             summary="Add a site's or a country's planned activation and rate to the current baseline")
def plan_entry_create(request, plan_id: PathId, payload: PlanEntryCreateIn):
    plan = selectors.plan_get(request.auth, plan_id)
    data = payload.dict(exclude_unset=True)
    reason = data.pop("reason", "") or ""
    if "site_id" in data:
        data["site"] = resolve_ref("site_id", site_get, request.auth, data.pop("site_id"))
    entry = services.enrollment_plan_entry_create(user=request.auth, plan=plan, data=data, reason=reason)
    return Status(201, selectors.plan_entry_get(request.auth, entry.pk))


@router.post("/plans/{plan_id}/generate-entries", response={201: GenerateEntriesOut, **WRITE_ERRORS},
             summary="Add an entry for every study site without one (planned activation from the site)")
def plan_entries_generate(request, plan_id: PathId, payload: GenerateEntriesIn):
    plan = selectors.plan_get(request.auth, plan_id)
    created, skipped = services.enrollment_plan_entries_generate(
        user=request.auth, plan=plan, rate_per_month=payload.rate_per_month,
        activation_date=payload.activation_date, planned_subjects=payload.planned_subjects, reason=payload.reason)
    return Status(201, {"created": created,
                        "skipped": [{"site_id": s.pk, "site_number": s.site_number} for s in skipped]})


@router.patch("/entries/{entry_id}", response={200: PlanEntryOut, **WRITE_ERRORS}, summary="Change a plan entry")
def plan_entry_update(request, entry_id: PathId, payload: PlanEntryUpdateIn):
    entry = selectors.plan_entry_get(request.auth, entry_id)
    data = payload.dict(exclude_unset=True, exclude={"version", "reason"})
    if "site_id" in data:
        data["site"] = resolve_ref("site_id", site_get, request.auth, data.pop("site_id"))
    services.enrollment_plan_entry_update(user=request.auth, entry=entry, data=data, version=payload.version,
                                          reason=payload.reason)
    return selectors.plan_entry_get(request.auth, entry_id)


@router.delete("/entries/{entry_id}", response={200: PlanEntryOut, **WRITE_ERRORS},
               summary="Delete a plan entry (soft)")
def plan_entry_delete(request, entry_id: PathId, payload: PlanEntryDeleteIn):
    entry = selectors.plan_entry_get(request.auth, entry_id)
    return services.enrollment_plan_entry_delete(user=request.auth, entry=entry, version=payload.version,
                                                 reason=payload.reason)
