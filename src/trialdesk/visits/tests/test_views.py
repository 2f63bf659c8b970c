"""Visit pages: schedule editor, calendars (month grid, agenda, htmx), deviations, recording, .ics feeds."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.visits import services
from trialdesk.visits.models import SubjectVisit, VisitDefinition
from trialdesk.visits.selectors import feed_token
from trialdesk.visits.tests.test_ics import props, unfold


@pytest.fixture
def web(client):
    def _as(user):
        client.force_login(user)
        return client

    return _as


def html_of(response) -> str:
    return response.content.decode()


def today():
    return timezone.localdate()


@pytest.fixture
def current(admin_user, protocol, make_subject, sites):
    """Subjects at sites 001 and 002 randomized 22 days ago: V2 (day 14) overdue, V3 (day 28) in 6 days."""
    randomized = today() - dt.timedelta(days=22)
    out = []
    for site in sites[:2]:
        subject = make_subject(site=site, consented_on=randomized - dt.timedelta(days=5),
                               enrolled_on=randomized - dt.timedelta(days=2), randomized_on=randomized,
                               first_dose_on=randomized)
        services.subject_visits_generate(user=admin_user, subject=subject)
        out.append(subject)
    return out


# --- Schedule editor ---------------------------------------------------------------------------------

def test_schedule_page_shows_the_table_and_locks_an_approved_version(web, cpm, protocol):
    html = html_of(web(cpm).get(f"/protocol-versions/{protocol.pk}/schedule/"))
    for code in ("SCR", "V1", "V2", "V3", "FU"):
        assert f'data-testid="definition-{code}"' in html
    assert "Week 4" in html and "Remote / telemedicine" in html and "Optional" in html
    assert 'data-testid="schedule-locked"' in html and "create a new protocol version" in html
    assert 'data-testid="schedule-add-form"' not in html and 'data-testid="edit-V1"' not in html


def test_add_edit_inline_and_remove_on_a_draft(web, cpm, make_protocol):
    pv = make_protocol("2.0", schedule=[], approve=False)
    client = web(cpm)
    html = html_of(client.get(f"/protocol-versions/{pv.pk}/schedule/"))
    assert 'data-testid="schedule-add-form"' in html
    resp = client.post(f"/protocol-versions/{pv.pk}/schedule/new/", {
        "code": "V1", "name": "Baseline", "anchor": "enrollment", "target_day": "0", "window_before": "0",
        "window_after": "2", "modality": "on_site", "required": "on", "order": "1"})
    assert resp.status_code == 302
    d = VisitDefinition.objects.get(protocol_version=pv, code="V1")
    # Duplicate code: the form comes back with the message next to the field.
    resp = client.post(f"/protocol-versions/{pv.pk}/schedule/new/", {
        "code": "v1", "name": "Again", "anchor": "enrollment", "target_day": "3", "window_before": "0",
        "window_after": "0", "modality": "phone", "order": "2"})
    assert resp.status_code == 422 and "already used in this schedule" in html_of(resp)
    # htmx inline edit: the row becomes a form, then a row again.
    row = client.get(f"/visit-definitions/{d.pk}/edit/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"definition-{d.pk}")
    assert row.status_code == 200 and html_of(row).lstrip().startswith("<tr") and "<html" not in html_of(row)
    data = {"code": "V1", "name": "Baseline visit", "anchor": "enrollment", "target_day": "0",
            "window_before": "0", "window_after": "2", "modality": "on_site", "required": "on", "order": "1",
            "version": d.version, "reason": ""}
    missing_reason = client.post(f"/visit-definitions/{d.pk}/edit/", data, HTTP_HX_REQUEST="true",
                                 HTTP_HX_TARGET=f"definition-{d.pk}")
    assert missing_reason.status_code == 200 and "reason for change is required" in html_of(missing_reason)
    saved = client.post(f"/visit-definitions/{d.pk}/edit/", {**data, "reason": "Name per protocol"},
                        HTTP_HX_REQUEST="true", HTTP_HX_TARGET=f"definition-{d.pk}")
    assert saved.status_code == 200 and "Baseline visit" in html_of(saved) and "<form" not in html_of(saved)
    d.refresh_from_db()
    assert d.name == "Baseline visit" and d.version == 2
    # Full-page edit without htmx.
    assert client.get(f"/visit-definitions/{d.pk}/edit/").status_code == 200
    resp = client.post(f"/visit-definitions/{d.pk}/delete/", {"version": d.version, "reason": ""})
    assert resp.status_code == 422
    resp = client.post(f"/visit-definitions/{d.pk}/delete/", {"version": d.version, "reason": "Dropped"})
    assert resp.status_code == 302 and not VisitDefinition.objects.filter(pk=d.pk).exists()


def test_copy_page(web, cpm, protocol, make_protocol):
    draft = make_protocol("2.0", schedule=[], approve=False)
    client = web(cpm)
    html = html_of(client.get(f"/protocol-versions/{draft.pk}/schedule/"))
    assert 'data-testid="schedule-copy-card"' in html and f'value="{protocol.pk}"' in html
    resp = client.post(f"/protocol-versions/{draft.pk}/schedule/copy/", {"source": protocol.pk, "reason": ""})
    assert resp.status_code == 302
    assert VisitDefinition.objects.filter(protocol_version=draft).count() == 5
    resp = client.post(f"/protocol-versions/{draft.pk}/schedule/copy/", {"source": protocol.pk})
    assert resp.status_code == 409 and "already has visits" in html_of(resp)


def test_viewer_cannot_edit_schedule(web, make_user, study, make_protocol):
    pv = make_protocol(approve=False)
    client = web(make_user(Role.VIEWER, study=study))
    html = html_of(client.get(f"/protocol-versions/{pv.pk}/schedule/"))
    assert 'data-testid="schedule-add-form"' not in html
    assert client.post(f"/protocol-versions/{pv.pk}/schedule/new/", {"code": "X"}).status_code == 403


# --- Calendar -----------------------------------------------------------------------------------------

def test_month_calendar_highlights_overdue_and_upcoming(web, cpm, study, current):
    client = web(cpm)
    html = html_of(client.get(f"/studies/{study.pk}/visits/"))
    v2 = SubjectVisit.objects.get(subject=current[0], definition__code="V2")
    v3 = SubjectVisit.objects.get(subject=current[0], definition__code="V3")
    assert today().strftime("%B %Y") in html
    cell = re.search(rf'<td class="([^"]*)" data-date="{today().isoformat()}"', html)
    assert cell and "today" in cell.group(1).split()
    assert f'data-testid="overdue-{v2.pk}"' in html           # overdue list, whatever month is shown
    month_html = html_of(client.get(f"/studies/{study.pk}/visits/?month={v3.planned_on:%Y-%m}"))
    assert re.search(rf'data-flag="upcoming" data-testid="chip-{v3.pk}"', month_html)
    v2_month = html_of(client.get(f"/studies/{study.pk}/visits/?month={v2.planned_on:%Y-%m}"))
    assert re.search(rf'data-flag="overdue" data-testid="chip-{v2.pk}"', v2_month)


def test_month_navigation_with_htmx_and_filters(web, cpm, study, sites, current):
    client = web(cpm)
    v3 = SubjectVisit.objects.get(subject=current[1], definition__code="V3")
    month = f"{v3.planned_on:%Y-%m}"
    partial = client.get(f"/studies/{study.pk}/visits/?month={month}", HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="visit-calendar")
    text = html_of(partial)
    assert partial.status_code == 200 and "<html" not in text and 'data-testid="calendar-grid"' in text
    assert f'data-testid="chip-{v3.pk}"' in text and "hx-get=" in text
    site_only = html_of(client.get(f"/studies/{study.pk}/visits/?month={month}&site={sites[0].pk}"))
    assert f'data-testid="chip-{v3.pk}"' not in site_only
    by_modality = html_of(client.get(f"/studies/{study.pk}/visits/?month={month}&modality=phone"))
    assert f'data-testid="chip-{v3.pk}"' not in by_modality
    agenda = html_of(client.get(f"/studies/{study.pk}/visits/?month={month}&view=agenda"))
    assert f'data-testid="agenda-visit-{v3.pk}"' in agenda and f'data-testid="agenda-{v3.planned_on}"' in agenda
    # Nonsense parameters fall back to the current month rather than failing.
    assert client.get(f"/studies/{study.pk}/visits/?month=0000-13&site=abc&view=x").status_code == 200
    assert client.get(f"/studies/{study.pk}/visits/?month=0001-01").status_code == 200
    assert client.get(f"/studies/{study.pk}/visits/?month=9998-12").status_code == 200


def test_calendar_query_count_is_flat(web, cpm, study, current, make_subject, admin_user, sites):
    client = web(cpm)
    url = f"/studies/{study.pk}/visits/?view=agenda"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(4):
        s = make_subject(site=sites[2], randomized_on=today() - dt.timedelta(days=20),
                         enrolled_on=today() - dt.timedelta(days=22), consented_on=today() - dt.timedelta(days=25))
        services.subject_visits_generate(user=admin_user, subject=s)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) <= len(few) + 1


def test_site_calendar_and_site_scope(web, make_user, study, sites, current):
    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]])
    client = web(coordinator)
    mine = SubjectVisit.objects.get(subject=current[1], definition__code="V2")
    theirs = SubjectVisit.objects.get(subject=current[0], definition__code="V2")
    html = html_of(client.get(f"/sites/{sites[1].pk}/visits/"))
    assert f'data-testid="overdue-{mine.pk}"' in html and f'data-testid="overdue-{theirs.pk}"' not in html
    study_html = html_of(client.get(f"/studies/{study.pk}/visits/"))
    assert f'data-testid="overdue-{theirs.pk}"' not in study_html
    assert client.get(f"/sites/{sites[0].pk}/visits/").status_code == 404
    assert client.get(f"/visits/{theirs.pk}/record/").status_code == 404


# --- Recording --------------------------------------------------------------------------------------------

def test_record_from_the_subject_panel_and_back(web, make_user, study, sites, current):
    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[0]])
    client = web(coordinator)
    v2 = SubjectVisit.objects.get(subject=current[0], definition__code="V2")
    back = f"/studies/{study.pk}/visits/"
    late = today() - dt.timedelta(days=1)
    resp = client.post(f"/visits/{v2.pk}/record/", {"actual_on": late.isoformat(), "modality": "home",
                                                   "version": v2.version, "next": back})
    assert resp.status_code == 302 and resp["Location"] == back
    v2.refresh_from_db()
    assert (v2.status, v2.out_of_window, v2.modality) == ("completed", True, "home")
    follow = html_of(client.get(back))
    assert "outside its window" in follow
    # An off-site redirect target is ignored.
    v3 = SubjectVisit.objects.get(subject=current[0], definition__code="V3")
    resp = client.post(f"/visits/{v3.pk}/record/", {"actual_on": today().isoformat(), "modality": "home",
                                                   "version": v3.version, "next": "https://evil.example/"})
    assert resp.status_code == 302 and resp["Location"] == back


def test_record_errors_show_inline(web, cpm, current):
    client = web(cpm)
    v3 = SubjectVisit.objects.get(subject=current[0], definition__code="V3")
    future = today() + dt.timedelta(days=2)
    resp = client.post(f"/visits/{v3.pk}/record/", {"actual_on": future.isoformat(), "modality": "home",
                                                   "version": v3.version})
    assert resp.status_code == 422 and "cannot be recorded with a date in the future" in html_of(resp)
    resp = client.post(f"/visits/{v3.pk}/record/", {"actual_on": today().isoformat(), "modality": "home",
                                                   "version": v3.version + 5})
    assert resp.status_code == 409 and "changed by someone else" in html_of(resp)
    page = html_of(client.get(f"/visits/{v3.pk}/record/"))
    assert 'name="reason"' not in page   # a first recording asks for no reason
    client.post(f"/visits/{v3.pk}/record/", {"actual_on": today().isoformat(), "modality": "home",
                                             "version": v3.version})
    v3.refresh_from_db()
    assert 'name="reason"' in html_of(client.get(f"/visits/{v3.pk}/record/"))
    resp = client.post(f"/visits/{v3.pk}/record/", {"actual_on": (today() - dt.timedelta(days=1)).isoformat(),
                                                   "modality": "home", "version": v3.version, "reason": ""})
    assert resp.status_code == 422 and "reason for change is required" in html_of(resp)
    resp = client.post(f"/visits/{v3.pk}/record/", {"actual_on": (today() - dt.timedelta(days=1)).isoformat(),
                                                   "modality": "home", "version": v3.version, "reason": "Wrong day"})
    assert resp.status_code == 302
    v3.refresh_from_db()
    assert v3.actual_on == today() - dt.timedelta(days=1) and v3.version == 3


def test_mark_missed_page(web, cpm, study, current):
    client = web(cpm)
    v2 = SubjectVisit.objects.get(subject=current[0], definition__code="V2")
    assert client.post(f"/visits/{v2.pk}/missed/", {"version": v2.version, "reason": ""}).status_code == 422
    resp = client.post(f"/visits/{v2.pk}/missed/", {"version": v2.version, "reason": "Subject travelling"})
    assert resp.status_code == 302
    v2.refresh_from_db()
    assert v2.status == "missed"
    html = html_of(client.get(f"/studies/{study.pk}/visits/deviations/"))
    assert f'data-testid="deviation-{v2.pk}"' in html and "Missed" in html


def test_subject_visits_partial(admin_user, make_user, study, sites, current):
    subject = current[0]
    template = Template('{% include "visits/_subject_visits.html" with subject=subject %}')

    def render(user):
        request = RequestFactory().get(f"/subjects/{subject.pk}/")
        request.user = user
        return template.render(Context({"subject": subject, "request": request}))

    html = render(make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[0]]))
    for code in ("SCR", "V1", "V2", "V3", "FU"):
        assert f'data-testid="subject-visit-{code}"' in html
    assert 'data-testid="record-V3"' in html and 'data-flag="overdue"' in html and "Home visit" in html
    assert f'max="{today().isoformat()}"' in html
    viewer_html = render(make_user(Role.VIEWER, study=study))
    assert 'data-testid="subject-visits-table"' in viewer_html and 'data-testid="record-V3"' not in viewer_html
    assert render(make_user(Role.CRA, study=study, sites=[sites[1]])).strip() == ""


# --- iCalendar --------------------------------------------------------------------------------------------

def events_of(text: str) -> list[dict]:
    events, current = [], None
    for name, params, value in props(unfold(text)):
        if (name, value) == ("BEGIN", "VEVENT"):
            current = {}
        elif (name, value) == ("END", "VEVENT"):
            events.append(current)
            current = None
        elif current is not None:
            current[name] = (params, value)
    return events


def test_study_ics_download(web, cpm, study, current):
    resp = web(cpm).get(f"/studies/{study.pk}/visits.ics")
    assert resp.status_code == 200 and resp["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in resp["Content-Disposition"]
    raw = resp.content
    assert all(len(line) <= 75 for line in raw.split(b"\r\n")) and b"\n" not in raw.replace(b"\r\n", b"")
    events = events_of(raw.decode())
    # Only planned visits whose window is still open: V2's window ended 5 days ago.
    v3 = SubjectVisit.objects.get(subject=current[0], definition__code="V3")
    ev = next(e for e in events if e["UID"][1] == f"trialdesk-subject-visit-{v3.pk}@trialdesk")
    assert ev["DTSTART"] == ("VALUE=DATE", f"{v3.planned_on:%Y%m%d}")
    assert ev["SUMMARY"][1] == f"V3 Week 4 — subject {current[0].subject_number} (site 001)"
    assert "Window:" in ev["DESCRIPTION"][1] and "Modality: Home visit" in ev["DESCRIPTION"][1].replace("\\n", "\n")
    assert re.fullmatch(r"\d{8}T\d{6}Z", ev["DTSTAMP"][1])
    codes = {e["SUMMARY"][1].split()[0] for e in events}
    assert "V2" not in codes and "SCR" not in codes   # windows over: not upcoming
    assert "FU" in codes


def test_feed_by_token_shows_only_visible_sites(make_user, study, sites, current):
    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]])
    anonymous = Client()
    resp = anonymous.get(f"/visits/feed/{feed_token(coordinator)}.ics")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/calendar")
    events = events_of(resp.content.decode())
    assert events and all("(site 002)" in e["SUMMARY"][1] for e in events)
    assert all(current[1].subject_number in e["SUMMARY"][1] for e in events)
    # Forged, altered or dead tokens: 404 and nothing else.
    token = feed_token(coordinator)
    assert anonymous.get(f"/visits/feed/{token[:-2]}xx.ics").status_code == 404
    assert anonymous.get("/visits/feed/eyJ1IjoxfQ:bogus.ics").status_code == 404
    coordinator.is_active = False
    coordinator.save()
    assert anonymous.get(f"/visits/feed/{token}.ics").status_code == 404


def test_feed_follows_revoked_membership(admin_user, make_user, study, sites, current):
    from trialdesk.accounts.models import Membership
    from trialdesk.accounts.services import membership_revoke

    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]])
    url = f"/visits/feed/{feed_token(coordinator)}.ics"
    assert events_of(Client().get(url).content.decode())
    membership = Membership.objects.get(user=coordinator)
    membership_revoke(actor=admin_user, membership=membership, reason="Left the site", version=membership.version)
    assert events_of(Client().get(url).content.decode()) == []


def test_feed_info_page(web, cpm):
    html = html_of(web(cpm).get("/visits/my-feed/"))
    assert f"/visits/feed/{feed_token(cpm)}.ics" in html and "Keep it private" in html
