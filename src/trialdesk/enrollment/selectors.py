"""Reads for enrollment: plans and baselines, actuals, the funnel, per-site rates, forecasts and warnings.

Everything for one study is loaded by `enrollment_data` in a fixed number of queries (aggregated in SQL,
never one query per site); the views and the API then slice it by country or sites in Python. Users limited
to some sites see those sites only: their actuals, their sites' plan entries and a forecast for them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import pickle
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Count, Max, Min, Prefetch, Q
from django.utils import timezone

from trialdesk import forecasting as fc
from trialdesk.accounts import permissions
from trialdesk.core.errors import NotFound, ValidationFailed
from trialdesk.core.replica import replica_reads
from trialdesk.enrollment import charts, curves
from trialdesk.enrollment.models import EnrollmentPlan, EnrollmentPlanEntry
from trialdesk.forecasting.model import DelayModel
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import Study
from trialdesk.subjects.models import Subject, SubjectSettings

# Alert thresholds when a study has no SubjectSettings row (the model's defaults).
DEFAULT_ALERT_SETTINGS = {
    name: SubjectSettings._meta.get_field(name).default
    for name in ("no_enrollment_alert_days", "on_time_probability_threshold", "screen_fail_alert_ratio")
}

# Funnel stages: (key, label, condition on the subject rows). A later stage implies the earlier ones, so a
# subject who consented before screening procedures still counts as screened once enrolled.
_ENROLLED = Q(enrolled_on__isnull=False)
FUNNEL_STAGES: list[tuple[str, str, Q]] = [
    ("prescreened", "Pre-screened", Q()),
    ("screened", "Screened", Q(screened_on__isnull=False) | _ENROLLED),
    ("consented", "Consented", Q(consented_on__isnull=False) | _ENROLLED),
    ("enrolled", "Enrolled", _ENROLLED),
    ("randomized", "Randomized", Q(randomized_on__isnull=False)),
    ("completed", "Completed", Q(completed_on__isnull=False)),
]
FUNNEL_OUTCOMES: list[tuple[str, str, Q]] = [
    ("screen_failed", "Screen failed", Q(screen_failed_on__isnull=False) | Q(status="screen_failed")),
    ("withdrawn", "Withdrawn", Q(withdrawn_on__isnull=False) | Q(status="withdrawn")),
]


# Plans describe real calendars; far-off dates are typing errors (and would overflow date arithmetic).
EARLIEST_DATE = dt.date(1970, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)


def check_date(field_name: str, value: dt.date | None) -> None:
    if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValidationFailed.field(field_name, f"Enter a date between {EARLIEST_DATE} and {LATEST_DATE}.")


# --- Plans ---------------------------------------------------------------------------------------------

def _entries_prefetch() -> Prefetch:
    return Prefetch("entries", queryset=EnrollmentPlanEntry.objects.select_related("site", "site__institution")
                    .order_by("planned_activation", "id"))


def _require_view(user, study: Study) -> None:
    if not (permissions.has_perm(user, "study.view", study) and permissions.has_perm(user, "enrollment.view", study)):
        raise NotFound("Study not found.")


def plan_list(user, study: Study) -> list[EnrollmentPlan]:
    """Every baseline of the study's plan, oldest first, with entries."""
    _require_view(user, study)
    return list(EnrollmentPlan.objects.filter(study=study).prefetch_related(_entries_prefetch())
                .order_by("baseline"))


def plan_current(user, study: Study) -> EnrollmentPlan | None:
    return next((p for p in plan_list(user, study) if p.is_current), None)


def plan_get(user, plan_id: int) -> EnrollmentPlan:
    plan = (EnrollmentPlan.objects.select_related("study").prefetch_related(_entries_prefetch())
            .filter(pk=plan_id).first())
    if plan is None or not permissions.has_perm(user, "enrollment.view", plan.study) \
            or not permissions.has_perm(user, "study.view", plan.study):
        raise NotFound("Enrollment plan not found.")
    return plan


def plan_entry_get(user, entry_id: int) -> EnrollmentPlanEntry:
    entry = (EnrollmentPlanEntry.objects.select_related("plan", "plan__study", "site", "site__institution")
             .filter(pk=entry_id).first())
    if entry is None or not permissions.has_perm(user, "enrollment.view", entry.plan.study) \
            or not permissions.has_perm(user, "study.view", entry.plan.study):
        raise NotFound("Plan entry not found.")
    return entry


def entries_for(entries: list[EnrollmentPlanEntry], site_ids: set[int] | None, *, countries: set[str] | None
                ) -> list[EnrollmentPlanEntry]:
    """The entries for the given sites (None: every site) and for the given countries (None: every country;
    empty: none)."""
    wanted = site_ids
    out = []
    for entry in entries:
        if entry.site_id is None:
            if countries is None or entry.country.lower() in countries:
                out.append(entry)
        elif wanted is None or entry.site_id in wanted:
            out.append(entry)
    return out


def planned_rates(entries: list[EnrollmentPlanEntry]) -> list[curves.PlannedRate]:
    return [curves.PlannedRate(e.planned_activation, e.planned_rate_per_month, e.planned_subjects) for e in entries]


# --- Actuals -------------------------------------------------------------------------------------------

@dataclass
class SiteActuals:
    """One site's screening log counts and enrollment rate, from one aggregate query."""

    site: StudySite
    counts: dict[str, int]
    first_enrolled: dt.date | None
    last_enrolled: dt.date | None
    as_of: dt.date
    entry: EnrollmentPlanEntry | None = None      # the site's own entry in the current plan

    @property
    def enrolled(self) -> int:
        return self.counts["enrolled"]

    @property
    def active_since(self) -> dt.date | None:
        activated = self.site.actual_activated
        return activated if activated is not None and activated <= self.as_of else None

    @property
    def active_until(self) -> dt.date:
        closed = self.site.actual_closed_out
        return min(closed, self.as_of) if closed is not None else self.as_of

    @property
    def months_active(self) -> float | None:
        if self.active_since is None:
            return None
        return curves.months_between(self.active_since, self.active_until)

    @property
    def rate_per_month(self) -> float | None:
        """Subjects per month while active (None before activation or on the first day)."""
        return curves.rate_per_month(self.enrolled, self.active_since, self.active_until)

    @property
    def planned_rate_per_month(self) -> float | None:
        return self.entry.planned_rate_per_month if self.entry is not None else None

    @property
    def screen_failure_rate(self) -> float | None:
        return screen_failure_rate(self.counts)


