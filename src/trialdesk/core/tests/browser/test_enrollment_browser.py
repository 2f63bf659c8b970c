"""The enrollment page in a real browser: the server-rendered chart, its data table, the country switch (htmx)
and the plan editor, on the demo portfolio's enrolling study.

The demo may not carry an enrollment plan; the test then creates one through the plan editor, as a CPM would.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

STUDY = "NVT-1150-301"


def _login(page, live_app, username="cpm"):
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(live_app.password(username))
    page.locator("input[name=password]").press("Enter")
    expect(page).to_have_url(re.compile(r"^[^?]*/$"))


def _open_enrollment(page):
    page.get_by_role("link", name=STUDY).first.click()
    page.get_by_test_id("tab-enrollment").click()
    expect(page).to_have_url(re.compile(r"/studies/\d+/enrollment/$"))


def _ensure_plan(page):
    """Create baseline 1 with an entry per site through the UI when the study has no plan yet."""
    page.get_by_test_id("enrollment-plan-link").click()
    if page.get_by_test_id("no-plan").count():
        page.get_by_test_id("create-plan").click()
        page.get_by_test_id("save-button").click()
        expect(page.get_by_test_id("current-plan")).to_contain_text("baseline 1")
    if page.get_by_test_id("plan-entries").locator("td.empty").count():
        page.get_by_test_id("generate-entries").click()
        page.locator("#id_rate_per_month").fill("1.5")
        page.locator("#id_activation_date").fill("2025-06-01")
        page.get_by_test_id("save-button").click()
        expect(page.get_by_test_id("plan-entries").locator("tbody tr").first).to_contain_text("Site")
    expect(page.get_by_test_id("baseline-history")).to_be_visible()
    page.get_by_role("link", name="Back to enrollment").click()


def test_enrollment_chart_table_and_country_switch(page, live_app):
    _login(page, live_app)
    _open_enrollment(page)
    _ensure_plan(page)

    chart = page.get_by_test_id("enrollment-chart").locator("svg[role=img]")
    expect(chart).to_be_visible()
    expect(chart.locator("title").first).to_contain_text(f"Cumulative enrollment: {STUDY}")
    expect(chart.locator('[data-series="plan-1"]')).to_have_count(1)
    expect(chart.locator('[data-series="forecast"]')).to_have_count(1)
    expect(chart.locator('[data-series="forecast-band"]')).to_have_count(1)
    box = chart.bounding_box()
    assert box["width"] > 400 and box["height"] > 200  # drawn at a readable size, not collapsed
    if int(page.get_by_test_id("stat-enrolled").inner_text()) > 0:
        expect(chart.locator('[data-series="actual"]')).to_have_count(1)

    # The data table behind the chart, for screen readers and anyone who wants the numbers.
    page.locator("details.chart-data summary").click()
    table = page.get_by_test_id("chart-table")
    expect(table).to_be_visible()
    expect(table.locator("thead")).to_contain_text("Forecast median")
    assert table.locator("tbody tr").count() > 3
    expect(page.get_by_test_id("forecast-summary")).to_contain_text("Probability on time")
    expect(page.get_by_test_id("funnel-chart").locator("svg")).to_be_visible()

    # Switching the country swaps the view in place (htmx) and updates the address.
    country = page.locator("#id_country option").nth(1).get_attribute("value")
    page.locator("#id_country").select_option(country)
    expect(page.locator("#forecast-h")).to_contain_text(f"Forecast: {country}")
    expect(page).to_have_url(re.compile(r"country="))
    expect(page.get_by_test_id("study-tabs")).to_have_count(1)  # swapped in place, not a nested page
    rows = page.get_by_test_id("site-rates-table").locator("tbody tr")
    assert rows.count() >= 1

    # Sorting the per-site table by rate.
    page.get_by_test_id("sort-rate").click()
    expect(page).to_have_url(re.compile(r"sort="))
    expect(page.get_by_test_id("site-rates-table")).to_be_visible()


def test_what_if_adds_sites_beside_the_forecast(page, live_app):
    _login(page, live_app)
    _open_enrollment(page)
    _ensure_plan(page)
    page.get_by_test_id("what-if-link").click()
    for i in range(3):
        row = page.get_by_test_id(f"add-site-{i}")
        row.locator("input[name$=label]").fill(f"Extra {i}")
        row.locator("input[name$=planned_activation]").fill("2027-01-01")
        row.locator("input[name$=rate_per_month]").fill("3")
    page.get_by_test_id("run-what-if").click()
    result = page.get_by_test_id("what-if-result")
    expect(result).to_be_visible()
    expect(result.get_by_test_id("what-if-changes")).to_contain_text("New site Extra 0")
    expect(result.get_by_test_id("scenario-forecast")).to_contain_text("Probability on time")
    expect(page.get_by_test_id("what-if-chart").locator('[data-series="scenario"]')).to_have_count(1)
