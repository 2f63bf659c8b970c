"""API input/output schemas for enrollment plans, actuals, curves, forecasts, what-if and warnings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Field, Schema

from trialdesk.core.api_utils import Count, Id, Reason, RecordVersion, text

Rate = Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False, description="Subjects per month")]
Target = Annotated[int, Field(ge=1, le=1_000_000, description="Subjects to enroll")]


# --- Plans ---------------------------------------------------------------------------------------------

class PlanEntryOut(Schema):
    id: int
    version: int
    plan_id: int
    site_id: int | None
    site_number: str | None = Field(None, description="Set for a site's entry")
    country: str = Field(description="Set for a country's entry (empty for a site's)")
    planned_activation: dt.date
    planned_rate_per_month: float
    planned_subjects: int | None

    @staticmethod
    def resolve_site_number(obj) -> str | None:
        return obj.site.site_number if obj.site_id else None


class PlanOut(Schema):
    id: int
    version: int
    study_id: int
    baseline: int
    label: str
    is_current: bool
    target: int | None
    planned_last_subject_in: dt.date | None
    created_at: dt.datetime
    entries: list[PlanEntryOut]

    @staticmethod
    def resolve_entries(obj) -> list:
        return [e for e in obj.entries.all() if not e.is_deleted]


class PlanListOut(Schema):
    items: list[PlanOut]
    count: int


class PlanFieldsIn(Schema):
    label: text(120) = None
    target: Target | None = None
    planned_last_subject_in: dt.date | None = None


class PlanCreateIn(PlanFieldsIn):
    reason: Reason = ""


class PlanUpdateIn(PlanFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the plan changes (required when anything changes)")


class RebaselineIn(PlanFieldsIn):
    version: RecordVersion
    reason: Reason = Field(description="Why the plan is re-baselined (required)")


class PlanEntryFieldsIn(Schema):
    site_id: Id | None = Field(None, description="The study site (or give a country)")
    country: text(100) = Field(None, description="A country planned as a whole (or give a site)")
    planned_activation: dt.date = None
    planned_rate_per_month: Rate = None
    planned_subjects: Count | None = Field(None, description="Cap on the subjects this entry enrolls")


class PlanEntryCreateIn(PlanEntryFieldsIn):
    planned_activation: dt.date
    planned_rate_per_month: Rate
    reason: Reason = ""


class PlanEntryUpdateIn(PlanEntryFieldsIn):
    version: RecordVersion
    reason: Reason = Field("", description="Why the entry changes (required when anything changes)")


class PlanEntryDeleteIn(Schema):
    version: RecordVersion
    reason: Reason = Field("", description="Why the entry is deleted (required)")


class GenerateEntriesIn(Schema):
    rate_per_month: Rate
    activation_date: dt.date | None = Field(None, description="For sites without a planned activation date")
    planned_subjects: Count | None = None
    reason: Reason = ""


class EnrollmentSiteRef(Schema):
    site_id: int
    site_number: str


class GenerateEntriesOut(Schema):
    created: list[PlanEntryOut]
    skipped: list[EnrollmentSiteRef] = Field(description="Sites left without an entry: no planned activation date")


# --- Actuals -------------------------------------------------------------------------------------------

class FunnelOut(Schema):
    prescreened: int
    screened: int
    consented: int
    enrolled: int
    randomized: int
    completed: int
    screen_failed: int
    withdrawn: int


class MonthOut(Schema):
    month: str = Field(description="YYYY-MM")
    enrolled: int
    cumulative: int


class SiteRateOut(Schema):
    site_id: int
    site_number: str
    institution: str
    country: str
    status: str
    activated: dt.date | None
    enrolled: int
    screen_failed: int
    months_active: float | None
    rate_per_month: float | None = Field(description="Subjects per month while active")
    planned_rate_per_month: float | None
    screen_failure_rate: float | None
    flags: list[str] = Field(description="Codes of the bottleneck warnings about this site")


class SummaryOut(Schema):
    study_id: int
    selection: str
    as_of: dt.date
    target: int | None
    enrolled: int
    active_sites: int
    sites: int
    screen_failure_rate: float | None = Field(description="Screen failures / (screen failures + enrolled)")
    funnel: FunnelOut
    monthly: list[MonthOut]
    site_rates: list[SiteRateOut]


class SelectionQuery(Schema):
    country: text(100) = Field(None, description="Limit to one country")


class CurveQuery(SelectionQuery):
    site_id: Id = Field(None, description="Limit to one site")


class ForecastQuery(SelectionQuery):
    site_ids: list[Id] = Field(None, max_length=1000, description="Limit to these sites")


# --- Curves and forecasts ------------------------------------------------------------------------------

class PointOut(Schema):
    date: dt.date
    value: float


class SeriesOut(Schema):
    key: str
    label: str
    kind: str = Field(description="actual | plan | baseline | forecast")
    step: bool
    points: list[PointOut]


class BandOut(Schema):
    key: str
    label: str
    lower: list[PointOut]
    upper: list[PointOut]


class MarkerOut(Schema):
    label: str
    date: dt.date | None
    value: float | None


class CurveOut(Schema):
    selection: str
    as_of: dt.date
    series: list[SeriesOut]
    bands: list[BandOut]
    markers: list[MarkerOut]


class Quantiles(Schema):
    p05: float
    p50: float
    p95: float


class DateQuantiles(Schema):
    p05: dt.date | None
    p50: dt.date | None
    p95: dt.date | None


class SiteForecastOut(Schema):
    id: str = Field(description="Site number (or plan:<country> for a country planned without sites)")
    site_id: int | None
    status: str = Field(description="active | planned | closed")
    enrolled: int
    rate_per_month: Quantiles | None
    expected_additional: float
    activation: DateQuantiles | None


class CurvePointOut(Schema):
    date: dt.date
    mean: float | None
    p05: float | None
    p50: float | None
    p95: float | None


class ExcludedOut(Schema):
    site: str
    reason: str


class ForecastOut(Schema):
    selection: str
    as_of: dt.date
    target: int | None
    target_source: str
    enrolled: int
    completion: DateQuantiles | None = Field(description="Date the target is reached: median and 90% interval")
    probability_on_time: float | None = Field(description="P(target reached by the planned last subject in)")
    planned_last_subject_in: dt.date | None
    late: bool | None = Field(description="The median completion passes the planned last subject in")
    method: str
    reason: str | None = Field(description="Why there is no completion date, if there is none")
    reached_on: dt.date | None
    sites: list[SiteForecastOut]
    curve: list[CurvePointOut]
    excluded: list[ExcludedOut]
    notes: list[str]


class WhatIfSiteIn(Schema):
    label: text(40, min_length=1) = Field(description="A name for the added site")
    country: text(100) = ""
    planned_activation: dt.date
    rate_per_month: Rate


class WhatIfRateIn(Schema):
    site_id: Id
    rate_per_month: Rate


class WhatIfIn(Schema):
    add_sites: list[WhatIfSiteIn] = Field(default_factory=list, max_length=500)
    drop_site_ids: list[Id] = Field(default_factory=list, max_length=1000)
    rate_changes: list[WhatIfRateIn] = Field(default_factory=list, max_length=1000)
    target: Target | None = Field(None, description="A different enrollment target")


class WhatIfOut(Schema):
    baseline: ForecastOut
    scenario: ForecastOut
    changes: list[str]
    median_shift_days: int | None = Field(description="Scenario median minus baseline median (negative: earlier)")


class WarningOut(Schema):
    code: str
    severity: str
    message: str
    site_id: int | None = None
    site_number: str | None = None