def screen_failure_rate(counts: dict[str, int]) -> float | None:
    """Screen failures among subjects whose screening has concluded (failed or enrolled)."""
    concluded = counts["screen_failed"] + counts["enrolled"]
    return counts["screen_failed"] / concluded if concluded else None


@dataclass
class EnrollmentData:
    """Everything the enrollment pages need for one study, as the user may see it."""

    study: Study
    as_of: dt.date
    whole_study: bool                  # False: the user is limited to some sites
    plans: list[EnrollmentPlan]
    entries: dict[int, list[EnrollmentPlanEntry]]   # plan id -> the entries the user may see
    sites: list[SiteActuals]
    daily: dict[int, dict[dt.date, int]]   # site id -> {enrollment day: subjects}
    settings: dict[str, float]

    @property
    def current_plan(self) -> EnrollmentPlan | None:
        return next((p for p in self.plans if p.is_current), None)

    @property
    def countries(self) -> list[str]:
        return sorted({s.site.country for s in self.sites if s.site.country})

    def select(self, *, country: str | None = None, site_ids: list[int] | None = None) -> list[SiteActuals]:
        rows = self.sites
        if country:
            rows = [r for r in rows if r.site.country.lower() == country.strip().lower()]
        if site_ids:
            wanted = set(site_ids)
            rows = [r for r in rows if r.site.pk in wanted]
        return rows

    def site_numbers(self) -> dict[int, str]:
        return {r.site.pk: r.site.site_number for r in self.sites}


def _visible_sites(user, study: Study):
    qs = StudySite.objects.filter(study=study)
    flt = permissions.site_filter(user, "enrollment.view")
    return qs if flt is None else qs.filter(flt)


# The site columns the enrollment pages, the forecast input and the warnings read: a mega-trial loads 1,200
# sites (and their institutions) on every dashboard request, and whole rows cost five times as much.
SITE_FIELDS = ("id", "study_id", "site_number", "status", "status_changed_at", "country", "target_enrollment",
               "actual_activated", "planned_activated", "actual_closed_out", "is_deleted", "institution__id",
               "institution__name")


def _raw_rows(qs) -> list[tuple]:
    """The queryset's rows as the database driver returns them, without Django's per-value converters (a
    mega-trial's daily counts are 20,000 rows; SQLite then gives dates as ISO strings)."""
    try:
        sql, params = qs.query.get_compiler(qs.db).as_sql()
    except EmptyResultSet:  # e.g. a filter on an empty list of sites: Django would return no rows without asking
        return []
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _attach_sites(plans: list[EnrollmentPlan], sites: dict[int, StudySite]) -> None:
    """Give every plan entry its site object (those not among `sites`, e.g. deleted ones, in one query)."""
    entries = [e for p in plans for e in p.entries.all() if e.site_id]
    missing = {e.site_id for e in entries} - sites.keys()
    if missing:
        sites = {**sites, **{s.pk: s for s in StudySite.all_objects.filter(pk__in=missing)
                              .select_related("institution").only(*SITE_FIELDS)}}
    cache_site = EnrollmentPlanEntry.site.field.set_cached_value
    for entry in entries:
        cache_site(entry, sites[entry.site_id])


# The loaded EnrollmentData of a study is cached too (the dashboards of a mega-trial read 100,000 subjects and
# 2,000 sites per request). Its key says when anything it holds may have changed: every write to a study's
# subjects, sites, plans, settings or the study itself goes through a service that appends an audit event with
# the study's id, so the study's newest audit seq moves with every change (one index probe); the number of the
# study's subject rows also catches rows written without a service (fixtures); plus the day, the user's
# visible sites and whole-study access, and the code. Institution names (changed outside the study) are read
# afresh on every request.
ENROLLMENT_DATA_CACHE_SECONDS = 15 * 60


def _data_cache_key(user, study: Study, as_of: dt.date) -> str:
    from trialdesk.audit.selectors import newest_study_event

    whole = permissions.has_perm(user, "enrollment.view", study, whole_study=True)
    limited = permissions.site_filter(user, "enrollment.view") is not None
    scope = hashlib.sha256(repr(sorted(_visible_sites(user, study).values_list("pk", flat=True))).encode()
                           ).hexdigest()[:16] if limited else "all"
    subjects = Subject.all_objects.filter(study_id=study.pk).count()
    return (f"enrollment-data:{study.pk}:{as_of.isoformat()}:{int(whole)}:{scope}:"
            f"{newest_study_event(study.pk)}:{subjects}:{_FORECAST_CODE}")


@replica_reads()
def enrollment_data(user, study: Study, *, as_of: dt.date | None = None, use_cache: bool = True
                    ) -> EnrollmentData:
    """Plans, per-site counts and daily enrollment for the user's view of the study: from the cache when
    nothing in the study changed since (see above: 4 queries), else loaded (6 queries) and cached."""
    _require_view(user, study)
    as_of = as_of or timezone.localdate()
    key = _data_cache_key(user, study, as_of) if use_cache else None
    if key is not None:
        cached = cache.get(key)
        if isinstance(cached, EnrollmentData):
            cached.study = study
            _refresh_institution_names(cached)
            return cached
    data = _load_enrollment_data(user, study, as_of)
    if key is not None:
        cache.set(key, replace(data, study=None), ENROLLMENT_DATA_CACHE_SECONDS)
    return data


def _refresh_institution_names(data: EnrollmentData) -> None:
    from trialdesk.organizations.models import Organization

    ids = {r.site.institution_id for r in data.sites}
    names = dict(Organization.all_objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}
    for row in data.sites:
        row.site.institution.name = names.get(row.site.institution_id, row.site.institution.name)


