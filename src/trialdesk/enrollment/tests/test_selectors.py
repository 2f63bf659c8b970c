"""Actuals, plan curves, forecast input and results, what-if and warnings, from real database rows."""

from __future__ import annotations

import datetime as dt

import pytest

from trialdesk.accounts.roles import Role
from trialdesk.core.errors import NotFound, ValidationFailed
from trialdesk.enrollment import selectors, services
from trialdesk.enrollment.curves import DAYS_PER_MONTH
from trialdesk.enrollment.tests.conftest import AS_OF, monthly_dates

D = dt.date


def data_for(user, study, as_of=AS_OF):
    return selectors.enrollment_data(user, study, as_of=as_of)


# --- actuals -------------------------------------------------------------------------------------------

def test_funnel_rates_and_cumulative_actuals(enrolling, admin_user, study, sites):
    data = data_for(admin_user, study)
    actual = selectors.actuals_of(data, data.sites)
    assert actual.funnel == {"prescreened": 19, "screened": 19, "consented": 16, "enrolled": 16, "randomized": 0,
                             "completed": 0, "screen_failed": 3, "withdrawn": 0}
    assert actual.screen_failure_rate == pytest.approx(3 / 19)
    assert actual.enrolled == 16 and actual.active_sites == 3
    assert actual.steps[-1][1] == 16 and actual.steps[0] == (D(2026, 1, 20), 1)
    monthly = actual.monthly()
    assert monthly[0] == {"month": "2026-01", "enrolled": 1, "cumulative": 1}
    assert monthly[-1]["month"] == "2026-06" and monthly[-1]["cumulative"] == 16
    assert sum(m["enrolled"] for m in monthly) == 16
    rates = {r.site.site_number: r for r in data.sites}
    assert rates["001"].rate_per_month == pytest.approx(10 / ((AS_OF - D(2026, 1, 10)).days / DAYS_PER_MONTH))
    assert rates["003"].rate_per_month == 0 and rates["003"].enrolled == 0
    assert rates["001"].screen_failure_rate == pytest.approx(3 / 13)
    assert rates["002"].planned_rate_per_month == 2.0
    germany = selectors.actuals_of(data, data.select(country="germany"))
    assert germany.enrolled == 10 and [r.site.site_number for r in germany.sites] == ["001"]


def test_actuals_from_subjects_recorded_through_the_subjects_services(admin_user, study, sites, open_site,
                                                                      screening_log):
    open_site(sites[0], D(2026, 3, 1))
    for day, outcome in [(D(2026, 3, 10), "enrolled"), (D(2026, 3, 12), "screen_failed"),
                         (D(2026, 4, 2), "enrolled"), (D(2026, 4, 20), "enrolled")]:
        screening_log(sites[0], day, outcome)
    data = data_for(admin_user, study, as_of=D(2026, 5, 1))
    actual = selectors.actuals_of(data, data.sites)
    assert actual.funnel["enrolled"] == 3 and actual.funnel["screen_failed"] == 1
    assert actual.funnel["screened"] == 4 and actual.funnel["consented"] == 3
    assert actual.steps == [(D(2026, 3, 10), 1), (D(2026, 4, 2), 2), (D(2026, 4, 20), 3)]
    sites[0].refresh_from_db()
    assert sites[0].enrolled_count == 3  # the subjects service keeps the counter; we count the rows
    row = next(r for r in data.sites if r.site.pk == sites[0].pk)
    assert row.rate_per_month == pytest.approx(3 / (61 / DAYS_PER_MONTH))
    fi = selectors.forecast_input(data)
    assert fi.study.site("001").enrolled == (D(2026, 3, 10), D(2026, 4, 2), D(2026, 4, 20))


def test_site_limited_user_sees_only_their_sites(enrolling, admin_user, make_user, study, sites):
    services.enrollment_plan_entry_create(user=admin_user, plan=enrolling, data={
        "country": "Japan", "planned_activation": D(2026, 9, 1), "planned_rate_per_month": 3})
    cra = make_user(Role.CRA, study=study, sites=[sites[0]])
    data = data_for(cra, study)
    assert [r.site.site_number for r in data.sites] == ["001"] and not data.whole_study
    assert [e.site_id for e in data.entries[enrolling.pk]] == [sites[0].pk]  # no country lines
    assert selectors.actuals_of(data, data.sites).enrolled == 10
    outsider = make_user(username="nobody")  # no membership at all
    with pytest.raises(NotFound):
        data_for(outsider, study)


