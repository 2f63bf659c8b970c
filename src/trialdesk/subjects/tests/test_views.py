"""Subject pages: screening-log tabs with filters, subject page and its forms, consent forms, settings, import,
exports, and blinding on pages."""

from __future__ import annotations

import hashlib

from django.core.files.uploadedfile import SimpleUploadedFile

from trialdesk.accounts.roles import Role
from trialdesk.subjects import services
from trialdesk.subjects.models import IcfVersion, ReconsentRequirement, Subject, SubjectSettings
from trialdesk.subjects.tests.conftest import D


def html_of(response) -> str:
    return response.content.decode()


def test_study_subjects_tab_lists_counts_and_filters_with_htmx(web, flow, study, admin_user):
    a, b = flow.new(), flow.consent(flow.new())
    client = web(admin_user)
    overview = html_of(client.get(f"/studies/{study.pk}/"))
    assert f'href="/studies/{study.pk}/subjects/"' in overview and 'data-testid="tab-subjects"' in overview
    html = html_of(client.get(f"/studies/{study.pk}/subjects/"))
    assert f'href="/subjects/{a.pk}/"' in html and b.subject_number in html
    assert 'data-testid="count-screened"' in html and "Screened: 1" in html and "Consented: 1" in html
    partial = client.get(f"/studies/{study.pk}/subjects/?status=consented", HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="subject-results")
    text = html_of(partial)
    assert "<html" not in text and b.subject_number in text and f'/subjects/{a.pk}/"' not in text
    assert "No subjects match" in html_of(client.get(f"/studies/{study.pk}/subjects/?since=2030-01-01"))
    assert a.subject_number in html_of(client.get(f"/studies/{study.pk}/subjects/?since=2025-02-01&until=2025-02-01"))


def test_site_tab_shows_its_log_and_who_must_reconsent(web, flow, site, admin_user, study, icf):
    subject = flow.consent(flow.new())
    form = services.icf_version_create(user=admin_user, study=study, data={
        "version_number": "2.0", "version_date": D(2025, 3, 1), "irb_approval_date": D(2025, 3, 5)})
    services.icf_version_approve(user=admin_user, icf_version=form, version=form.version)
    client = web(flow.user)
    detail = html_of(client.get(f"/sites/{site.pk}/"))
    assert f'href="/sites/{site.pk}/subjects/"' in detail
    html = html_of(client.get(f"/sites/{site.pk}/subjects/"))
    assert f'data-testid="reconsent-{subject.subject_number}"' in html
    assert "Current consent form at this site" in html and "<strong>2.0</strong>" in html


def test_add_subject_with_inline_errors(web, flow, study, site):
    client = web(flow.user)
    page = html_of(client.get(f"/studies/{study.pk}/subjects/new/?site={site.pk}"))
    assert "Charité Berlin" in page and "Mayo Clinic" not in page  # only sites the coordinator may add to
    missing = client.post(f"/studies/{study.pk}/subjects/new/", {"status": "screened"})
    assert missing.status_code == 422 and "This field is required" in html_of(missing)
    future = client.post(f"/studies/{study.pk}/subjects/new/", {"site": site.pk, "status": "screened",
                                                                 "on": "2099-01-01"})
    assert future.status_code == 422 and "is in the future" in html_of(future)
    created = client.post(f"/studies/{study.pk}/subjects/new/", {"site": site.pk, "status": "screened",
                                                                  "on": "2025-02-01"})
    subject = Subject.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/subjects/{subject.pk}/"
    assert subject.subject_number == "001-001"


def test_subject_page_transition_consent_and_randomization(web, flow, arms, make_user, study):
    subject = flow.new()
    client = web(flow.user)
    page = html_of(client.get(f"/subjects/{subject.pk}/"))
    assert 'data-testid="subject-timeline"' in page and 'data-testid="transition-form"' in page
    assert 'data-testid="record-consent"' in page and 'data-testid="randomize"' not in page

    consent_page = html_of(client.get(f"/subjects/{subject.pk}/consents/new/"))
    assert "Coord Tester" in consent_page and "Cra" not in consent_page  # only delegated people are offered
    cra = make_user(Role.CRA, study=study, username="cra")
    icf = IcfVersion.objects.get(status="approved")
    refused = client.post(f"/subjects/{subject.pk}/consents/new/", {
        "icf_version": icf.pk, "consented_on": "2025-02-03", "method": "paper", "obtained_by": cra.person_id})
    assert refused.status_code == 422 and "Select a valid choice" in html_of(refused)
    recorded = client.post(f"/subjects/{subject.pk}/consents/new/", {
        "icf_version": icf.pk, "consented_on": "2025-02-03", "method": "paper", "obtained_by": flow.person.pk})
    assert recorded.status_code == 302
    subject.refresh_from_db()
    assert subject.status == "consented"

    no_person = client.post(f"/subjects/{subject.pk}/transition/", {
        "status": "enrolled", "on": "2025-02-10", "version": subject.version, "reason": "eligible"})
    assert no_person.status_code == 422
    assert "Enrollment needs the investigator who confirmed eligibility." in html_of(no_person)
    enrolled = client.post(f"/subjects/{subject.pk}/transition/", {
        "status": "enrolled", "on": "2025-02-10", "version": subject.version, "reason": "eligible",
        "eligibility_confirmed_by": flow.person.pk})
    assert enrolled.status_code == 302
    subject.refresh_from_db()
    randomized = client.post(f"/subjects/{subject.pk}/randomize/", {
        "arm": arms[0].pk, "randomized_on": "2025-02-11", "version": subject.version, "irt_reference": "R-9"})
    assert randomized.status_code == 302
    page = html_of(client.get(f"/subjects/{subject.pk}/"))
    assert 'data-testid="arm">Acmeximab<' in page and 'data-testid="subject-visits"' in page