def _load_enrollment_data(user, study: Study, as_of: dt.date) -> EnrollmentData:
    # Entries without their sites: the sites are loaded once below and handed to the entries (a plan with an
    # entry per site of a mega-trial would otherwise load every site and institution again per baseline).
    plans = list(EnrollmentPlan.objects.filter(study=study).prefetch_related(
        Prefetch("entries", queryset=EnrollmentPlanEntry.objects.order_by("planned_activation", "id")))
        .order_by("baseline"))
    site_rows = list(_visible_sites(user, study).select_related("institution").only(*SITE_FIELDS)
                     .order_by("site_number"))
    visible = {s.pk for s in site_rows}
    _attach_sites(plans, {s.pk: s for s in site_rows})
    # The study's subjects (only the visible sites' for a site-limited user), counted per site in one GROUP BY
    # site_id over the subjects alone: grouping the site rows themselves would group by every site column.
    subjects = Subject.objects.filter(study=study)
    if permissions.site_filter(user, "enrollment.view") is not None:
        subjects = subjects.filter(site_id__in=visible)
    keys = [key for key, _l, _c in FUNNEL_STAGES + FUNNEL_OUTCOMES]
    per_site = {row["site_id"]: row for row in subjects.values("site_id").annotate(
        **{key: Count("id", filter=cond) for key, _l, cond in FUNNEL_STAGES + FUNNEL_OUTCOMES},
        first_enrolled=Min("enrolled_on"), last_enrolled=Max("enrolled_on")).order_by()}
    none = dict.fromkeys(keys, 0) | {"first_enrolled": None, "last_enrolled": None}
    current = next((p for p in plans if p.is_current), None)
    by_site = {e.site_id: e for e in current.entries.all() if e.site_id} if current else {}
    sites = []
    for site in site_rows:
        row = per_site.get(site.pk, none)
        sites.append(SiteActuals(site=site, counts={key: row[key] for key in keys},
                                 first_enrolled=row["first_enrolled"], last_enrolled=row["last_enrolled"],
                                 as_of=as_of, entry=by_site.get(site.pk)))
    daily: dict[int, dict[dt.date, int]] = defaultdict(dict)
    rows = subjects.filter(enrolled_on__isnull=False).values("site_id", "enrolled_on").annotate(n=Count("id")) \
        .order_by().values_list("site_id", "enrolled_on", "n")
    for site_id, day, n in _raw_rows(rows):
        if site_id in visible:
            daily[site_id][day if isinstance(day, dt.date) else dt.date.fromisoformat(day)] = n
    settings_row = SubjectSettings.objects.filter(study=study).first()
    settings = dict(DEFAULT_ALERT_SETTINGS) if settings_row is None else {
        name: getattr(settings_row, name) for name in DEFAULT_ALERT_SETTINGS}
    whole = permissions.has_perm(user, "enrollment.view", study, whole_study=True)
    # Site-limited users see their sites' entries only, not the country lines of the plan.
    entries = {p.pk: [e for e in p.entries.all() if whole or e.site_id in visible] for p in plans}
    return EnrollmentData(study=study, as_of=as_of, whole_study=whole, plans=plans, entries=entries, sites=sites,
                          daily=dict(daily), settings=settings)


@dataclass
class Actuals:
    """Enrollment so far for a selection of sites."""

    sites: list[SiteActuals]
    funnel: dict[str, int]
    steps: list[tuple[dt.date, int]]           # (day, cumulative enrolled after that day)
    as_of: dt.date

    @property
    def enrolled(self) -> int:
        return self.funnel["enrolled"]

    @property
    def screen_failure_rate(self) -> float | None:
        return screen_failure_rate(self.funnel)

    @property
    def active_sites(self) -> int:
        return sum(1 for s in self.sites if s.active_since is not None)

    @property
    def first_activation(self) -> dt.date | None:
        return min((s.active_since for s in self.sites if s.active_since), default=None)

    def funnel_stages(self) -> list[tuple[str, str, int, bool]]:
        """(key, label, count, is_outcome) in display order."""
        return ([(k, label, self.funnel[k], False) for k, label, _c in FUNNEL_STAGES]
                + [(k, label, self.funnel[k], True) for k, label, _c in FUNNEL_OUTCOMES])

    def monthly(self) -> list[dict]:
        """Subjects enrolled per calendar month and cumulative (for tables and the API)."""
        if not self.steps:
            return []
        per_month: dict[dt.date, int] = defaultdict(int)
        previous = 0
        for day, total in self.steps:
            per_month[curves.month_end(day)] += total - previous
            previous = total
        out, total = [], 0
        for month in curves.month_ends(self.steps[0][0], max(self.as_of, self.steps[-1][0])):
            total += per_month.get(month, 0)
            out.append({"month": month.strftime("%Y-%m"), "enrolled": per_month.get(month, 0), "cumulative": total})
        return out


def actuals_of(data: EnrollmentData, rows: list[SiteActuals]) -> Actuals:
    funnel = {key: sum(r.counts[key] for r in rows) for key, _l, _c in FUNNEL_STAGES + FUNNEL_OUTCOMES}
    merged: dict[dt.date, int] = defaultdict(int)
    for r in rows:
        for day, n in data.daily.get(r.site.pk, {}).items():
            merged[day] += n
    return Actuals(sites=rows, funnel=funnel, steps=curves.cumulative_steps(merged), as_of=data.as_of)


@dataclass
class Selection:
    """Which part of a study a page or API call is about."""

    country: str | None = None
    site_ids: list[int] = field(default_factory=list)

    @property
    def is_study(self) -> bool:
        return not self.country and not self.site_ids

    def label(self, data: EnrollmentData) -> str:
        if self.site_ids:
            numbers = data.site_numbers()
            names = [numbers[i] for i in self.site_ids if i in numbers]
            return ("site " if len(names) == 1 else "sites ") + ", ".join(names) if names else "no sites"
        return self.country or "whole study"


def selection_check(data: EnrollmentData, selection: Selection) -> None:
    """Unknown countries or sites (or ones the user may not see) are a field error, not an empty answer."""
    if selection.country and selection.country.strip().lower() not in {c.lower() for c in data.countries}:
        raise ValidationFailed.field("country", f"No site of this study is in {selection.country!r}.")
    known = {r.site.pk for r in data.sites}
    unknown = sorted(set(selection.site_ids) - known)
    if unknown:
        raise ValidationFailed.field("site_ids", f"Not a site of this study: {', '.join(map(str, unknown))}.")


