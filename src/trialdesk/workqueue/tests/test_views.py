"""The "My work" page: grouped by severity and study, filters, counts, notices, the top-bar link."""

from __future__ import annotations

import re

import pytest

from trialdesk.workqueue import registry

T = "trialdesk.workqueue.tests.providers."


@pytest.fixture
def providers(monkeypatch):
    monkeypatch.setattr(registry, "PROVIDERS", ["trialdesk.enrollment.work.work_items", T + "general"])


def _text(html: bytes) -> str:
    return re.sub(r"\s+", " ", html.decode())


def test_page_groups_items_by_severity_then_study(warned_study, cpm, web, providers):
    response = web(cpm).get("/my-work/")
    assert response.status_code == 200
    html = _text(response.content)
    assert 'data-testid="nav-my-work" aria-current="page"' in html
    order = [html.index(f'data-testid="work-group-{s}"') for s in ("overdue", "due", "info")]
    assert order == sorted(order)
    assert f'data-testid="work-table-due-{warned_study.pk}"' in html
    assert 'data-testid="work-table-overdue-none"' in html and "Not about one study" in html
    assert "No enrollment: site 003" in html and "Submit your expenses" in html
    assert f'href="/studies/{warned_study.pk}/enrollment/"' in html
    assert re.search(r'data-severity="overdue"><div class="label">Overdue</div><div class="value">1</div>', html)
    assert "Enrollment: No enrollment" in html  # the provider's own kind label


def test_filters(warned_study, cpm, web, providers):
    client = web(cpm)
    html = _text(client.get("/my-work/", {"kind": "other"}).content)
    assert "Submit your expenses" in html and "No enrollment: site 003" not in html
    assert "3 of " in html and "match the filters" in html
    html = _text(client.get("/my-work/", {"study": warned_study.pk, "severity": "due"}).content)
    assert "No enrollment: site 003" in html and "Submit your expenses" not in html
    html = _text(client.get("/my-work/", {"study": warned_study.pk, "severity": "overdue"}).content)
    assert "No items match these filters." in html
    # htmx asks for the results only
    partial = _text(client.get("/my-work/", {"kind": "other"}, HTTP_HX_REQUEST="true",
                               HTTP_HX_TARGET="work-results").content)
    assert "Submit your expenses" in partial and "<html" not in partial


def test_unknown_filter_values_are_ignored(warned_study, cpm, web, providers):
    response = web(cpm).get("/my-work/", {"study": "999999", "kind": "nonsense", "severity": "urgent"})
    assert response.status_code == 200
    assert "Submit your expenses" in _text(response.content)


def test_nothing_to_do(make_user, web, monkeypatch):
    monkeypatch.setattr(registry, "PROVIDERS", ["trialdesk.enrollment.work.work_items"])
    html = _text(web(make_user()).get("/my-work/").content)
    assert "Nothing needs your attention right now." in html and 'data-testid="work-filters"' not in html


def test_a_failing_provider_shows_a_notice(warned_study, cpm, web, monkeypatch):
    monkeypatch.setattr(registry, "PROVIDERS", [T + "broken", "trialdesk.enrollment.work.work_items"])
    html = _text(web(cpm).get("/my-work/").content)
    assert 'data-testid="work-notices"' in html and "This list may be incomplete" in html
    assert "No enrollment: site 003" in html


def test_every_page_links_to_my_work(cpm, web, providers):
    html = _text(web(cpm).get("/").content)
    assert 'href="/my-work/" data-testid="nav-my-work">My work</a>' in html


def test_anonymous_is_sent_to_login(client):
    response = client.get("/my-work/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
