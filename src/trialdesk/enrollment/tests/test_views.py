"""Enrollment pages: the chart page (htmx switch, sorting, warnings), plan editor, what-if, query counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trialdesk.accounts.roles import Role
from trialdesk.enrollment.models import EnrollmentPlan, EnrollmentPlanEntry
from trialdesk.enrollment.tests.conftest import monthly_dates

D = dt.date


def html_of(response) -> str:
    return response.content.decode()


def test_enrollment_page_shows_chart_table_forecast_funnel_and_rates(enrolling, web, cpm, study, sites):
    response = web(cpm).get(f"/studies/{study.pk}/enrollment/")
    assert response.status_code == 200
    html = html_of(response)
    assert re.search(r'aria-current="page" data-testid="tab-enrollment"', html)
    chart = re.search(r'data-testid="enrollment-chart">(.*?)</figure>', html, re.S).group(1)
    assert '<svg' in chart and 'role="img"' in chart and "<title id=\"enrollment-chart-title\">" in chart
    for series in ("actual", "plan-1", "forecast", "forecast-band"):
        assert f'data-series="{series}"' in chart
    # The same numbers as a table for screen readers.
    table = re.search(r'data-testid="chart-table">(.*?)</table>', html, re.S).group(1)
    assert "Actual enrolled" in table and "Forecast 90% interval (low)" in table
    assert re.search(r"<th scope=\"row\" class=\"nowrap\">2026-06-30</th><td class=\"num\">16\.0</td>", table)
    summary = re.search(r'data-testid="forecast-summary">(.*?)</dl>', html, re.S).group(1)
    assert 'data-field="target">400' in summary and 'data-field="enrolled">16' in summary
    assert re.search(r'data-field="p50">\d{4}-\d\d-\d\d', summary)
    assert re.search(r'data-testid="forecast-time">.*forecast computed in \d+ ms', html)
    assert 'data-stage="screen_failed"' in html and 'data-testid="funnel-table"' in html
    assert 'data-warning="late_median"' in html and 'data-warning="no_enrollment" data-site="003"' in html
    assert 'data-flag="no_enrollment"' in html


def test_country_switch_is_an_htmx_partial_and_sorting_works(enrolling, web, cpm, study, sites):
    client = web(cpm)
    partial = client.get(f"/studies/{study.pk}/enrollment/?country=United+States", HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="enrollment-view")
    html = html_of(partial)
    assert "<html" not in html and "Forecast: United States" in html
    assert 'data-testid="rate-row-002"' in html and 'data-testid="rate-row-001"' not in html
    assert 'data-testid="stat-enrolled">6<' in html
    site_page = html_of(client.get(f"/studies/{study.pk}/enrollment/?site={sites[0].pk}"))
    assert "Forecast: site 001" in site_page and 'data-testid="stat-enrolled">10<' in site_page
    by_rate = html_of(client.get(f"/studies/{study.pk}/enrollment/?sort=-rate"))
    order = re.findall(r'data-testid="rate-row-(\d+)"', by_rate)
    assert order == ["001", "002", "003"]
    assert html_of(client.get(f"/studies/{study.pk}/enrollment/?sort=rate")).index("rate-row-003") < \
        html_of(client.get(f"/studies/{study.pk}/enrollment/?sort=rate")).index("rate-row-001")
    # Unknown values are ignored, not an error.
    assert client.get(f"/studies/{study.pk}/enrollment/?country=Atlantis&site=abc&sort=zzz").status_code == 200


def test_study_overview_shows_the_warnings_box(enrolling, web, cpm, study):
    html = html_of(web(cpm).get(f"/studies/{study.pk}/"))
    assert 'data-testid="enrollment-warnings"' in html and 'data-warning="late_median"' in html
    assert f'href="/studies/{study.pk}/enrollment/"' in html


def test_plan_editor_create_entries_rebaseline_history(web, cpm, study, sites):
    client = web(cpm)
    assert 'data-testid="no-plan"' in html_of(client.get(f"/studies/{study.pk}/enrollment/plan/"))
    response = client.post(f"/studies/{study.pk}/enrollment/plan/new/", {"label": "Original", "target": "300",
                                                                        "planned_last_subject_in": "2027-06-30"})
    assert response.status_code == 302
    plan = EnrollmentPlan.objects.get(study=study)
    assert (plan.baseline, plan.target) == (1, 300)
    assert 'data-testid="plan-exists"' in html_of(client.get(f"/studies/{study.pk}/enrollment/plan/new/"))

    bad = client.post(f"/studies/{study.pk}/enrollment/plan/entries/new/", {
        "site": sites[0].pk, "country": "Germany", "planned_activation": "2026-03-01",
        "planned_rate_per_month": "2"})
    assert bad.status_code == 422 and "Leave the country empty" in html_of(bad)
    assert client.post(f"/studies/{study.pk}/enrollment/plan/entries/new/", {
        "site": sites[0].pk, "planned_activation": "2026-03-01", "planned_rate_per_month": "2"}).status_code == 302
    response = client.post(f"/studies/{study.pk}/enrollment/plan/entries/generate/", {
        "rate_per_month": "1.5", "activation_date": "2026-04-01"}, follow=True)
    assert "2 entries added." in html_of(response)
    entry = EnrollmentPlanEntry.objects.get(plan=plan, site=sites[1])
    no_reason = client.post(f"/enrollment/entries/{entry.pk}/edit/", {
        "site": sites[1].pk, "country": "", "planned_activation": "2026-04-01", "planned_rate_per_month": "3",
        "planned_subjects": "", "version": entry.version, "reason": ""})
    assert no_reason.status_code == 422 and 'data-testid="reason-error"' in html_of(no_reason)
    assert client.post(f"/enrollment/entries/{entry.pk}/edit/", {
        "site": sites[1].pk, "country": "", "planned_activation": "2026-04-01", "planned_rate_per_month": "3",
        "planned_subjects": "", "version": entry.version, "reason": "Faster site"}).status_code == 302
    entry.refresh_from_db()
    assert entry.planned_rate_per_month == 3

    response = client.post(f"/studies/{study.pk}/enrollment/plan/rebaseline/", {
        "label": "Amendment 1", "target": "350", "planned_last_subject_in": "2027-06-30",
        "version": plan.version, "reason": "Amendment 1 adds sites"}, follow=True)
    html = html_of(response)
    assert "baseline 2 is now current" in html
    history = re.search(r'data-testid="baseline-history">(.*?)</table>', html, re.S).group(1)
    assert 'data-testid="baseline-2"' in history and 'data-testid="baseline-1"' in history
    assert "Earlier baseline" in history and "Current" in history
    new = EnrollmentPlan.objects.get(study=study, is_current=True)
    assert (new.baseline, new.target, new.label, new.entries.count()) == (2, 350, "Amendment 1", 3)

    old_entry = EnrollmentPlanEntry.objects.get(plan=plan, site=sites[2])
    refused = client.post(f"/enrollment/entries/{old_entry.pk}/delete/", {"version": old_entry.version,
                                                                        "reason": "x"})
    assert refused.status_code == 409 and "not the current plan" in html_of(refused)
    new_entry = EnrollmentPlanEntry.objects.get(plan=new, site=sites[2])
    assert client.post(f"/enrollment/entries/{new_entry.pk}/delete/", {"version": new_entry.version,
                                                                     "reason": "Site withdrew"}).status_code == 302
    chart = html_of(client.get(f"/studies/{study.pk}/enrollment/"))
    assert 'data-series="plan-1"' in chart and 'data-series="plan-2"' in chart
    assert 'class="series series--baseline"' in chart


def test_viewers_see_the_plan_but_cannot_change_it(enrolling, web, make_user, study):
    client = web(make_user(Role.VIEWER, study=study))
    html = html_of(client.get(f"/studies/{study.pk}/enrollment/plan/"))
    assert 'data-testid="plan-entries"' in html and 'data-testid="rebaseline"' not in html
    assert client.get(f"/studies/{study.pk}/enrollment/plan/rebaseline/").status_code == 403
    assert client.post(f"/studies/{study.pk}/enrollment/plan/new/", {}).status_code == 403


def test_what_if_page_shows_the_scenario_beside_the_forecast(enrolling, web, cpm, study, sites):
    client = web(cpm)
    assert 'data-testid="what-if-form"' in html_of(client.get(f"/studies/{study.pk}/enrollment/what-if/"))
    form = {"add-TOTAL_FORMS": 3, "add-INITIAL_FORMS": 0, "rate-TOTAL_FORMS": 3, "rate-INITIAL_FORMS": 0,
            "target": ""}
    for i in range(3):
        form.update({f"add-{i}-label": f"New {i}", f"add-{i}-planned_activation": "2026-12-01",
                     f"add-{i}-rate_per_month": "3"})
    html = html_of(client.post(f"/studies/{study.pk}/enrollment/what-if/", form))
    assert 'data-testid="what-if-result"' in html and "days earlier" in html
    assert 'data-testid="baseline-forecast"' in html and 'data-testid="scenario-forecast"' in html
    assert 'data-series="scenario"' in html
    half = {**form, "add-0-label": "Lonely", "add-0-planned_activation": "", "add-1-label": "",
            "add-1-planned_activation": "", "add-1-rate_per_month": "", "add-2-label": "",
            "add-2-planned_activation": "", "add-2-rate_per_month": ""}
    response = client.post(f"/studies/{study.pk}/enrollment/what-if/", half)
    assert response.status_code == 422 and "Give the new site a label, an activation date and a rate" in \
        html_of(response)


def _many_sites(admin_user, study, count, activate, add_subjects):
    from trialdesk.enrollment.services import enrollment_plan_entry_create
    from trialdesk.organizations.services import organization_create
    from trialdesk.sites.services import site_create

    inst = organization_create(user=admin_user, data={"name": f"Hospital {count}", "kind": "institution"})
    plan = EnrollmentPlan.objects.get(study=study)
    for i in range(count):
        site = site_create(user=admin_user, study=study, data={"institution": inst, "site_number": f"S{count}-{i}",
                                                               "country": ["Spain", "Italy", "Japan"][i % 3]})
        enrollment_plan_entry_create(user=admin_user, plan=plan, data={
            "site": site, "planned_activation": D(2026, 2, 1), "planned_rate_per_month": 1.0})
        if i % 2 == 0:
            activate(site, D(2026, 3, 1))
            add_subjects(site, enrolled=monthly_dates(D(2026, 3, 10), 3, 20), screen_failed=[D(2026, 4, 1)])


@pytest.mark.parametrize("path", ["enrollment/", "enrollment/?country=Spain", "enrollment/plan/", ""])
def test_page_queries_do_not_grow_with_sites(enrolling, web, admin_user, cpm, study, activate, add_subjects,
                                             django_assert_max_num_queries, path):
    client = web(cpm)
    url = f"/studies/{study.pk}/{path}"
    _many_sites(admin_user, study, 3, activate, add_subjects)
    client.get(url)  # warm up (session, grants)
    cache.clear()  # both measured requests compute (and cache) their forecast: same cache queries
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    _many_sites(admin_user, study, 27, activate, add_subjects)
    cache.clear()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    if path == "enrollment/":
        assert html_of(response).count('data-testid="rate-row-') == 33


def test_site_rates_table_is_paged(enrolling, web, admin_user, cpm, study, activate, add_subjects, monkeypatch):
    from trialdesk.enrollment import views

    monkeypatch.setattr(views, "SITE_ROWS_PER_PAGE", 4)
    _many_sites(admin_user, study, 3, activate, add_subjects)   # 6 sites in all
    client = web(cpm)
    first = html_of(client.get(f"/studies/{study.pk}/enrollment/?sort=site"))
    second = html_of(client.get(f"/studies/{study.pk}/enrollment/?sort=site&page=2"))
    rows = re.findall(r'data-testid="rate-row-([^"]+)"', first) + re.findall(r'data-testid="rate-row-([^"]+)"', second)
    assert len(re.findall(r'data-testid="rate-row-', first)) == 4 and len(rows) == 6 and len(set(rows)) == 6
    assert rows == sorted(rows) and "1–4 of 6" in first
    # A new sort order starts again at its first page.
    link = re.search(r'href="([^"]*)"[^>]*data-testid="sort-enrolled"', second).group(1)
    assert "page=" not in link and "sort=" in link