# --- plan curves ---------------------------------------------------------------------------------------

def test_plan_series_for_baselines_countries_and_sites(enrolling, admin_user, study, sites):
    services.enrollment_plan_entry_create(user=admin_user, plan=enrolling, data={
        "country": "Japan", "planned_activation": D(2026, 3, 1), "planned_rate_per_month": 4})
    new = services.enrollment_plan_rebaseline(user=admin_user, plan=enrolling, reason="Slower", version=1,
                                              data={"target": 60})
    for entry in new.entries.all():
        services.enrollment_plan_entry_update(user=admin_user, entry=entry, data={"planned_rate_per_month": 1.0},
                                              version=entry.version, reason="Slower")
    data = data_for(admin_user, study)
    series = selectors.plan_series(data, selectors.Selection(), D(2026, 1, 1), D(2030, 1, 1))
    assert [(p.baseline, p.is_current) for p, _ in series] == [(1, False), (2, True)]
    (_, old), (_, current) = series
    assert old[-1][1] == 400                        # capped by baseline 1's target
    assert current[-1][1] == 60                     # baseline 2: target 60
    on = D(2026, 7, 1)
    months = (on - D(2026, 1, 1)).days / DAYS_PER_MONTH
    value = next(v for d, v in selectors.plan_series(data, selectors.Selection(), D(2026, 1, 1), on)[1][1]
                 if d == on)
    assert value == pytest.approx(3 * months + (on - D(2026, 3, 1)).days / DAYS_PER_MONTH)
    japan = selectors.plan_series(data, selectors.Selection(country="Japan"), D(2026, 1, 1), on)
    assert japan[1][1][-1][1] == pytest.approx((on - D(2026, 3, 1)).days / DAYS_PER_MONTH)
    one_site = selectors.plan_series(data, selectors.Selection(site_ids=[sites[1].pk]), D(2026, 1, 1), on)
    assert one_site[1][1][-1][1] == pytest.approx(months)  # its own entry only, no country line


# --- forecast input ------------------------------------------------------------------------------------

def test_forecast_input_uses_actuals_for_active_sites_and_the_plan_for_the_others(enrolling, admin_user, study,
                                                                                  sites, activate):
    from trialdesk.organizations.services import organization_create
    from trialdesk.sites.services import site_create, site_transition

    inst = organization_create(user=admin_user, data={"name": "Hospital Clínic", "kind": "institution"})

    def new_site(number, country, **data):
        return site_create(user=admin_user, study=study, data={"institution": inst, "site_number": number,
                                                               "country": country, **data})

    own_entry = new_site("004", "Spain")
    services.enrollment_plan_entry_create(user=admin_user, plan=enrolling, data={
        "site": own_entry, "planned_activation": D(2026, 8, 1), "planned_rate_per_month": 3.0,
        "planned_subjects": 20})
    new_site("005", "Italy")
    new_site("006", "Italy", planned_activated=D(2026, 10, 1))
    services.enrollment_plan_entry_create(user=admin_user, plan=enrolling, data={
        "country": "Italy", "planned_activation": D(2026, 9, 1), "planned_rate_per_month": 4.0})
    services.enrollment_plan_entry_create(user=admin_user, plan=enrolling, data={
        "country": "Japan", "planned_activation": D(2026, 11, 1), "planned_rate_per_month": 5.0})
    no_date = new_site("007", "Spain")
    dropped = new_site("008", "Spain", planned_activated=D(2026, 8, 1))
    site_transition(user=admin_user, site=dropped, status="not_selected", version=dropped.version, reason="No")

    data = data_for(admin_user, study)
    fi = selectors.forecast_input(data)
    by_id = {s.id: s for s in fi.study.sites}
    assert by_id["001"].activated == D(2026, 1, 10) and by_id["001"].count == 10 and by_id["001"].is_active
    assert by_id["001"].screened == 13 and by_id["001"].screen_failed == 3
    assert by_id["003"].is_active and by_id["003"].count == 0
    assert (by_id["004"].planned_activation, by_id["004"].planned_rate_per_month) == (D(2026, 8, 1), 3.0)
    # Italy's two waiting sites share the country entry: its date, half its rate each.
    assert (by_id["005"].planned_activation, by_id["005"].planned_rate_per_month) == (D(2026, 9, 1), 2.0)
    assert (by_id["006"].planned_activation, by_id["006"].planned_rate_per_month) == (D(2026, 9, 1), 2.0)
    # Japan has no sites yet: one planned placeholder carries its entry.
    assert by_id["plan:Japan"].planned_activation == D(2026, 11, 1) and fi.site_pks["plan:Japan"] is None
    assert dict(fi.excluded) == {no_date.site_number: "no planned activation date (plan entry or site milestone)",
                                 dropped.site_number: "not selected or closed before activation"}
    assert fi.study.target == 400 and fi.study.planned_last_subject_in == D(2027, 6, 30)
    assert fi.study.prior.rate_per_month == pytest.approx((2 + 2 + 2 + 3) / 4)
    assert fi.study.enrolled == selectors.actuals_of(data, data.sites).enrolled == 16
    assert fi.targets["001"] == 150 and fi.targets["004"] == 20