# --- Plan curves ---------------------------------------------------------------------------------------

def selection_entries(data: EnrollmentData, plan: EnrollmentPlan, selection: Selection) -> list[EnrollmentPlanEntry]:
    """The plan entries behind a selection: its sites' entries, and country entries for a whole study or
    a country (never for a hand-picked set of sites)."""
    rows = data.select(country=selection.country, site_ids=selection.site_ids)
    site_ids = None if selection.is_study else {r.site.pk for r in rows}
    if selection.site_ids:
        countries: set[str] | None = set()
    elif selection.country:
        countries = {selection.country.strip().lower()}
    else:
        countries = None
    return entries_for(data.entries.get(plan.pk, []), site_ids, countries=countries)


def plan_target(data: EnrollmentData, plan: EnrollmentPlan | None) -> int | None:
    if plan is not None and plan.target:
        return plan.target
    return data.study.planned_enrollment or None


def plan_series(data: EnrollmentData, selection: Selection, start: dt.date, end: dt.date
                ) -> list[tuple[EnrollmentPlan, list[tuple[dt.date, float]]]]:
    """Each baseline's planned cumulative curve over [start, end] for the selection (capped by the plan's
    target for the whole study only: a target is not split across countries)."""
    out = []
    for plan in data.plans:
        entries = selection_entries(data, plan, selection)
        if not entries:
            continue
        target = plan.target if selection.is_study and data.whole_study else None
        out.append((plan, curves.planned_curve(planned_rates(entries), start, end, target)))
    return out


# --- Forecast input ------------------------------------------------------------------------------------

# Sites that will not recruit (again): left out of forecasts unless they recruited already.
NOT_RECRUITING = frozenset({"not_selected"})
COUNTRY_SITE_PREFIX = "plan:"


@dataclass
class ForecastInput:
    """The engine's input built from the database, and how each engine site maps back to a study site."""

    study: fc.Study
    site_pks: dict[str, int | None]            # engine site id -> StudySite pk (None: a planned country)
    excluded: list[tuple[str, str]]            # (site number, why it is not in the forecast)
    notes: list[str]                           # data corrections made to keep the input consistent
    targets: dict[str, int | None]             # engine site id -> the site's own target (entry cap or site)


def _closed_on(site: StudySite, as_of: dt.date) -> dt.date | None:
    """The last day a site recruits: its close-out, or the day it was closed to enrollment."""
    if site.actual_closed_out is not None:
        return site.actual_closed_out
    if site.status in ("closed_to_enrollment", "closed_out") and site.status_changed_at is not None:
        return min(timezone.localdate(site.status_changed_at), as_of)
    return None


def forecast_input(data: EnrollmentData, *, target: int | None = None) -> ForecastInput:
    """The whole (visible) study as the engine's input. Active sites carry their enrollment dates; sites not
    yet active carry their planned activation and rate from the current plan (their own entry, else their
    country's entry shared among the country's waiting sites, else the site's planned activation date with
    the study's typical rate); a country planned without sites yet becomes one planned placeholder site."""
    plan = data.current_plan
    entries = data.entries.get(plan.pk, []) if plan else []
    country_entries = {e.country.lower(): e for e in entries if e.site_id is None}
    as_of = data.as_of
    sites: list[fc.Site] = []
    site_pks: dict[str, int | None] = {}
    targets: dict[str, int | None] = {}
    excluded: list[tuple[str, str]] = []
    notes: list[str] = []

    waiting_by_country: dict[str, int] = defaultdict(int)
    for row in data.sites:
        if row.active_since is None and row.entry is None and row.site.status not in NOT_RECRUITING:
            waiting_by_country[row.site.country.lower()] += 1

    for row in data.sites:
        site, sid = row.site, row.site.site_number
        enrolled_days = sorted(d for d, n in data.daily.get(site.pk, {}).items() for _ in range(n))
        closed = _closed_on(site, as_of)
        country_entry = country_entries.get(site.country.lower()) if row.entry is None else None
        planned_rate = row.planned_rate_per_month
        if planned_rate is None and country_entry is not None:
            planned_rate = country_entry.planned_rate_per_month / max(waiting_by_country[site.country.lower()], 1)
        activated = row.active_since
        if activated is None and enrolled_days:
            # Subjects enrolled but no activation date recorded: the site was active from its first subject.
            activated = enrolled_days[0]
            notes.append(f"Site {sid}: no actual activation date; taken as its first enrollment, {activated}.")
        if activated is not None:
            if enrolled_days and enrolled_days[0] < activated:
                notes.append(f"Site {sid}: subjects enrolled before its activation date; activation taken as "
                             f"{enrolled_days[0]}.")
                activated = enrolled_days[0]
            if enrolled_days and enrolled_days[-1] > as_of:
                notes.append(f"Site {sid}: enrollment dates after today counted as today.")
                enrolled_days = [min(d, as_of) for d in enrolled_days]
            if closed is not None and closed < activated:
                closed = activated
            engine_site = fc.Site(id=sid, activated=activated, enrolled=tuple(enrolled_days), closed=closed,
                                  planned_rate_per_month=planned_rate, country=site.country or None,
                                  screened=row.counts["screen_failed"] + row.counts["enrolled"],
                                  screen_failed=row.counts["screen_failed"])
        else:
            if site.status in NOT_RECRUITING or closed is not None:
                excluded.append((sid, "not selected or closed before activation"))
                continue
            planned = (row.entry.planned_activation if row.entry is not None
                       else country_entry.planned_activation if country_entry is not None
                       else site.actual_activated or site.planned_activated)
            if planned is None:
                excluded.append((sid, "no planned activation date (plan entry or site milestone)"))
                continue
            engine_site = fc.Site(id=sid, planned_activation=planned, planned_rate_per_month=planned_rate,
                                  country=site.country or None)
        sites.append(engine_site)
        site_pks[sid] = site.pk
        targets[sid] = (row.entry.planned_subjects if row.entry is not None and row.entry.planned_subjects
                        else site.target_enrollment)

    study_countries = {r.site.country.lower() for r in data.sites}
    for key, entry in sorted(country_entries.items()):
        if key in study_countries:
            continue
        sid = f"{COUNTRY_SITE_PREFIX}{entry.country}"
        sites.append(fc.Site(id=sid, planned_activation=entry.planned_activation,
                             planned_rate_per_month=entry.planned_rate_per_month, country=entry.country))
        site_pks[sid] = None
        targets[sid] = entry.planned_subjects

    rates = [e.planned_rate_per_month for e in entries if e.site_id is not None and e.planned_rate_per_month > 0]
    rates = rates or [e.planned_rate_per_month for e in entries if e.planned_rate_per_month > 0]
    prior = fc.Prior(rate_per_month=sum(rates) / len(rates)) if rates else None
    lsi = (plan.planned_last_subject_in if plan and plan.planned_last_subject_in
           else data.study.planned_last_subject_in)
    engine_study = fc.Study(as_of=as_of, target=target if target is not None else (plan_target(data, plan) or 0),
                            sites=tuple(sites), planned_last_subject_in=lsi, prior=prior,
                            name=data.study.protocol_number)
    return ForecastInput(study=engine_study, site_pks=site_pks, excluded=excluded, notes=notes, targets=targets)


