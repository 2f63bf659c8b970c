"""The foundation in a real browser: sign-in and sign-out, the ClinicalTrials.gov import, an edit that needs a
reason and lands in the audit trail, an electronic signature, and access denial.

All tests share one live demo app, so each one changes a different study: the import creates its own, the edit
changes CALMWAVE, the signature approves KESTREL-1's draft amendment. The demo data (users, memberships, studies)
comes from trialdesk.demo.portfolio, which the live app loaded.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

from playwright.sync_api import expect

from trialdesk.demo import portfolio as demo

CTGOV_RECORD = Path("/work/shared/data/ctgov/NCT06171568.json")
EDIT_STUDY = "NVT-2208-201"        # CALMWAVE
SIGN_STUDY = "NVT-4412-101"        # KESTREL-1: its amendment 1 is a draft in the demo
VIEWER_STUDY = demo.VIEWER_STUDIES[1]
# A demo study the viewer is not a member of.
OUTSIDE_STUDY = next(s.protocol_number for s in demo.STUDIES if s.protocol_number not in demo.VIEWER_STUDIES)
STUDY_URL = re.compile(r"/studies/(\d+)/$")


def _person_name(username: str) -> str:
    spec = next(u for u in demo.USERS if u.username == username)
    return f"{spec.first_name} {spec.last_name}"


def _login(page, live_app, username: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(live_app.password(username))
    page.get_by_test_id("login-button").click()
    expect(page).to_have_url(re.compile(r"^[^?]*/$"))
    expect(page.get_by_test_id("user-menu")).to_be_visible()


def _open_study(page, protocol: str) -> str:
    """Find the study in the portfolio (searched, so paging cannot hide it), open it; returns its URL path."""
    page.goto(f"/?q={protocol}")
    page.get_by_test_id(f"study-row-{protocol}").get_by_role("link", name=protocol, exact=True).click()
    expect(page).to_have_url(STUDY_URL)
    expect(page.get_by_test_id("study-header").locator("h1")).to_contain_text(protocol)
    return STUDY_URL.search(page.url).group(0)


def test_login_rejects_a_wrong_password_then_signs_in_and_out(page, live_app):
    page.goto("/login/")
    page.locator("#id_username").fill("cpm")
    page.locator("#id_password").fill(live_app.password("cpm") + "-wrong")
    page.get_by_test_id("login-button").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("not correct")
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_test_id("user-menu")).to_have_count(0)

    page.locator("#id_password").fill(live_app.password("cpm"))
    page.get_by_test_id("login-button").click()
    expect(page).to_have_url(re.compile(r"^[^?]*/$"))
    expect(page.get_by_role("heading", name="Study portfolio")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_contain_text(_person_name("cpm"))
    rows = page.locator('[data-testid^="study-row-"]')
    expect(rows.first).to_be_visible()
    assert rows.count() >= 5
    for spec in demo.STUDIES[:3]:
        expect(page.get_by_test_id(f"study-row-{spec.protocol_number}")).to_be_visible()

    page.get_by_test_id("logout-button").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
    # The session is really gone: the portfolio asks for a sign-in again.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))


def test_ctgov_import_creates_a_study_with_its_sites_and_rejects_v1(page, live_app, tmp_path):
    record = json.loads(CTGOV_RECORD.read_text(encoding="utf-8"))
    record = copy.deepcopy(record)
    ident = record["protocolSection"]["identificationModule"]
    ident["nctId"] = "NCT09999999"
    ident["orgStudyIdInfo"]["id"] = "TD-BROWSER-0001"
    locations = record["protocolSection"]["contactsLocationsModule"]["locations"]
    locations += [
        {"facility": "Hôpital Pitié-Salpêtrière", "city": "Paris", "zip": "75013", "country": "France"},
        {"facility": "CHU de Bordeaux", "city": "Bordeaux", "zip": "33000", "country": "France"},
    ]
    facilities = [loc["facility"] for loc in locations]
    upload = tmp_path / "NCT09999999.json"
    upload.write_text(json.dumps(record), encoding="utf-8")
    v1 = tmp_path / "classic-v1.json"
    v1.write_text(json.dumps({"FullStudiesResponse": {}}), encoding="utf-8")

    # Importing is portfolio-wide (ctgov.import); the demo's lead CPM holds it.
    _login(page, live_app, "cpm")
    page.get_by_test_id("nav-ctgov-import").click()
    expect(page).to_have_url(re.compile(r"/imports/ctgov/$"))

    page.get_by_test_id("ctgov-files").set_input_files(str(upload))
    page.get_by_test_id("ctgov-import-submit").click()
    results = page.get_by_test_id("import-results")
    expect(results).to_contain_text("1 of 1 file imported")
    row = results.get_by_test_id("import-row")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-nct-id", "NCT09999999")
    expect(row.locator("td").nth(1)).to_have_text("Created")
    expect(row.locator("td").nth(3)).to_have_text("NCT09999999")
    expect(row.locator("td").nth(5)).to_have_text(str(len(facilities)))
    assert len(facilities) == 3  # the record's own location plus the two added

    row.get_by_role("link", name="TD-BROWSER-0001").click()
    expect(page).to_have_url(STUDY_URL)
    header = page.get_by_test_id("study-header")
    expect(header.locator("h1")).to_contain_text("TD-BROWSER-0001")
    expect(header).to_contain_text("NCT09999999")
    expect(page.get_by_test_id("study-identifiers")).to_contain_text("https://clinicaltrials.gov/study/NCT09999999")

    page.get_by_test_id("tab-sites").click()
    sites = page.get_by_test_id("sites-table").locator("tbody tr")
    expect(sites).to_have_count(3)
    for facility in facilities:
        site = sites.filter(has_text=facility)
        expect(site).to_have_count(1)
        expect(site).to_contain_text("Candidate")

    page.get_by_test_id("nav-ctgov-import").click()
    page.get_by_test_id("ctgov-files").set_input_files(str(v1))
    page.get_by_test_id("ctgov-import-submit").click()
    results = page.get_by_test_id("import-results")
    expect(results).to_contain_text("0 of 1 file imported, 1 failed")
    error = results.get_by_test_id("import-error-row")
    expect(error).to_contain_text("classic-v1.json")
    expect(error).to_contain_text("retired ClinicalTrials.gov API v1 format")
    expect(results.get_by_test_id("import-row")).to_have_count(0)


def test_edit_needs_a_reason_and_is_audited_with_it(page, live_app):
    _login(page, live_app, "cpm")
    study_path = _open_study(page, EDIT_STUDY)
    heading = page.get_by_test_id("study-header").locator("h1")
    page.get_by_test_id("edit-study").click()
    expect(page).to_have_url(re.compile(r"/studies/\d+/edit/$"))
    acronym = page.locator("#id_acronym")
    old = acronym.input_value()
    assert old  # CALMWAVE in the demo
    new = f"{old}-B"
    reason = "Acronym aligned with the amended protocol title page."

    acronym.fill(new)
    page.get_by_test_id("save-button").click()
    expect(page.get_by_test_id("reason-error")).to_be_visible()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.locator("#id_acronym")).to_have_value(new)  # the user's input is kept for the retry
    page.goto(study_path)
    expect(heading).to_have_text(f"{EDIT_STUDY} · {old}")

    page.get_by_test_id("edit-study").click()
    page.locator("#id_acronym").fill(new)
    page.locator("#reason").fill(reason)
    page.get_by_test_id("save-button").click()
    expect(page).to_have_url(re.compile(re.escape(study_path) + "$"))
    expect(page.get_by_test_id("messages")).to_contain_text("Changes saved.")
    expect(heading).to_have_text(f"{EDIT_STUDY} · {new}")

    page.get_by_test_id("tab-audit").click()
    expect(page.get_by_test_id("audit-panel")).to_be_visible()
    event = page.get_by_test_id("audit-table").get_by_test_id("audit-event").filter(has_text=new)
    expect(event).to_have_count(1)
    expect(event).to_have_attribute("data-action", "update")
    expect(event.locator(".changes li").filter(has_text="acronym")).to_contain_text(f"{old} → {new}")
    expect(event.get_by_test_id("audit-reason")).to_have_text(reason)
    expect(event).to_contain_text(_person_name("cpm"))


def test_approval_signature_needs_the_right_password(page, live_app):
    _login(page, live_app, "cpm")
    _open_study(page, SIGN_STUDY)
    page.get_by_test_id("tab-protocols").click()
    table = page.get_by_test_id("protocol-versions-table")
    approve = table.locator('[data-testid^="approve-"]').first
    expect(approve).to_be_visible()
    pv_id = approve.get_attribute("data-testid").removeprefix("approve-")
    row = page.get_by_test_id(f"protocol-version-{pv_id}")
    expect(row).to_contain_text("Draft")
    expect(row).to_contain_text("Not signed")

    approve.click()
    form = page.get_by_test_id("signature-form")
    expect(form).to_contain_text(_person_name("cpm"))
    page.locator("#signature-password").fill("not-my-password")
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(form).to_contain_text("The password is not correct. The record was not signed.")
    expect(page.get_by_test_id("approve-card").locator("dl")).to_contain_text("Draft")

    page.get_by_test_id("tab-protocols").click()
    expect(row).to_contain_text("Draft")
    expect(row).to_contain_text("Not signed")
    expect(row.get_by_test_id("signature")).to_have_count(0)

    page.get_by_test_id(f"approve-{pv_id}").click()
    page.locator("#signature-password").fill(live_app.password("cpm"))
    page.get_by_test_id("sign-button").click()
    expect(page).to_have_url(re.compile(r"/studies/\d+/protocol-versions/$"))
    expect(row).to_contain_text("Approved")
    expect(row).not_to_contain_text("Draft")
    expect(page.get_by_test_id(f"approve-{pv_id}")).to_have_count(0)
    signature = row.get_by_test_id("signature")
    expect(signature.get_by_test_id("signature-name")).to_have_text(_person_name("cpm"))
    expect(signature.get_by_test_id("signature-meaning")).to_have_text("Approved")
    expect(signature.get_by_test_id("signature-warning")).to_have_count(0)
    when = signature.get_by_test_id("signature-time")
    expect(when).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$"))
    signed_at = dt.datetime.strptime(when.inner_text(), "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=dt.UTC)
    # Shown in UTC, not server-local time: the same instant as now, within the test's own duration.
    assert abs(dt.datetime.now(dt.UTC) - signed_at) < dt.timedelta(minutes=5)


def test_viewer_cannot_edit_nor_reach_other_studies(page, live_app, browser):
    # The URL of a study outside the viewer's memberships, as the CPM (member of every demo study) sees it.
    cpm_context = browser.new_context(base_url=live_app.base_url)
    try:
        cpm_page = cpm_context.new_page()
        _login(cpm_page, live_app, "cpm")
        outside_path = _open_study(cpm_page, OUTSIDE_STUDY)
    finally:
        cpm_context.close()

    _login(page, live_app, "viewer")
    expect(page.get_by_test_id(f"study-row-{VIEWER_STUDY}")).to_be_visible()
    expect(page.get_by_test_id(f"study-row-{OUTSIDE_STUDY}")).to_have_count(0)

    study_path = _open_study(page, VIEWER_STUDY)
    expect(page.get_by_test_id("study-tabs")).to_be_visible()
    expect(page.get_by_test_id("edit-study")).to_have_count(0)

    response = page.goto(study_path + "edit/")
    assert response.status == 403
    expect(page.get_by_test_id("error-page")).to_contain_text("Access denied")
    expect(page.get_by_test_id("study-form")).to_have_count(0)

    response = page.goto(outside_path)
    assert response.status == 404
    expect(page.get_by_test_id("error-page")).to_contain_text("Not found")
    expect(page.get_by_text(OUTSIDE_STUDY)).to_have_count(0)  # not even the protocol number leaks

    anonymous = browser.new_context(base_url=live_app.base_url)
    try:
        anon_page = anonymous.new_page()
        anon_page.goto(study_path)
        expect(anon_page).to_have_url(re.compile(r"/login/\?next=" + re.escape(study_path.replace("/", "%2F"))
                                                 + "$"))
        expect(anon_page.get_by_test_id("login-form")).to_be_visible()
        expect(anon_page.get_by_test_id("study-header")).to_have_count(0)
    finally:
        anonymous.close()
