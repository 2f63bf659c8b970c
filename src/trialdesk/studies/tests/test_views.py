"""Portfolio and study pages: real requests, real database, content and side effects checked."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from conftest import PASSWORD
from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.signatures.models import Signature
from trialdesk.studies import services
from trialdesk.studies.models import ProtocolVersion, Study


@pytest.fixture
def web(client):
    def _as(user):
        client.force_login(user)
        return client

    return _as


def html_of(response) -> str:
    return response.content.decode()


def study_post_data(study: Study, **changes) -> dict:
    """The general edit form as a browser would submit it unchanged, with `changes` applied."""
    data = {
        "protocol_number": study.protocol_number, "nct_id": study.nct_id or "", "acronym": study.acronym,
        "brief_title": study.brief_title, "official_title": study.official_title, "summary": study.summary,
        "study_type": study.study_type, "therapeutic_area": study.therapeutic_area,
        "planned_enrollment": study.planned_enrollment or "", "sponsor": study.sponsor_id or "",
        "phases": study.phases, "conditions": "\r\n".join(study.conditions), "keywords": "\r\n".join(study.keywords),
        "other_ids": "", "collaborators": [c.pk for c in study.collaborators.all()],
        "allocation": study.allocation, "intervention_model": study.intervention_model,
        "primary_purpose": study.primary_purpose, "masking": study.masking, "who_masked": study.who_masked,
        "version": study.version, "reason": "",
    }
    data.update(changes)
    return data


# --- Portfolio ------------------------------------------------------------------------------------------

def test_portfolio_shows_visible_studies_with_enrollment_sites_and_milestones(web, admin_user, study, sites, make_user):
    other = services.study_create(user=admin_user, data={"protocol_number": "OTHER-1", "brief_title": "Hidden"})
    viewer = make_user(Role.VIEWER, study=study)
    html = html_of(web(viewer).get("/"))
    assert "ACME-301" in html and "BREATHE" in html
    assert other.protocol_number not in html  # not in the viewer's scope
    assert 'data-testid="enrollment-progress"' in html and "0 / 400 (0%)" in html
    assert "Candidate: 3" in html  # the three fixture sites, by status
    # Next milestone: first subject in, planned 2026-03-01.
    assert "First subject in" in html and "2026-03-01" in html
    assert "New study" not in html  # the viewer may not create studies


def test_portfolio_flags_an_overdue_milestone(web, admin_user, cpm):
    services.study_create(user=admin_user, data={"protocol_number": "LATE-1", "brief_title": "Late",
                                                 "planned_first_site_activated": dt.date(2020, 1, 1)})
    html = html_of(web(cpm).get("/"))
    assert 'data-testid="milestone-overdue"' in html
    assert 'data-testid="new-study"' in html  # portfolio CPM may create


def test_portfolio_filters_with_htmx_return_only_the_table(web, admin_user, study, cpm):
    services.study_create(user=admin_user, data={"protocol_number": "ZED-2", "brief_title": "Other one",
                                                 "phases": ["PHASE2"]})
    client = web(cpm)
    full = html_of(client.get("/?phase=PHASE3"))
    assert "<html" in full and "ACME-301" in full and "ZED-2" not in full
    partial = client.get("/?q=zed", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="portfolio-results")
    text = html_of(partial)
    assert "<html" not in text and 'data-testid="portfolio-table"' in text
    assert "ZED-2" in text and "ACME-301" not in text
    # An unknown filter value is ignored, not an error.
    assert client.get("/?status=bogus").status_code == 200


def test_portfolio_query_count_does_not_grow_with_studies(web, admin_user, cpm, django_assert_max_num_queries):
    from trialdesk.organizations.services import organization_create
    from trialdesk.sites.services import site_create

    inst = organization_create(user=admin_user, data={"name": "Inst", "kind": "institution"})

    def add_studies(start, n):
        for i in range(start, start + n):
            s = services.study_create(user=admin_user, data={"protocol_number": f"P-{i}", "brief_title": f"S {i}",
                                                             "planned_enrollment": 10})
            site_create(user=admin_user, study=s, data={"institution": inst, "site_number": "1"})

    client = web(cpm)
    add_studies(0, 2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get("/")
    add_studies(2, 8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "P-9" in html_of(client.get("/"))


# --- Create and edit ----------------------------------------------------------------------------------------

def test_create_study_then_field_errors_are_inline_and_accessible(web, cpm, sponsor):
    client = web(cpm)
    form = html_of(client.get("/studies/new/"))
    assert 'for="id_protocol_number"' in form and 'id="id_protocol_number"' in form
    bad = client.post("/studies/new/", {"protocol_number": "NEW-1", "study_type": "INTERVENTIONAL",
                                        "phases": ["PHASE2"]})
    assert bad.status_code == 422
    html = html_of(bad)
    # The missing title's error sits next to the field and is linked to it.
    assert 'id="id_brief_title_error"' in html
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="id_brief_title"|<input[^>]*id="id_brief_title"'
                     r'[^>]*aria-invalid="true"', html.replace("\n", " "))
    assert 'aria-describedby="id_brief_title_error"' in html
    assert not Study.objects.filter(protocol_number="NEW-1").exists()

    ok = client.post("/studies/new/", {"protocol_number": "NEW-1", "brief_title": "A new study",
                                       "study_type": "INTERVENTIONAL", "phases": ["PHASE2"], "sponsor": sponsor.pk,
                                       "conditions": "Asthma\r\nCOPD", "other_ids": "EudraCT: 2015-001234-12"})
    created = Study.objects.get(protocol_number="NEW-1")
    assert ok.status_code == 302 and ok["Location"] == f"/studies/{created.pk}/"
    assert created.status == "planning" and created.conditions == ["Asthma", "COPD"]
    assert created.other_ids == [{"type": "EudraCT", "id": "2015-001234-12"}]
    assert created.nct_id is None and created.phases == ["PHASE2"]
    assert AuditEvent.objects.filter(record_type="studies.study", record_id=str(created.pk), action="create").exists()


def test_duplicate_protocol_number_is_shown_not_a_500(web, cpm, study):
    response = web(cpm).post("/studies/new/", {"protocol_number": study.protocol_number, "brief_title": "Dup",
                                               "study_type": "INTERVENTIONAL"})
    assert response.status_code in (409, 422)
    assert 'data-testid="form-errors"' in html_of(response)
    assert Study.objects.filter(protocol_number=study.protocol_number).count() == 1


def test_edit_with_reason_is_saved_and_the_audit_tab_shows_reason_and_old_new(web, cpm, study):
    client = web(cpm)
    page = html_of(client.get(f"/studies/{study.pk}/edit/"))
    assert 'id="reason"' in page and 'name="version"' in page and 'for="reason"' in page
    response = client.post(f"/studies/{study.pk}/edit/", study_post_data(
        study, brief_title="A Phase 3 study of acmeximab in severe asthma", reason="Title per protocol v2"))
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.brief_title.endswith("severe asthma") and study.version == 2
    audit = html_of(client.get(f"/studies/{study.pk}/audit/"))
    assert "Title per protocol v2" in audit
    assert "A Phase 3 study of acmeximab in asthma" in audit  # old value
    assert "A Phase 3 study of acmeximab in severe asthma" in audit  # new value
    # Only the edited field was recorded: the unchanged form fields are not a change.
    event = AuditEvent.objects.filter(record_type="studies.study", action="update").get()
    assert set(event.changes) == {"brief_title"}


def test_edit_without_reason_rerenders_with_the_reason_error_and_changes_nothing(web, cpm, study):
    client = web(cpm)
    response = client.post(f"/studies/{study.pk}/edit/", study_post_data(study, brief_title="Changed title"))
    assert response.status_code == 422
    html = html_of(response)
    assert 'data-testid="reason-error"' in html
    assert "A reason for change is required" in html
    assert 'aria-describedby="id_reason_helptext id_reason_error"' in html
    assert 'value="Changed title"' in html  # the user's input is kept
    study.refresh_from_db()
    assert study.brief_title == "A Phase 3 study of acmeximab in asthma" and study.version == 1
    assert not AuditEvent.objects.filter(record_type="studies.study", action="update").exists()


def test_stale_version_shows_the_conflict_message_and_changes_nothing(web, cpm, admin_user, study):
    services.study_update(user=admin_user, study=study, data={"acronym": "BREATHE-2"}, version=1,
                          reason="Someone else")
    response = web(cpm).post(f"/studies/{study.pk}/edit/", study_post_data(
        study, acronym="MINE", brief_title="Mine", version=1, reason="My change"))
    assert response.status_code == 409
    html = html_of(response)
    assert "changed by someone else" in html and "Reload" in html
    study.refresh_from_db()
    assert study.acronym == "BREATHE-2" and study.brief_title != "Mine" and study.version == 2


def test_eligibility_and_key_dates_edit(web, cpm, study):
    client = web(cpm)
    response = client.post(f"/studies/{study.pk}/eligibility/edit/", {
        "eligibility_criteria": "Inclusion:\r\n- Age 18+", "sex": "ALL", "minimum_age": "18 Years",
        "maximum_age": "", "healthy_volunteers": "false", "version": 1, "reason": "Protocol v1.0 criteria"})
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.eligibility_criteria == "Inclusion:\n- Age 18+" and study.healthy_volunteers is False
    assert "Age 18+" in html_of(client.get(f"/studies/{study.pk}/eligibility/"))

    dates = {f"{k}_{m}": "" for m in ("first_site_activated", "first_subject_in", "last_subject_in",
                                      "last_subject_last_visit", "database_lock", "final_report")
             for k in ("planned", "actual")}
    dates.update(planned_first_subject_in="2026-03-01", planned_last_subject_in="2027-06-30",
                 actual_first_site_activated="2026-01-15", version=2, reason="Site activated")
    assert client.post(f"/studies/{study.pk}/dates/edit/", dates).status_code == 302
    study.refresh_from_db()
    assert study.actual_first_site_activated == dt.date(2026, 1, 15)
    html = html_of(client.get(f"/studies/{study.pk}/dates/"))
    assert "2026-01-15" in html and "Achieved" in html


def test_transition_with_reason_and_refusals(web, cpm, study):
    client = web(cpm)
    overview = html_of(client.get(f"/studies/{study.pk}/"))
    assert 'data-testid="transition-form"' in overview
    assert '<option value="start_up">Start-up</option>' in overview
    assert 'value="enrolling"' not in overview  # not allowed from Planning
    no_reason = client.post(f"/studies/{study.pk}/transition/", {"status": "start_up", "version": 1, "reason": ""})
    assert no_reason.status_code == 422 and "A reason for change is required" in html_of(no_reason)
    not_allowed = client.post(f"/studies/{study.pk}/transition/", {"status": "completed", "version": 1,
                                                                   "reason": "Done"})
    assert not_allowed.status_code == 422
    study.refresh_from_db()
    assert study.status == "planning"
    ok = client.post(f"/studies/{study.pk}/transition/", {"status": "start_up", "version": 1,
                                                          "reason": "Start-up approved"})
    assert ok.status_code == 302
    study.refresh_from_db()
    assert study.status == "start_up"
    assert "Start-up approved" in html_of(client.get(f"/studies/{study.pk}/audit/"))


def test_arms_and_interventions(web, cpm, study):
    client = web(cpm)
    assert client.post(f"/studies/{study.pk}/arms/new/", {"label": "Acmeximab 10 mg", "arm_type": "EXPERIMENTAL",
                                                          "description": "", "planned_enrollment": "200"}
                       ).status_code == 302
    arm = study.arms.get()
    assert client.post(f"/studies/{study.pk}/interventions/new/", {
        "name": "Acmeximab", "kind": "DRUG", "description": "", "other_names": "ACM-1", "arms": [arm.pk]}
    ).status_code == 302
    item = study.interventions.get()
    assert list(item.arms.all()) == [arm] and item.other_names == ["ACM-1"]
    html = html_of(client.get(f"/studies/{study.pk}/arms/"))
    assert "Acmeximab 10 mg" in html and "ACM-1" in html
    response = client.post(f"/arms/{arm.pk}/edit/", {"label": "Acmeximab 20 mg", "arm_type": "EXPERIMENTAL",
                                                      "description": "", "planned_enrollment": "200",
                                                      "version": arm.version, "reason": "Dose change"})
    assert response.status_code == 302
    arm.refresh_from_db()
    assert arm.label == "Acmeximab 20 mg"
    missing_reason = client.post(f"/interventions/{item.pk}/edit/", {
        "name": "Acmeximab SC", "kind": "DRUG", "description": "", "other_names": "ACM-1", "arms": [arm.pk],
        "version": item.version, "reason": ""})
    assert missing_reason.status_code == 422 and 'data-testid="reason-error"' in html_of(missing_reason)


# --- Protocol versions and signatures -------------------------------------------------------------------------

@pytest.fixture
def draft(cpm, study):
    return services.protocol_version_create(user=cpm, study=study, data={
        "version_number": "1.0", "version_date": dt.date(2025, 5, 1), "summary_of_changes": "Original"})


def test_approve_with_wrong_password_is_refused_and_shown(web, cpm, draft):
    client = web(cpm)
    page = html_of(client.get(f"/protocol-versions/{draft.pk}/approve/"))
    assert 'type="password"' in page and "Approved" in page  # the meaning is fixed and shown
    response = client.post(f"/protocol-versions/{draft.pk}/approve/", {"password": "wrong", "version": 1,
                                                                       "comment": ""})
    assert response.status_code == 422
    html = html_of(response)
    assert "The password is not correct" in html and 'id="id_password_error"' in html
    draft.refresh_from_db()
    assert draft.status == "draft" and not Signature.objects.exists()
    assert AuditEvent.objects.filter(action="signature_failed", record_id=str(draft.pk)).exists()


def test_approved_version_shows_the_signature_and_a_later_edit_warns(web, cpm, draft):
    client = web(cpm)
    response = client.post(f"/protocol-versions/{draft.pk}/approve/", {"password": PASSWORD, "version": 1,
                                                                       "comment": "OK to submit"})
    assert response.status_code == 302
    draft.refresh_from_db()
    sig = draft.approval_signature
    assert draft.status == "approved" and sig.meaning == "approved"
    html = html_of(client.get(f"/studies/{draft.study_id}/protocol-versions/"))
    assert 'data-testid="signature-name">Cpm Tester<' in html
    assert sig.signed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") + " UTC" in html
    assert 'data-testid="signature-meaning">Approved<' in html
    assert 'data-testid="signature-warning"' not in html

    # Editing the approved content sends it back to draft: the old signature no longer matches.
    edit_page = html_of(client.get(f"/protocol-versions/{draft.pk}/edit/"))
    assert 'data-testid="form-warning"' in edit_page
    response = client.post(f"/protocol-versions/{draft.pk}/edit/", {
        "version_number": "1.0", "version_date": "2025-05-01", "amendment_number": "",
        "summary_of_changes": "Original, corrected", "version": draft.version, "reason": "Typo"})
    assert response.status_code == 302
    html = html_of(client.get(f"/studies/{draft.study_id}/protocol-versions/"))
    assert 'data-testid="signature-warning"' in html and "no longer matches" in html


def test_protocol_version_create_needs_protocol_edit(web, make_user, study):
    finance = make_user(Role.FINANCE, study=study)
    regulatory = make_user(Role.REGULATORY, study=study)
    assert web(finance).get(f"/studies/{study.pk}/protocol-versions/new/").status_code == 403
    client = web(regulatory)
    response = client.post(f"/studies/{study.pk}/protocol-versions/new/", {
        "version_number": "1.0", "version_date": "2025-05-01", "amendment_number": "", "summary_of_changes": ""})
    assert response.status_code == 302
    assert ProtocolVersion.objects.get(study=study).status == "draft"
    # Regulatory may draft but not approve.
    pv = ProtocolVersion.objects.get(study=study)
    assert client.get(f"/protocol-versions/{pv.pk}/approve/").status_code == 403


def test_protocols_tab_query_count_does_not_grow(web, cpm, study, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = web(cpm)

    def add(n, start):
        for i in range(start, start + n):
            pv = services.protocol_version_create(user=cpm, study=study, data={
                "version_number": f"{i}.0", "version_date": dt.date(2025, 1, i)})
            services.protocol_version_approve(user=cpm, protocol_version=pv, password=PASSWORD, version=pv.version)

    add(1, 1)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/studies/{study.pk}/protocol-versions/")
    add(4, 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = html_of(client.get(f"/studies/{study.pk}/protocol-versions/"))
    assert html.count('data-testid="signature"') == 5


# --- Access ------------------------------------------------------------------------------------------------

def test_out_of_scope_user_gets_404_and_in_scope_reader_gets_403_on_edit(web, admin_user, make_user, study):
    other = services.study_create(user=admin_user, data={"protocol_number": "B-2", "brief_title": "Other"})
    outsider = make_user(Role.CPM, study=other)
    assert web(outsider).get(f"/studies/{study.pk}/").status_code == 404
    viewer = make_user(Role.VIEWER, study=study)
    client = web(viewer)
    overview = html_of(client.get(f"/studies/{study.pk}/"))
    assert 'data-testid="edit-study"' not in overview and 'data-testid="transition-form"' not in overview
    response = client.post(f"/studies/{study.pk}/edit/", study_post_data(study, brief_title="X", reason="Y"))
    assert response.status_code == 403
    study.refresh_from_db()
    assert study.brief_title != "X"
    assert web(viewer).get("/studies/999999/").status_code == 404


def test_page_shell_is_accessible_and_serves_htmx_locally(web, cpm, study, sites):
    client = web(cpm)
    html = html_of(client.get(f"/studies/{study.pk}/sites/"))
    assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
    assert 'aria-current="page" data-testid="tab-sites"' in html
    assert '<th scope="col">Institution</th>' in html and '<th scope="row"' in html
    assert 'src="/static/django_htmx/htmx-2.min.js"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "no external assets (no CDN)"
    htmx = client.get("/static/django_htmx/htmx-2.min.js")
    assert htmx.status_code == 200 and b"htmx" in b"".join(htmx.streaming_content)[:2000]


def test_missing_version_is_explained_not_ignored(web, cpm, study):
    data = study_post_data(study, brief_title="No version", reason="Test")
    del data["version"]
    response = web(cpm).post(f"/studies/{study.pk}/edit/", data)
    assert response.status_code == 422 and "version is missing" in html_of(response)
    study.refresh_from_db()
    assert study.brief_title != "No version"