def test_inconsistent_dates_are_corrected_and_reported(admin_user, study, sites, activate, add_subjects):
    activate(sites[0], D(2026, 3, 1))
    add_subjects(sites[0], enrolled=[D(2026, 2, 20), D(2026, 3, 5)])
    add_subjects(sites[1], enrolled=[D(2026, 4, 1)])  # no activation date recorded at all
    fi = selectors.forecast_input(data_for(admin_user, study))
    assert fi.study.site("001").activated == D(2026, 2, 20)
    assert fi.study.site("002").activated == D(2026, 4, 1)
    assert len(fi.notes) == 2 and "before its activation date" in fi.notes[0]


# --- forecasts -----------------------------------------------------------------------------------------

def test_forecast_matches_actuals_and_is_deterministic(enrolling, admin_user, study):
    data = data_for(admin_user, study)
    first = selectors.run_forecast(data)
    again = selectors.run_forecast(data_for(admin_user, study))
    assert first.enrolled == 16 and first.target == 400 and first.target_source == "plan"
    assert first.completion == again.completion and first.probability_on_time == again.probability_on_time
    p = first.completion
    assert p["p05"] <= p["p50"] <= p["p95"] and p["p50"] > AS_OF
    assert first.curve[0]["date"] == AS_OF and first.curve[0]["p50"] == 16
    assert {s["id"] for s in first.sites} == {"001", "002", "003"}
    assert all(s["site_id"] for s in first.sites)


def test_country_and_site_forecasts(enrolling, admin_user, study, sites):
    data = data_for(admin_user, study)
    germany = selectors.run_forecast(data, selectors.Selection(country="Germany"))
    assert germany.enrolled == 10 and germany.target == 150  # the site's planned cap
    assert germany.target_source == "sum of the sites' own targets"
    assert [s["id"] for s in germany.sites] == ["001"]
    two = selectors.run_forecast(data, selectors.Selection(site_ids=[sites[1].pk, sites[2].pk]), target=30)
    assert two.enrolled == 6 and two.target == 30 and {s["id"] for s in two.sites} == {"002", "003"}
    with pytest.raises(ValidationFailed):
        selectors.selection_check(data, selectors.Selection(country="Atlantis"))


def test_behind_plan_study_warns_that_the_median_passes_the_planned_lsi(enrolling, admin_user, study):
    warnings = selectors.enrollment_warnings(admin_user, study, data=data_for(admin_user, study))
    codes = {(w["code"], w["site_number"]) for w in warnings}
    assert ("late_median", None) in codes and ("low_probability_on_time", None) in codes
    assert ("no_enrollment", "003") in codes  # active since Feb 15 without a subject
    late = next(w for w in warnings if w["code"] == "late_median")
    assert "2027-06-30" in late["message"]
    assert warnings[0]["site_id"] is None  # study-level warnings first
    site_warning = next(w for w in warnings if w["code"] == "no_enrollment")
    assert site_warning["site_id"] == enrolling.entries.get(site__site_number="003").site_id


def test_a_study_on_track_has_no_schedule_warning(enrolling, admin_user, study):
    services.enrollment_plan_update(user=admin_user, plan=enrolling, data={"target": 30}, version=enrolling.version,
                                    reason="Smaller study")
    data = data_for(admin_user, study)
    forecast = selectors.run_forecast(data)
    assert forecast.probability_on_time > 0.9 and not forecast.late
    codes = {w["code"] for w in selectors.warnings_for(data, forecast)}
    assert not codes & {"late_median", "low_probability_on_time", "unreachable"}