# --- Forecasts -----------------------------------------------------------------------------------------

FORECAST_SIMULATIONS = 4000


@dataclass
class ForecastResult:
    """A forecast for a selection, in plain values (dates, numbers) for pages and the API."""

    selection: str
    as_of: dt.date
    target: int | None
    target_source: str
    enrolled: int
    completion: dict[str, dt.date | None] | None
    probability_on_time: float | None
    planned_last_subject_in: dt.date | None
    method: str
    reason: str | None
    reached_on: dt.date | None
    sites: list[dict]
    curve: list[dict]
    excluded: list[tuple[str, str]]
    notes: list[str]
    elapsed_ms: float
    engine: fc.Forecast | None = field(default=None, repr=False)
    # The study-level bottleneck warnings once worked out (`warnings_for`), kept with the cached forecast,
    # which no longer carries the engine they are computed from.
    warnings: list[dict] | None = field(default=None, repr=False)
    from_cache: bool = field(default=False, repr=False)
    cache_key: str | None = field(default=None, repr=False)
    study_level: bool = field(default=False, repr=False)     # the whole study at the plan's target

    @property
    def late(self) -> bool | None:
        """Does the median completion pass the planned last-subject-in date?"""
        p50 = (self.completion or {}).get("p50")
        if p50 is None or self.planned_last_subject_in is None:
            return None
        return p50 > self.planned_last_subject_in


def forecast_seed(study: Study) -> int:
    """A fixed seed per study: the same data always gives the same forecast."""
    return int(study.pk)


def _selected_ids(data: EnrollmentData, fi: ForecastInput, selection: Selection) -> list[str]:
    if selection.is_study:
        return [s.id for s in fi.study.sites]
    chosen = {r.site.pk for r in data.select(country=selection.country, site_ids=selection.site_ids)}
    ids = [sid for sid, pk in fi.site_pks.items() if pk in chosen]
    if selection.country and not selection.site_ids:
        wanted = selection.country.strip().lower()
        ids += [s.id for s in fi.study.sites if fi.site_pks[s.id] is None and (s.country or "").lower() == wanted]
    return ids


def _selection_target(data: EnrollmentData, fi: ForecastInput, selection: Selection, ids: list[str],
                      override: int | None) -> tuple[int | None, str]:
    if override is not None:
        return override, "given"
    plan = data.current_plan
    study_target = plan_target(data, plan)
    if selection.is_study:
        return study_target, ("plan" if plan is not None and plan.target else "study")
    own = [fi.targets.get(i) for i in ids]
    if own and all(own):
        return sum(own), "sum of the sites' own targets"
    if study_target and fi.study.sites and ids:
        share = max(1, round(study_target * len(ids) / len(fi.study.sites)))
        return share, "share of the study target by number of sites"
    return None, "none"


# Forecasts are cached by their content: the key is a digest of everything the result depends on (the
# engine's whole input, built from the database on every request, the selection and target, the alert
# settings and screening counts behind the warnings, the number of simulations, the seed and the forecasting
# code itself). A new subject, a site activated, a plan edited or a threshold changed makes a different key,
# so a cached forecast is never stale and nothing has to be invalidated; the timeout only bounds the space
# that keys of superseded data take up. The database rows are still read on every request (a few aggregate
# queries); only the Monte Carlo run is saved.
FORECAST_CACHE_SECONDS = 6 * 3600
_FORECAST_CODE = hashlib.sha256(b"".join(
    (Path(fc.__file__).parent / name).read_bytes() for name in ("model.py", "bottlenecks.py"))
    + Path(__file__).read_bytes()).hexdigest()[:16]