def test_blinded_users_see_blinded_on_pages_exports_and_audit(web, flow, arms, make_user, study, site):
    subject = flow.enrolled()
    services.subject_randomize(user=flow.user, subject=subject, arm=arms[1], version=subject.version,
                               randomized_on=D(2025, 2, 11))
    blinded = make_user(Role.CPM, study=study, username="blinded")
    blinded.is_blinded = True
    blinded.save(update_fields=["is_blinded"])
    client = web(blinded)
    for url in (f"/subjects/{subject.pk}/", f"/studies/{study.pk}/subjects/", f"/sites/{site.pk}/subjects/"):
        html = html_of(client.get(url))
        assert 'data-testid="arm-blinded">Blinded<' in html and "Placebo" not in html, url
    export = b"".join(client.get(f"/studies/{study.pk}/subjects/export.csv").streaming_content).decode()
    assert "Blinded" in export and "Placebo" not in export
    randomization = Subject.objects.get(pk=subject.pk).randomization
    audit = html_of(client.get(f"/audit/subjects.randomization/{randomization.pk}/"))
    assert "Blinded" in audit and f"<strong>arm</strong>: ∅ → {arms[1].pk}" not in audit
    csv = b"".join(client.get(f"/audit/subjects.randomization/{randomization.pk}/export.csv")
                   .streaming_content).decode()
    assert ",arm,,Blinded," in csv
    unblinded = b"".join(web(flow.user).get(f"/studies/{study.pk}/subjects/export.csv").streaming_content).decode()
    assert ",Placebo," in unblinded


def test_subject_audit_tab_and_delete(web, flow, site):
    subject = flow.consent(flow.new())
    client = web(flow.user)
    audit = html_of(client.get(f"/subjects/{subject.pk}/audit/"))
    assert 'data-testid="audit-panel"' in audit and "Status changed" in audit and "Consent to form 1.0" in audit
    refused = client.post(f"/subjects/{subject.pk}/delete/", {"version": subject.version, "reason": ""})
    assert refused.status_code == 422
    deleted = client.post(f"/subjects/{subject.pk}/delete/", {"version": subject.version, "reason": "duplicate"})
    assert deleted.status_code == 302 and deleted["Location"] == f"/sites/{site.pk}/subjects/"
    assert Subject.all_objects.get(pk=subject.pk).is_deleted


def test_consent_form_pages_and_approval(web, flow, admin_user, study, protocol):
    subject = flow.consent(flow.new())
    client = web(admin_user)
    listing = html_of(client.get(f"/studies/{study.pk}/consent-forms/"))
    assert 'data-testid="new-icf"' in listing and "No one has to re-consent." in listing
    created = client.post(f"/studies/{study.pk}/consent-forms/new/", {
        "version_number": "2.0", "version_date": "2025-03-01", "protocol_version": protocol.pk})
    assert created.status_code == 302
    icf = IcfVersion.objects.get(version_number="2.0")
    blocked = html_of(client.get(f"/consent-forms/{icf.pk}/approve/"))
    assert 'data-testid="approve-blocked"' in blocked
    edited = client.post(f"/consent-forms/{icf.pk}/edit/", {
        "version_number": "2.0", "version_date": "2025-03-01", "protocol_version": protocol.pk,
        "irb_approval_date": "2025-03-04", "version": icf.version, "reason": "IRB letter"})
    assert edited.status_code == 302
    icf.refresh_from_db()
    approved = client.post(f"/consent-forms/{icf.pk}/approve/", {"version": icf.version}, follow=True)
    assert "Subjects who must re-consent: 1." in html_of(approved)
    assert ReconsentRequirement.objects.get().subject_id == subject.pk
    assert f'data-testid="reconsent-{subject.subject_number}"' in html_of(approved)
    stale = client.post(f"/consent-forms/{icf.pk}/edit/", {"version_number": "2.1", "version_date": "2025-03-01",
                                                           "version": icf.version + 1, "reason": "x"})
    assert stale.status_code == 409 and "Only a draft consent form can be changed." in html_of(stale)


