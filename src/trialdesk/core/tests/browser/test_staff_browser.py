"""Site staff and the delegation log in a real browser on the demo portfolio: the investigator follows "My work"
to their site's delegation log, is told what is missing for an untrained sub-investigator, signs a trained
nurse's delegation with their password, and prints the log."""

from __future__ import annotations

import io
import re

from playwright.sync_api import expect
from pypdf import PdfReader


def _login(page, live_app, username):
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(live_app.password(username))
    page.locator("input[name=password]").press("Enter")
    expect(page).to_have_url(re.compile(r"^[^?]*/$"))


def test_investigator_signs_the_delegation_log(page, live_app):
    _login(page, live_app, "investigator")
    page.get_by_test_id("nav-my-work").click()
    item = page.locator('[data-testid="work-item"][data-kind="staff.delegation_unsigned"]')
    expect(item).to_have_count(1)
    expect(item).to_contain_text("delegations — site 2001")
    item.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/sites/\d+/staff/$"))
    expect(page.get_by_test_id("tab-staff")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("staff-roster")).to_contain_text("Principal investigator")
    log = page.get_by_test_id("delegation-log")
    expect(log.locator('tr[data-status="active"]').first).to_be_visible()  # signed before the first subject

    # The sub-investigator is not trained yet: the log and the sign page say so, and signing is refused.
    blocked = log.locator('tr[data-status="pending"]', has_text="Sub-investigator").first
    expect(blocked).to_contain_text("Protocol training for NVT-1150-301 protocol version")
    blocked.get_by_role("link", name="Sign").click()
    expect(page.get_by_test_id("sign-blockers")).to_contain_text("is not complete")
    page.locator("#signature-password").fill(live_app.password("investigator"))
    page.get_by_test_id("sign-button").click()
    errors = page.get_by_test_id("form-errors")
    expect(errors).to_contain_text("The change was not saved")
    expect(errors).to_contain_text("Protocol training for NVT-1150-301 protocol version")
    expect(errors).not_to_contain_text("Reload the current version")  # not a stale record

    # The study nurse is trained: her pending delegation is signed with the investigator's password.
    page.get_by_role("link", name="Cancel").click()
    nurse_row = page.get_by_test_id("delegation-log").locator('tr[data-status="pending"]',
                                                              has_text="Process samples")
    expect(nurse_row).to_have_count(1)
    row_id = nurse_row.get_attribute("data-testid")
    nurse_row.get_by_role("link", name="Sign").click()
    expect(page.get_by_test_id("signature-meaning-fixed")).to_have_text("Approved")
    expect(page.get_by_test_id("signed-content")).to_contain_text("Process samples")
    page.locator("#signature-password").fill("not my password")
    page.get_by_test_id("sign-button").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.locator(".field--error")).to_contain_text("The password is not correct")
    page.locator("#signature-password").fill(live_app.password("investigator"))
    page.get_by_test_id("sign-button").click()
    expect(page).to_have_url(re.compile(r"/sites/\d+/staff/$"))
    signed = page.get_by_test_id(row_id)
    expect(signed).to_have_attribute("data-status", "active")
    expect(signed).to_contain_text("Signed")
    expect(signed.locator('[data-testid^="signature-"]')).to_contain_text("UTC")

    # The printable log shows the signature.
    with page.expect_download() as download:
        page.get_by_test_id("log-export-pdf").click()
    content = open(download.value.path(), "rb").read()  # noqa: SIM115 - a temporary download
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).split())
    assert "Site Delegation of Authority Log" in text and "NVT-1150-301" in text
    assert "Process samples" in text and "Approved" in text and "UTC" in text


def test_coordinator_proposes_a_delegation(page, live_app):
    _login(page, live_app, "coordinator")
    # Her site's staff tab, through her study's site list.
    page.get_by_test_id("study-row-NVT-1150-301").get_by_role("link", name="NVT-1150-301", exact=True).click()
    page.get_by_test_id("tab-sites").click()
    page.get_by_role("link", name="1001", exact=True).click()
    page.get_by_test_id("tab-staff").click()
    expect(page.get_by_test_id("staff-roster")).to_contain_text("Study coordinator")
    page.get_by_test_id("propose-delegation").click()
    staff = page.locator("#id_staff")
    option = staff.locator("option", has_text="Study coordinator")
    staff.select_option(option.first.get_attribute("value"))
    page.locator('input[name="tasks"][value="query_resolution"]').check()
    page.get_by_test_id("save-button").click()
    expect(page).to_have_url(re.compile(r"/sites/\d+/staff/$"))
    expect(page.get_by_test_id("messages")).to_contain_text("1 delegation proposed")
    row = page.get_by_test_id("delegation-log").locator('tr[data-status="pending"]', has_text="Resolve data queries")
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name="Sign")).to_have_count(0)  # only the site's PI signs