def forecast_cache_key(data: EnrollmentData, fi: ForecastInput, selection: Selection, ids: list[str],
                       goal: int, source: str) -> str | None:
    """The cache key of a forecast (None if its input cannot be serialised, which only means no caching)."""
    screening = [(r.site.pk, r.counts["screen_failed"], r.counts["enrolled"]) for r in data.sites]
    content = (fi.study, fi.site_pks, fi.excluded, fi.notes, fi.targets, selection.label(data), sorted(ids), goal,
               source, sorted(data.settings.items()), screening, FORECAST_SIMULATIONS,
               forecast_seed(data.study), _FORECAST_CODE)
    try:
        blob = pickle.dumps(content, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    return f"forecast:{data.study.pk}:{hashlib.sha256(blob).hexdigest()}"


def run_forecast(data: EnrollmentData, selection: Selection | None = None, *, target: int | None = None,
                 fi: ForecastInput | None = None, fit: fc.PopulationFit | None = None,
                 delays: DelayModel | None = None, use_cache: bool = True) -> ForecastResult:
    """Run the engine for the selection (seeded per study). The rate distribution is always fitted on every
    site the user may see, so a country or a few sites borrow strength from the rest of the study.

    `fit`/`delays` may only be the study's own (the study forecast's, to save fitting them again): they are
    not part of the cache key. A result from the cache has no `engine`; a whole-study one carries its
    `warnings`."""
    selection = selection or Selection()
    fi = fi or forecast_input(data)
    ids = _selected_ids(data, fi, selection)
    goal, source = _selection_target(data, fi, selection, ids, target)
    if goal is None:
        return _no_target(data, fi, selection, source)
    key = forecast_cache_key(data, fi, selection, ids, goal, source) if use_cache else None
    if key is not None:
        cached = cache.get(key)
        if isinstance(cached, ForecastResult):
            return replace(cached, from_cache=True, cache_key=key)
    started = time.perf_counter()
    result = fc.forecast(fi.study, target=goal, site_filter=ids, simulations=FORECAST_SIMULATIONS,
                         seed=forecast_seed(data.study), fit=fit, delays=delays)
    out = forecast_result(data, fi, selection, result, source, started)
    out.cache_key, out.study_level = key, selection.is_study and target is None
    if key is not None:
        cache.set(key, replace(out, engine=None), FORECAST_CACHE_SECONDS)
    return out


def _no_target(data: EnrollmentData, fi: ForecastInput, selection: Selection, source: str) -> ForecastResult:
    rows = data.select(country=selection.country, site_ids=selection.site_ids)
    return ForecastResult(selection=selection.label(data), as_of=data.as_of, target=None, target_source=source,
                          enrolled=sum(r.enrolled for r in rows), completion=None, probability_on_time=None,
                          planned_last_subject_in=fi.study.planned_last_subject_in, method="none",
                          reason="No enrollment target: set one in the plan or on the study.", reached_on=None,
                          sites=[], curve=[], excluded=fi.excluded, notes=fi.notes, elapsed_ms=0.0)


def forecast_result(data: EnrollmentData, fi: ForecastInput, selection: Selection, result: fc.Forecast,
                    target_source: str, started: float) -> ForecastResult:
    """The engine's forecast as plain values (its curve included; no NaN: JSON has none, pages show a dash)."""
    curve = result.curve() if result.completion is not None or result.reason is None else []
    curve = [{"date": p["date"], **{k: _finite(p[k]) for k in ("mean", "p05", "p50", "p95")}} for p in curve]
    sites = [{"id": s.id, "site_id": fi.site_pks.get(s.id), "status": s.status, "enrolled": s.enrolled,
              "rate_per_month": (dict(s.rate_per_month)
                                 if s.rate_per_month and all(math.isfinite(v) for v in s.rate_per_month.values())
                                 else None),
              "rate_mean_per_month": _finite(s.rate_mean_per_month),
              "expected_additional": _finite(s.expected_additional) or 0.0, "activation": s.activation}
             for s in result.sites]
    return ForecastResult(selection=selection.label(data), as_of=data.as_of, target=result.target,
                          target_source=target_source, enrolled=result.enrolled, completion=result.completion,
                          probability_on_time=result.probability_on_time,
                          planned_last_subject_in=result.study.planned_last_subject_in, method=result.method,
                          reason=result.reason, reached_on=result.reached_on, sites=sites, curve=curve,
                          excluded=fi.excluded, notes=fi.notes, elapsed_ms=(time.perf_counter() - started) * 1000,
                          engine=result)


# --- The actual / plan / forecast chart ----------------------------------------------------------------

MAX_CHART_YEARS = 10


@dataclass
class Curve:
    """The series behind the cumulative chart (and its data table)."""

    selection: str
    as_of: dt.date
    series: list[charts.Series]
    bands: list[charts.Band]
    markers: list[charts.Marker]
    table_days: list[dt.date]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def enrollment_curve(data: EnrollmentData, selection: Selection, forecast: ForecastResult | None) -> Curve:
    """Actual (step line), every plan baseline, and the forecast median with its 90% band, over one range:
    from the first planned or actual activation to the later of the planned last-subject-in and the
    forecast's 95th percentile completion (at most ten years ahead)."""
    rows = data.select(country=selection.country, site_ids=selection.site_ids)
    actual = actuals_of(data, rows)
    as_of = data.as_of
    plan_entries = [e for p in data.plans for e in selection_entries(data, p, selection)]
    starts = [d for d in (actual.first_activation, actual.steps[0][0] if actual.steps else None) if d]
    starts += [e.planned_activation for e in plan_entries]
    start = min(starts, default=as_of)
    ends = [as_of]
    lsi = forecast.planned_last_subject_in if forecast else (data.current_plan.planned_last_subject_in
                                                             if data.current_plan else None)
    lsi = lsi or data.study.planned_last_subject_in
    if lsi:
        ends.append(lsi)
    if forecast and forecast.curve:
        ends.append(forecast.curve[-1]["date"])
    limit = curves.add_days(as_of, MAX_CHART_YEARS * 365.25)
    end = min(max(ends), limit)
    if end <= start:
        end = start + dt.timedelta(days=30)

    series: list[charts.Series] = []
    for plan, points in plan_series(data, selection, start, end):
        name = f"Plan baseline {plan.baseline}" + (f": {plan.label}" if plan.label else "")
        series.append(charts.Series(key=f"plan-{plan.baseline}", label=name + (" (current)" if plan.is_current
                                                                               else ""),
                                    points=points, kind="plan" if plan.is_current else "baseline"))
    bands: list[charts.Band] = []
    if forecast and forecast.curve:
        points = [p for p in forecast.curve if p["date"] >= as_of and p["date"] <= end
                  and _finite(p["p50"]) is not None]
        if points:
            series.append(charts.Series(key="forecast", label="Forecast median",
                                        points=[(p["date"], p["p50"]) for p in points], kind="forecast"))
            bands.append(charts.Band(key="forecast-band", label="Forecast 90% interval",
                                     lower=[(p["date"], p["p05"]) for p in points],
                                     upper=[(p["date"], p["p95"]) for p in points]))
    actual_points: list[tuple[dt.date, float]] = []
    first_day = actual.first_activation or (actual.steps[0][0] if actual.steps else None)
    if first_day is not None or actual.steps:
        begin = min(d for d in (first_day, actual.steps[0][0] if actual.steps else None) if d)
        actual_points = [(begin, 0.0)] + [(d, float(n)) for d, n in actual.steps if d <= as_of]
        actual_points.append((as_of, float(actual.enrolled)))
    series.insert(0, charts.Series(key="actual", label="Actual enrolled", points=actual_points, kind="actual",
                                   step=True))
    markers = []
    target = forecast.target if forecast else plan_target(data, data.current_plan)
    if target and selection.is_study:
        markers.append(charts.Marker(label=f"Target: {target} subjects", value=float(target)))
    if lsi:
        markers.append(charts.Marker(label=f"Planned last subject in: {lsi.isoformat()}", day=lsi))
    days = curves.month_ends(start, end)
    if len(days) > 48:
        days = [d for d in days if d.month % 3 == 0] + ([days[-1]] if days[-1].month % 3 else [])
    return Curve(selection=selection.label(data), as_of=as_of, series=series, bands=bands, markers=markers,
                 table_days=days)


def curve_svg(curve: Curve, *, chart_id: str = "enrollment-chart", study: Study | None = None) -> str:
    """The accessible inline SVG for a curve."""
    what = f"{study.protocol_number}, {curve.selection}" if study else curve.selection
    parts = [s.label for s in curve.series if s.points] + [b.label for b in curve.bands]
    desc = (f"Cumulative subjects enrolled over time for {curve.selection}, data as of {curve.as_of}: "
            + ", ".join(parts) + ". The table below the chart lists the values by month.")
    return charts.cumulative_chart_svg(chart_id=chart_id, title=f"Cumulative enrollment: {what}", desc=desc,
                                       series=curve.series, bands=curve.bands, markers=curve.markers)


def curve_table(curve: Curve) -> tuple[list[str], list[tuple[dt.date, list[float | None]]]]:
    headers, rows = charts.series_table(curve.table_days, curve.series, curve.bands)
    return headers, list(zip(curve.table_days, rows, strict=True))


# --- What-if -------------------------------------------------------------------------------------------

WHAT_IF_SITE_PREFIX = "new:"


@dataclass(frozen=True)
class AddedSite:
    label: str
    planned_activation: dt.date
    rate_per_month: float
    country: str = ""


@dataclass
class WhatIf:
    baseline: ForecastResult
    scenario: ForecastResult
    changes: list[str]

    @property
    def median_shift_days(self) -> int | None:
        a = (self.baseline.completion or {}).get("p50")
        b = (self.scenario.completion or {}).get("p50")
        return (b - a).days if a and b else None


def enrollment_what_if(data: EnrollmentData, *, add_sites: list[AddedSite] = (), drop_site_ids: list[int] = (),
                       rate_changes: dict[int, float] | None = None, target: int | None = None) -> WhatIf:
    """The study's forecast beside a scenario (the engine's what-if): sites added (planned, with activation
    date and rate), sites dropped (an active site stops recruiting and keeps its subjects; a planned one never
    opens), a site's future rate fixed, or another target. The scenario reuses the baseline's fitted rates,
    activation delays and random numbers, so the difference comes from the changes alone."""
    rate_changes = dict(rate_changes or {})
    fi = forecast_input(data)
    by_pk = {pk: sid for sid, pk in fi.site_pks.items() if pk is not None}
    errors: dict[str, list[str]] = {}
    for field_name, ids in (("drop_site_ids", list(drop_site_ids)), ("rate_changes", list(rate_changes))):
        unknown = [i for i in ids if i not in by_pk]
        if unknown:
            errors[field_name] = [f"Not a site in this study's forecast: {', '.join(map(str, sorted(unknown)))}."]
    labels = [a.label.strip() for a in add_sites]
    if len(set(labels)) != len(labels) or not all(labels):
        errors["add_sites"] = ["Give each added site a different, non-empty label."]
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], errors=errors)
    for added in add_sites:
        check_date("add_sites.planned_activation", added.planned_activation)

    new_sites = tuple(fc.Site(id=f"{WHAT_IF_SITE_PREFIX}{a.label.strip()}", planned_activation=a.planned_activation,
                              planned_rate_per_month=a.rate_per_month, country=a.country or None) for a in add_sites)
    scenario = fc.Scenario(add_sites=new_sites, drop_sites=tuple(by_pk[i] for i in drop_site_ids),
                           rate_changes={by_pk[i]: rate for i, rate in rate_changes.items()}, target=target)
    changes = _describe(fi, scenario)
    goal, source = _selection_target(data, fi, Selection(), [], None)
    if goal is None and target is None:
        empty = _no_target(data, fi, Selection(), source)
        return WhatIf(baseline=empty, scenario=empty, changes=changes)
    started = time.perf_counter()
    try:
        result = fc.what_if(replace(fi.study, target=goal or target), scenario, simulations=FORECAST_SIMULATIONS,
                            seed=forecast_seed(data.study))
    except ValueError as exc:  # the checks above should leave nothing for the engine to refuse
        raise ValidationFailed(str(exc), errors={"request": [str(exc)]}) from None
    fi_scenario = replace(fi, site_pks={**fi.site_pks, **{s.id: None for s in new_sites}})
    baseline = forecast_result(data, fi, Selection(), result.baseline, source, started)
    alternative = forecast_result(data, fi_scenario, Selection(), result.scenario,
                                  "given" if target is not None else source, started)
    alternative.selection = "what-if scenario"
    return WhatIf(baseline=baseline, scenario=alternative, changes=changes)


