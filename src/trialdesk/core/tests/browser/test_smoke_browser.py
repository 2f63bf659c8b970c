"""Smoke test of the browser-test plumbing: the real app, served by gunicorn, in Debian Chromium."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect


def test_health_endpoint_answers_json(page, live_app):
    response = page.goto("/healthz")
    assert response.status == 200
    assert json.loads(page.locator("body").inner_text()) == {"status": "ok"}


def test_anonymous_visit_is_sent_to_the_login_page(page, live_app):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=(/|%2F)$"))


def test_login_page_has_the_login_form(page, live_app):
    response = page.goto("/login/")
    assert response.status == 200
    expect(page).to_have_title(re.compile("Trialdesk"))
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("input[name=password][type=password]")).to_be_visible()


def test_a_demo_login_reaches_the_portfolio(page, live_app):
    """The live app carries the demo portfolio and the logins from its demo-credentials file."""
    page.goto("/login/")
    page.locator("input[name=username]").fill("cpm")
    page.locator("input[name=password]").fill(live_app.password("cpm"))
    page.locator("input[name=password]").press("Enter")
    expect(page).to_have_url(re.compile(r"^[^?]*/$"))
    expect(page.get_by_text("NVT-1150-301").first).to_be_visible()
