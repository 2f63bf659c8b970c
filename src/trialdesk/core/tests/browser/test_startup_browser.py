"""Feasibility and start-up in a real browser, on the demo portfolio (demo/startup_demo.py):

* CALMWAVE's tracker: the site x milestone matrix, the timeline SVG, cycle times, the XLSX export; a site in
  start-up whose activation is refused while mandatory milestones are open; a milestone recorded out of order is
  refused, a planned date is saved with a reason.
* KESTREL-1's candidates: the invited site's questionnaire answered and submitted, the ranking updated, a
  selection refused while the milestones before it are open, a "not selected" decision with its reason.
"""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

STARTUP_STUDY = "NVT-2208-201"      # CALMWAVE: sites activated, in start-up, selected
FEASIBILITY_STUDY = "NVT-4412-101"  # KESTREL-1: candidates with submitted / in-progress / invited questionnaires
INVITED_SITE = "3001"               # National Cancer Center Hospital (Japan): invited only
SUBMITTED_SITE = "2101"             # Gustave Roussy: submitted, still a candidate


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()  # the app's dates are UTC


def _login(page, live_app, username="cpm"):
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(live_app.password(username))
    page.get_by_test_id("login-button").click()
    expect(page).to_have_url(re.compile(r"^[^?]*/$"))


def _open_startup(page, protocol: str):
    page.goto(f"/?q={protocol}")
    page.get_by_test_id(f"study-row-{protocol}").get_by_role("link", name=protocol, exact=True).click()
    page.get_by_test_id("tab-startup").click()
    expect(page).to_have_url(re.compile(r"/studies/\d+/startup/$"))


def test_tracker_matrix_timeline_export_and_the_activation_gate(page, live_app):
    _login(page, live_app)
    _open_startup(page, STARTUP_STUDY)
    matrix = page.get_by_test_id("tracker-matrix")
    expect(matrix).to_be_visible()
    expect(matrix.locator("thead")).to_contain_text("Site activated / green light")
    assert matrix.locator("tbody tr").count() >= 5
    expect(matrix.locator('[data-state="overdue"], [data-state="at_risk"]').first).to_be_visible()
    gantt = page.get_by_test_id("tracker-gantt").locator("svg[role=img]")
    expect(gantt).to_be_visible()
    assert gantt.locator("g.gantt-row").count() >= 5
    box = gantt.bounding_box()
    assert box["width"] > 400 and box["height"] > 150
    expect(page.get_by_test_id("cycle-study")).to_contain_text("Study")

    response = page.request.get(page.get_by_test_id("tracker-export").get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert response.body()[:2] == b"PK"  # a zip container, as every XLSX

    # A site in start-up: activation is refused, naming the open mandatory milestones.
    row = matrix.locator("tbody tr", has=page.locator('[data-status="start_up"]')).first
    row.locator("th a").first.click()
    expect(page).to_have_url(re.compile(r"/sites/\d+/startup/$"))
    blockers = page.get_by_test_id("activation-blockers")
    expect(blockers).to_contain_text("Essential documents collected")
    site_url = page.url
    page.get_by_test_id("tab-overview").click()
    form = page.get_by_test_id("transition-form")
    form.locator("#id_status").select_option("activated")
    form.locator("#reason").fill("Green light requested")
    form.get_by_test_id("transition-submit").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(form.locator(".field-errors")).to_contain_text("cannot be activated: open mandatory start-up milestones:")
    expect(page.get_by_test_id("site-status")).to_contain_text("Start-up")

    # The initiation visit cannot be recorded before what it depends on.
    page.goto(site_url)
    page.get_by_test_id("edit-initiation_visit").click()
    form = page.get_by_test_id("milestone-form")
    form.locator("#id_actual_date").fill(_today().isoformat())
    form.locator("#reason").fill("Visit done")
    page.get_by_test_id("save-button").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(form.locator('[data-field="actual_date"] .field-errors')).to_contain_text(
        "cannot be recorded before the milestones it depends on are done")
    # A new planned date for it is fine, with a reason since the site had one.
    planned = (_today() + dt.timedelta(days=40)).isoformat()
    form.locator("#id_actual_date").fill("")
    form.locator("#id_planned_date").fill(planned)
    form.locator("#reason").fill("Rescheduled with the investigator")
    page.get_by_test_id("save-button").click()
    expect(page).to_have_url(re.compile(r"/sites/\d+/startup/$"))
    expect(page.get_by_test_id("milestone-initiation_visit")).to_contain_text(planned)


def test_feasibility_answered_ranked_and_decided(page, live_app):
    _login(page, live_app)
    _open_startup(page, FEASIBILITY_STUDY)
    page.get_by_test_id("section-candidates").click()
    ranking = page.get_by_test_id("candidate-ranking")
    invited = ranking.get_by_test_id(f"candidate-{INVITED_SITE}")
    expect(invited.get_by_test_id("feasibility-status")).to_have_text("Invited")
    expect(ranking).to_contain_text("Submitted")
    expect(ranking).to_contain_text("In progress")

    # The CPM enters the invited site's answers (as the site sent them) and submits.
    invited.get_by_role("link", name=INVITED_SITE).click()
    form = page.get_by_test_id("answers-form")
    selects = form.locator("select")
    for index in range(selects.count()):
        options = selects.nth(index).locator("option")
        selects.nth(index).select_option(index=1 if options.count() > 1 else 0)
    form.locator("input[inputmode=decimal]").nth(0).fill("6")
    form.locator("input[inputmode=decimal]").nth(1).fill("45")
    form.get_by_test_id("submit-answers").click()
    expect(page.get_by_test_id("feasibility-status")).to_have_text("Submitted")
    expect(page.get_by_test_id("feasibility-score")).to_contain_text("of 100")
    expect(page.get_by_test_id("answers-table")).to_be_visible()

    # Back to the ranking: the site now has a rank.
    _open_startup(page, FEASIBILITY_STUDY)
    page.get_by_test_id("section-candidates").click()
    rank = page.get_by_test_id(f"candidate-{INVITED_SITE}").locator("td").first
    expect(rank).not_to_have_text("—")

    # Selecting a candidate needs the milestones before selection; "not selected" needs only a reason.
    page.get_by_test_id(f"decide-{SUBMITTED_SITE}").click()
    page.get_by_label("Selected", exact=True).check()
    page.locator("#reason").fill("Best score")
    page.get_by_test_id("save-button").click()
    expect(page.get_by_test_id("form-errors")).to_contain_text("cannot be selected: the start-up milestones before "
                                                               "selection are open")
    page.get_by_label("Not selected", exact=True).check()
    page.locator("#reason").fill("Competing KRAS study at the site")
    page.get_by_test_id("save-button").click()
    expect(page.get_by_test_id("site-status")).to_contain_text("Not selected")
    expect(page.get_by_test_id("feasibility-card")).to_contain_text("Competing KRAS study at the site")