def test_alert_thresholds_come_from_the_subject_settings(enrolling, admin_user, study):
    from trialdesk.subjects.services import subject_settings_get_or_create, subject_settings_update

    settings = subject_settings_get_or_create(user=admin_user, study=study)
    subject_settings_update(user=admin_user, study=study, data={"no_enrollment_alert_days": 200,
                                                                "on_time_probability_threshold": 0.0},
                            version=settings.version, reason="Slow indication")
    data = data_for(admin_user, study)
    assert data.settings["no_enrollment_alert_days"] == 200
    codes = {w["code"] for w in selectors.warnings_for(data, selectors.run_forecast(data))}
    assert "no_enrollment" not in codes and "low_probability_on_time" not in codes
    assert "late_median" in codes


def test_screen_failure_outlier_is_flagged(enrolling, admin_user, study, sites, add_subjects):
    add_subjects(sites[1], enrolled=monthly_dates(D(2026, 3, 1), 10, 5),
                 screen_failed=[D(2026, 4, 1)] * 1)
    add_subjects(sites[2], screen_failed=[D(2026, 5, 1)] * 12, enrolled=[D(2026, 5, 2)])
    data = data_for(admin_user, study)
    warnings = selectors.warnings_for(data, selectors.run_forecast(data))
    assert [w["site_number"] for w in warnings if w["code"] == "screen_failure"] == ["003"]


def test_no_sites_active_or_planned_means_no_warnings(admin_user, study, sites):
    assert selectors.enrollment_warnings(admin_user, study) == []


# --- what-if -------------------------------------------------------------------------------------------

def test_adding_sites_moves_the_median_earlier_and_dropping_later(enrolling, admin_user, study, sites):
    data = data_for(admin_user, study)
    more = selectors.enrollment_what_if(data, add_sites=[
        selectors.AddedSite(label=f"N{i}", planned_activation=D(2026, 8, 1), rate_per_month=2.0) for i in range(10)])
    assert more.baseline.completion == selectors.run_forecast(data).completion
    assert more.median_shift_days < -365 and more.scenario.completion["p50"] < more.baseline.completion["p50"]
    assert any("New site N0" in c for c in more.changes)
    fewer = selectors.enrollment_what_if(data, drop_site_ids=[sites[0].pk])
    assert fewer.median_shift_days > 0 and fewer.scenario.enrolled == 16
    faster = selectors.enrollment_what_if(data, rate_changes={sites[2].pk: 5.0}, target=200)
    assert faster.scenario.target == 200 and faster.median_shift_days < 0
    with pytest.raises(ValidationFailed) as exc:
        selectors.enrollment_what_if(data, drop_site_ids=[999999])
    assert "drop_site_ids" in exc.value.errors
    with pytest.raises(ValidationFailed):
        selectors.enrollment_what_if(data, add_sites=[selectors.AddedSite("A", D(2026, 8, 1), 1),
                                                      selectors.AddedSite("A", D(2026, 9, 1), 1)])


# --- the chart data ------------------------------------------------------------------------------------

def test_curve_has_actual_plan_forecast_and_markers(enrolling, admin_user, study):
    services.enrollment_plan_rebaseline(user=admin_user, plan=enrolling, reason="Re-plan", version=1)
    data = data_for(admin_user, study)
    forecast = selectors.run_forecast(data)
    curve = selectors.enrollment_curve(data, selectors.Selection(), forecast)
    kinds = {s.key: s.kind for s in curve.series}
    assert kinds == {"actual": "actual", "plan-1": "baseline", "plan-2": "plan", "forecast": "forecast"}
    actual = next(s for s in curve.series if s.key == "actual")
    assert actual.points[0] == (D(2026, 1, 10), 0) and actual.points[-1] == (AS_OF, 16)
    assert curve.bands[0].lower[0][0] == AS_OF
    assert [m.label for m in curve.markers] == ["Target: 400 subjects", "Planned last subject in: 2027-06-30"]
    headers, rows = selectors.curve_table(curve)
    assert headers[0] == "Actual enrolled"
    # Over four years of months the table goes by quarter ends.
    assert [d for d, _ in rows[:3]] == [D(2026, 3, 31), D(2026, 6, 30), D(2026, 9, 30)]
    june = dict(rows)[D(2026, 6, 30)]
    assert june[0] == 16
    svg = selectors.curve_svg(curve, study=study)
    assert 'data-series="forecast-band"' in svg and "ACME-301, whole study" in svg