def test_settings_page(web, admin_user, make_user, study):
    viewer = web(make_user(Role.VIEWER, study=study))
    html = html_of(viewer.get(f"/studies/{study.pk}/subjects/settings/"))
    assert "{site}-{seq:03d}" in html and "<form" not in html.split('data-testid="subject-settings"')[1]
    assert 'data-testid="id-example">101-007<' in html
    assert viewer.post(f"/studies/{study.pk}/subjects/settings/", {}).status_code == 403
    client = web(admin_user)
    reasons = "inclusion_not_met: Inclusion criterion not met\nother: Other"
    bad = client.post(f"/studies/{study.pk}/subjects/settings/", {
        "id_pattern": "{seq}", "screen_fail_reasons": reasons, "no_enrollment_alert_days": 60,
        "on_time_probability_threshold": 0.5, "screen_fail_alert_ratio": 1.5, "version": 1, "reason": "x"})
    assert bad.status_code == 422 and "must contain {site}" in html_of(bad)
    ok = client.post(f"/studies/{study.pk}/subjects/settings/", {
        "id_pattern": "S{site}{seq:02d}", "screen_fail_reasons": reasons, "no_enrollment_alert_days": 45,
        "on_time_probability_threshold": 0.5, "screen_fail_alert_ratio": 1.5, "version": 1, "reason": "convention"})
    assert ok.status_code == 302
    settings = SubjectSettings.objects.get(study=study)
    assert settings.id_pattern == "S{site}{seq:02d}" and settings.no_enrollment_alert_days == 45
    assert [r["code"] for r in settings.screen_fail_reasons] == ["inclusion_not_met", "other"]


def test_import_page_dry_run_then_confirm(web, flow, study, site):
    client = web(flow.user)
    page = html_of(client.get(f"/studies/{study.pk}/subjects/import/"))
    assert 'data-testid="template-xlsx"' in page and "eligibility_confirmed_by" in page
    bad = b"site_number,status,screened_on\n001,screened,2025-13-01\n"
    report = client.post(f"/studies/{study.pk}/subjects/import/",
                         {"file": SimpleUploadedFile("log.csv", bad), "action": "check"})
    assert report.status_code == 422
    html = html_of(report)
    assert 'data-testid="import-problem"' in html and "screened_on" in html
    assert "&#x27;2025-13-01&#x27; is not a date (YYYY-MM-DD)." in html and 'data-testid="import-confirm"' not in html

    good = b"site_number,status,screened_on\n001,screened,2025-02-01\n001,pre_screened,\n"
    checked = client.post(f"/studies/{study.pk}/subjects/import/",
                          {"file": SimpleUploadedFile("log.csv", good), "action": "check"},
                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="import-report")
    assert checked.status_code == 200 and "<html" not in html_of(checked)
    assert "row 3, column prescreened_on" not in html_of(checked)  # problems are listed by row in a table
    assert "The date of the status Pre-screened is required." in html_of(checked)

    good = b"site_number,status,screened_on\n001,screened,2025-02-01\n001,screened,2025-02-02\n"
    checked = client.post(f"/studies/{study.pk}/subjects/import/",
                          {"file": SimpleUploadedFile("log.csv", good), "action": "check"})
    digest = hashlib.sha256(good).hexdigest()
    assert checked.status_code == 200 and f'name="digest" value="{digest}"' in html_of(checked)
    assert "Import 2 subjects" in html_of(checked) and not Subject.objects.exists()
    changed = client.post(f"/studies/{study.pk}/subjects/import/", {
        "file": SimpleUploadedFile("log.csv", good + b"001,screened,2025-02-03\n"), "action": "import",
        "digest": digest})
    assert changed.status_code == 409 and "not the file you checked" in html_of(changed)
    assert not Subject.objects.exists()
    forgot = client.post(f"/studies/{study.pk}/subjects/import/", {"action": "import", "digest": digest})
    assert forgot.status_code == 422 and "the same you checked" in html_of(forgot)
    done = client.post(f"/studies/{study.pk}/subjects/import/", {
        "file": SimpleUploadedFile("log.csv", good), "action": "import", "digest": digest})
    assert done.status_code == 302 and done["Location"] == f"/studies/{study.pk}/subjects/"
    assert Subject.objects.count() == 2
    # With htmx the browser navigates to the log instead of swapping it into the report.
    more = b"site_number,status,screened_on\n001,screened,2025-02-05\n"
    done = client.post(f"/studies/{study.pk}/subjects/import/", {
        "file": SimpleUploadedFile("more.csv", more), "action": "import", "digest": hashlib.sha256(more).hexdigest()},
        HTTP_HX_REQUEST="true", HTTP_HX_TARGET="import-report")
    assert done["HX-Redirect"] == f"/studies/{study.pk}/subjects/" and Subject.objects.count() == 3

    csv = client.get(f"/studies/{study.pk}/subjects/import/template.csv")
    assert csv.content.decode().startswith("site_number,subject_number,status")
    assert client.get(f"/studies/{study.pk}/subjects/import/template.pdf").status_code == 404
