""""My work" in a real browser on the demo portfolio: the top-bar link, items grouped by severity and study,
the htmx filters, and following an item to where the work is done."""

from __future__ import annotations

import re

from playwright.sync_api import expect

STUDY = "NVT-1150-301"  # the demo's enrolling study that is behind plan


def _login(page, live_app, username):
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(live_app.password(username))
    page.locator("input[name=password]").press("Enter")
    expect(page).to_have_url(re.compile(r"^[^?]*/$"))


def test_my_work_lists_filters_and_leads_to_the_work(page, live_app):
    _login(page, live_app, "cpm")
    page.get_by_test_id("nav-my-work").click()
    expect(page).to_have_url(re.compile(r"/my-work/$"))
    expect(page.get_by_role("heading", level=1, name="My work")).to_be_visible()
    expect(page.get_by_test_id("nav-my-work")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("work-counts")).to_be_visible()
    expect(page.get_by_test_id("work-notices")).to_have_count(0)  # every area's provider answered

    # Late start-up milestones of the demo's start-up study are overdue for the CPM (they hold startup.edit).
    overdue = page.get_by_test_id("work-group-overdue")
    expect(overdue.locator('[data-kind="startup.milestone_overdue"]').first).to_be_visible()

    # The CPM plans enrollment: the behind-plan study's critical warnings are due.
    due = page.get_by_test_id("work-group-due")
    expect(due).to_be_visible()
    behind = due.locator('[data-testid="work-item"][data-kind="enrollment.late_median"]')
    expect(behind).to_have_count(1)
    expect(behind).to_contain_text("Behind plan")
    expect(due.locator("table caption", has_text=STUDY)).to_have_count(1)

    # Filter to one kind: htmx swaps the results and keeps the filter in the URL.
    total = page.get_by_test_id("work-item").count()
    page.locator("#id_kind").select_option("enrollment.slow_site")
    expect(page).to_have_url(re.compile(r"kind=enrollment\.slow_site"))
    expect(page.get_by_test_id("work-shown")).to_contain_text("match the filters")
    kinds = page.get_by_test_id("work-item").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert kinds and set(kinds) == {"enrollment.slow_site"} and len(kinds) < total
    page.locator("#id_kind").select_option("")
    expect(page.get_by_test_id("work-item")).to_have_count(total)

    # Follow the item to the study's enrollment page.
    page.get_by_test_id("work-group-due").locator('[data-kind="enrollment.late_median"] a').first.click()
    expect(page).to_have_url(re.compile(r"/studies/\d+/enrollment/$"))
    expect(page.get_by_test_id("enrollment-warnings")).to_contain_text("Behind plan")


def test_the_investigator_signs_delegations_from_my_work(page, live_app):
    _login(page, live_app, "investigator")
    page.get_by_test_id("nav-my-work").click()
    expect(page.get_by_role("heading", level=1, name="My work")).to_be_visible()
    expect(page.locator('[data-kind^="enrollment."]')).to_have_count(0)  # warnings go to those who plan
    sign = page.locator('[data-testid="work-item"][data-kind="staff.delegation_unsigned"]')
    expect(sign.first).to_contain_text("Sign")
    sign.first.locator("a").click()
    expect(page).to_have_url(re.compile(r"/sites/\d+/staff/$"))


def test_a_viewer_has_nothing_to_do(page, live_app):
    _login(page, live_app, "viewer")
    page.get_by_test_id("nav-my-work").click()
    expect(page.get_by_test_id("work-empty")).to_contain_text("Nothing needs your attention right now.")