def _describe(fi: ForecastInput, scenario: fc.Scenario) -> list[str]:
    sites = {s.id: s for s in fi.study.sites}
    out = []
    for sid in scenario.drop_sites:
        site = sites[sid]
        out.append(f"Site {sid} stops recruiting now (its {site.count} subjects stay enrolled)." if site.is_active
                   else f"Site {sid} is dropped before activation.")
    out += [f"Site {sid} recruits {rate:g} subjects per month from now on." for sid, rate in
            scenario.rate_changes.items()]
    out += [f"New site {s.id.removeprefix(WHAT_IF_SITE_PREFIX)} opens {s.planned_activation} at a planned "
            f"{s.planned_rate_per_month:g} subjects per month." for s in scenario.add_sites]
    if scenario.target is not None:
        out.append(f"Target of {scenario.target} subjects.")
    return out or ["No changes: the scenario is the current forecast."]


# --- Summaries for the API and the pages ---------------------------------------------------------------

def site_rate_rows(rows: list[SiteActuals], warnings: list[dict] | None = None) -> list[dict]:
    """The per-site rates table: one dict per site, with the codes of warnings about it."""
    flags: dict[int, list[str]] = defaultdict(list)
    for w in warnings or []:
        if w.get("site_id"):
            flags[w["site_id"]].append(w["code"])
    return [{"site_id": r.site.pk, "site_number": r.site.site_number, "institution": r.site.institution.name,
             "country": r.site.country, "status": r.site.status, "activated": r.active_since,
             "enrolled": r.enrolled, "screen_failed": r.counts["screen_failed"], "months_active": r.months_active,
             "rate_per_month": r.rate_per_month, "planned_rate_per_month": r.planned_rate_per_month,
             "screen_failure_rate": r.screen_failure_rate, "flags": flags.get(r.site.pk, [])}
            for r in rows]


