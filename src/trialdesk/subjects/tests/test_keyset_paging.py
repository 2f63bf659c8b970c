"""Keyset paging of the screening log (API `cursor`, page `?cursor=`): every row once, in order, both ways,
in a fixed number of queries however deep the page; bad cursors are a 422 (API) or the first page (web)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from trialdesk.core.keyset import decode_cursor, encode_cursor
from trialdesk.subjects.tests.conftest import SCREENED

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(admin_user, site, sites):
    """23 subjects over two sites (15 at site 001, 8 at site 002), numbered by the default pattern."""
    from trialdesk.subjects.services import subject_create
    from trialdesk.subjects.tests.conftest import activate

    other = activate(admin_user, sites[1])
    made = [subject_create(user=admin_user, site=site, status="screened", on=SCREENED) for _ in range(15)]
    made += [subject_create(user=admin_user, site=other, status="screened", on=SCREENED) for _ in range(8)]
    return sorted(s.subject_number for s in made)


def _walk(client, study, limit, start_cursor=None):
    numbers, cursor, pages = [], start_cursor, 0
    while True:
        params = {"study_id": study.pk, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/api/v1/subjects", params).json()
        numbers += [s["subject_number"] for s in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return numbers, pages, body


def test_api_cursor_walks_every_subject_once_in_order(api_client, admin_user, study, log):
    client = api_client(admin_user)
    numbers, pages, last = _walk(client, study, limit=5)
    assert numbers == log
    assert pages == 5
    assert last["count"] == 23
    # Walking back from the last page with previous_cursor gives the same rows in the same order.
    back, cursor = [], last["previous_cursor"]
    while cursor:
        body = client.get("/api/v1/subjects", {"study_id": study.pk, "limit": 5, "cursor": cursor}).json()
        back = [s["subject_number"] for s in body["items"]] + back
        cursor = body["previous_cursor"]
    assert back == log[:20]


def test_offset_page_hands_out_the_cursor_of_the_next_page(api_client, admin_user, study, log):
    client = api_client(admin_user)
    by_offset = client.get("/api/v1/subjects", {"study_id": study.pk, "limit": 5, "offset": 5}).json()
    assert [s["subject_number"] for s in by_offset["items"]] == log[5:10]
    after = client.get("/api/v1/subjects", {"study_id": study.pk, "limit": 5,
                                            "cursor": by_offset["next_cursor"]}).json()
    assert [s["subject_number"] for s in after["items"]] == log[10:15]
    assert decode_cursor(after["next_cursor"], 2).position == 15


def test_deep_page_costs_the_same_queries_as_the_first(api_client, admin_user, study, log):
    client = api_client(admin_user)
    first = client.get("/api/v1/subjects", {"study_id": study.pk, "limit": 2}).json()
    with CaptureQueriesContext(connection) as at_start:
        client.get("/api/v1/subjects", {"study_id": study.pk, "limit": 2, "cursor": first["next_cursor"]})
    deep = encode_cursor((study.pk, log[18]), position=19)
    with CaptureQueriesContext(connection) as deep_queries:
        body = client.get("/api/v1/subjects", {"study_id": study.pk, "limit": 2, "cursor": deep}).json()
    assert [s["subject_number"] for s in body["items"]] == log[19:21]
    assert len(deep_queries) == len(at_start)
    page_sql = [q["sql"] for q in deep_queries.captured_queries if "LIMIT" in q["sql"]]
    assert page_sql and "OFFSET" not in page_sql[-1]


@pytest.mark.parametrize("cursor", ["garbage", "eyJrIjpbMV19", encode_cursor((1,)), "x" * 600,
                                    encode_cursor((1, "a\x00b"))])
def test_bad_cursor_is_422(api_client, admin_user, study, log, cursor):
    response = api_client(admin_user).get("/api/v1/subjects", {"study_id": study.pk, "cursor": cursor})
    assert response.status_code == 422
    assert "cursor" in response.json()["errors"]


def test_cursor_respects_visibility(api_client, make_user, study, site, log):
    """A user limited to site 001 pages through site 001's subjects only, whatever the cursor says."""
    from trialdesk.accounts.roles import Role

    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[site], username="coord-paging")
    numbers, _pages, last = _walk(api_client(coordinator), study, limit=4)
    assert numbers == [n for n in log if n.startswith(site.site_number)]
    assert last["count"] == 15


def test_web_log_pages_by_cursor(web, admin_user, study, log, monkeypatch):
    from trialdesk.subjects import views

    monkeypatch.setattr(views, "PAGE_SIZE", 10)
    client = web(admin_user)
    url = reverse("study-subjects", args=[study.pk])
    first = client.get(url)
    assert first.status_code == 200
    page = first.context["page"]
    assert [s.subject_number for s in page.object_list] == log[:10]
    assert b"1\xe2\x80\x9310 of 23" in first.content
    second = client.get(url, {"cursor": page.next_cursor})
    page2 = second.context["page"]
    assert [s.subject_number for s in page2.object_list] == log[10:20]
    assert page2.number == 2 and page2.num_pages == 3
    assert f"cursor={page2.next_cursor}".encode() in second.content
    back = client.get(url, {"cursor": page2.previous_cursor}).context["page"]
    assert [s.subject_number for s in back.object_list] == log[:10]
    # A tampered cursor shows the first page instead of an error; the old ?page= still works.
    assert [s.subject_number for s in client.get(url, {"cursor": "nope"}).context["page"].object_list] == log[:10]
    assert [s.subject_number for s in client.get(url, {"page": 3}).context["page"].object_list] == log[20:]


def test_web_status_filter_counts_only_that_status(web, admin_user, study, log):
    client = web(admin_user)
    response = client.get(reverse("study-subjects", args=[study.pk]), {"status": "pre_screened"})
    assert response.context["page"].count == 0
    response = client.get(reverse("study-subjects", args=[study.pk]), {"status": "screened"})
    assert response.context["page"].count == 23


def test_quick_select_renders_like_django_select():
    """The filter forms' QuickSelect writes the same options, selection and escaping as forms.Select."""
    import re

    from django import forms

    from trialdesk.core.views_utils import QuickSelect

    choices = [("", "Any site"), (3, "001 <b>&"), (12, "002")]

    def options(html):
        return re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', html)

    for value in (None, "", 12, "3"):
        ours = QuickSelect(choices=choices).render("site", value, attrs={"id": "id_site"})
        django = forms.Select(choices=choices).render("site", value, attrs={"id": "id_site"})
        assert options(ours) == options(django)
        assert ours.startswith('<select name="site" id="id_site">') or ours.startswith('<select id="id_site" name')
    assert "001 &lt;b&gt;&amp;" in QuickSelect(choices=choices).render("site", None)


def test_deleted_site_or_study_takes_its_subjects_out_of_list_and_count(api_client, admin_user, study, sites, log):
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_delete
    from trialdesk.studies.services import study_delete

    client = api_client(admin_user)
    other = StudySite.objects.get(pk=sites[1].pk)
    site_delete(user=admin_user, site=other, version=other.version, reason="closed by mistake")
    body = client.get("/api/v1/subjects", {"limit": 100}).json()
    assert body["count"] == 15 and all(s["site"]["site_number"] == sites[0].site_number for s in body["items"])
    study.refresh_from_db()
    study_delete(user=admin_user, study=study, version=study.version, reason="test study")
    assert client.get("/api/v1/subjects", {"limit": 100}).json() == {"items": [], "count": 0, "next_cursor": None,
                                                                      "previous_cursor": None}