def summary(data: EnrollmentData, selection: Selection, warnings: list[dict] | None = None) -> dict:
    rows = data.select(country=selection.country, site_ids=selection.site_ids)
    actual = actuals_of(data, rows)
    return {"study_id": data.study.pk, "selection": selection.label(data), "as_of": data.as_of,
            "target": plan_target(data, data.current_plan) if selection.is_study else None,
            "enrolled": actual.enrolled, "active_sites": actual.active_sites, "sites": len(rows),
            "screen_failure_rate": actual.screen_failure_rate, "funnel": actual.funnel,
            "monthly": actual.monthly(), "site_rates": site_rate_rows(rows, warnings)}


def forecast_out(result: ForecastResult) -> dict:
    return {**{k: getattr(result, k) for k in ("selection", "as_of", "target", "target_source", "enrolled",
                                                "completion", "probability_on_time", "planned_last_subject_in",
                                                "late", "method", "reason", "reached_on", "sites", "curve",
                                                "notes")},
            "excluded": [{"site": s, "reason": why} for s, why in result.excluded]}


def curve_out(curve: Curve) -> dict:
    def points(pts):
        return [{"date": d, "value": v} for d, v in pts]

    return {"selection": curve.selection, "as_of": curve.as_of,
            "series": [{"key": s.key, "label": s.label, "kind": s.kind, "step": s.step, "points": points(s.points)}
                       for s in curve.series],
            "bands": [{"key": b.key, "label": b.label, "lower": points(b.lower), "upper": points(b.upper)}
                      for b in curve.bands],
            "markers": [{"label": m.label, "date": m.day, "value": m.value} for m in curve.markers]}


def what_if_out(result: WhatIf) -> dict:
    return {"baseline": forecast_out(result.baseline), "scenario": forecast_out(result.scenario),
            "changes": result.changes, "median_shift_days": result.median_shift_days}


# --- Bottleneck warnings -------------------------------------------------------------------------------

def enrollment_warnings(user, study: Study, *, data: EnrollmentData | None = None,
                        forecast: ForecastResult | None = None) -> list[dict]:
    """Bottleneck warnings for the study as the user sees it, most serious first: [{code, severity, message,
    site_id, site_number}]. Thresholds come from the study's SubjectSettings (defaults without one)."""
    data = data or enrollment_data(user, study)
    fi = forecast_input(data)
    if not fi.study.sites:
        return []  # nothing active or planned yet: nothing to warn about
    forecast = forecast or run_forecast(data, fi=fi)
    return warnings_for(data, forecast)


SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# The engine flags a site whose screen-failure proportion exceeds the other sites' by a margin; the study
# setting is a ratio (site rate > ratio x study rate), so the margin is the study rate x (ratio - 1), with a
# floor so a study with almost no screen failures does not flag every single one.
MIN_SCREEN_FAIL_MARGIN = 0.05


def warnings_for(data: EnrollmentData, forecast: ForecastResult) -> list[dict]:
    """The engine's bottleneck warnings for the study-level forecast, with the study's thresholds, as
    [{code, severity, message, site_id, site_number}] (site_id: the StudySite; None for the study)."""
    if forecast.warnings is not None:
        return forecast.warnings  # worked out before (and cached with the forecast)
    engine_forecast = forecast
    if forecast.engine is None and forecast.from_cache and forecast.study_level:
        # A cached forecast whose warnings nobody has asked for yet: run it again for its engine (once).
        engine_forecast = run_forecast(data, use_cache=False)
    warnings = _engine_warnings(data, engine_forecast)
    forecast.warnings = warnings
    if forecast.study_level and forecast.cache_key:
        cache.set(forecast.cache_key, replace(forecast, engine=None, from_cache=False), FORECAST_CACHE_SECONDS)
    return warnings


def _engine_warnings(data: EnrollmentData, forecast: ForecastResult) -> list[dict]:
    if forecast.engine is None:
        return []  # no target: nothing to forecast against
    settings = data.settings
    study_rate = screen_failure_rate({k: sum(r.counts[k] for r in data.sites) for k in ("screen_failed",
                                                                                        "enrolled")}) or 0.0
    margin = max(study_rate * (float(settings["screen_fail_alert_ratio"]) - 1), MIN_SCREEN_FAIL_MARGIN)
    raw = fc.bottleneck_warnings(forecast.engine, idle_days=int(settings["no_enrollment_alert_days"]),
                                 on_time_threshold=float(settings["on_time_probability_threshold"]),
                                 screen_fail_margin=margin)
    pks = {s["id"]: s["site_id"] for s in forecast.sites}
    out = [{"code": w["kind"], "severity": w["severity"], "message": w["message"],
            "site_id": pks.get(w["site_id"]) if w["site_id"] else None, "site_number": w["site_id"]}
           for w in raw]
    out.sort(key=lambda w: (SEVERITY_ORDER.get(w["severity"], 9), w["site_id"] is not None,
                            w["site_number"] or ""))
    return out
