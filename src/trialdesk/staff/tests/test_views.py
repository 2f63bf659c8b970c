"""Staff pages: the site's "Staff & delegation" tab, roster and delegation forms, the signature page, exports."""

from __future__ import annotations

import datetime as dt

from conftest import PASSWORD
from trialdesk.staff.models import Delegation, SiteStaff


def html_of(response) -> str:
    return response.content.decode()


def test_the_tab_shows_roster_log_flags_and_what_is_missing(web, coordinator, site, nurse, propose, protocol,
                                                            admin_user):
    from trialdesk.staff.services import site_staff_update

    site_staff_update(user=admin_user, staff=nurse, data={"gcp_expiry": dt.date.today() + dt.timedelta(days=10)},
                      version=nurse.version, reason="renewal due")
    pending = propose(nurse)
    client = web(coordinator)
    detail = html_of(client.get(f"/sites/{site.pk}/"))
    assert f'href="/sites/{site.pk}/staff/"' in detail and 'data-testid="tab-staff"' in detail
    html = html_of(client.get(f"/sites/{site.pk}/staff/"))
    assert 'data-testid="staff-roster"' in html and "Nora Nurse, RN" in html and "Pi Tester" in html
    assert "GCP certificate expiring" in html and "no GCP certificate" in html  # the PI has none recorded
    assert f'data-testid="delegation-{pending.pk}"' in html and "Pending signature" in html
    assert "Protocol training for ACME-301 protocol version 1.0 is not complete." in html
    assert f'data-testid="sign-{pending.pk}"' not in html  # the coordinator does not sign
    assert 'data-testid="add-staff"' in html and 'data-testid="propose-delegation"' in html
    assert f"/sites/{site.pk}/staff/delegation-log.pdf" in html and f"/sites/{site.pk}/staff/roster.xlsx" in html


def test_add_and_edit_roster_entries(web, coordinator, site, nurse_person):
    client = web(coordinator)
    page = client.get(f"/sites/{site.pk}/staff/new/")
    assert page.status_code == 200 and "Nora Nurse, RN" in html_of(page)
    bad = client.post(f"/sites/{site.pk}/staff/new/", {"person": nurse_person.pk, "role": "other",
                                                        "start_date": "2026-01-01"})
    assert bad.status_code == 422 and "Say what the role is." in html_of(bad)
    made = client.post(f"/sites/{site.pk}/staff/new/", {
        "person": nurse_person.pk, "role": "study_nurse", "start_date": "2026-01-01",
        "gcp_certificate_date": "2025-11-01", "gcp_expiry": "2028-11-01"})
    assert made.status_code == 302 and made["Location"] == f"/sites/{site.pk}/staff/"
    staff = SiteStaff.objects.get(person=nurse_person)
    form = html_of(client.get(f"/staff/{staff.pk}/edit/"))
    assert 'value="2028-11-01"' in form
    no_reason = client.post(f"/staff/{staff.pk}/edit/", {"role": "study_nurse", "start_date": "2026-01-01",
                                                          "gcp_certificate_date": "2025-11-01",
                                                          "gcp_expiry": "2029-11-01", "version": 1})
    assert no_reason.status_code == 422
    saved = client.post(f"/staff/{staff.pk}/edit/", {"role": "study_nurse", "start_date": "2026-01-01",
                                                      "gcp_certificate_date": "2025-11-01",
                                                      "gcp_expiry": "2029-11-01", "version": 1,
                                                      "reason": "renewed certificate"})
    assert saved.status_code == 302
    staff.refresh_from_db()
    assert staff.gcp_expiry == dt.date(2029, 11, 1) and staff.version == 2


def test_propose_sign_and_end_through_the_pages(web, coordinator, pi, site, nurse, train, protocol):
    client = web(coordinator)
    page = html_of(client.get(f"/sites/{site.pk}/delegations/new/?staff={nurse.pk}"))
    assert "Nora Nurse, RN · Study nurse" in page and "Pi Tester" not in page  # the PI is not delegated to
    bad = client.post(f"/sites/{site.pk}/delegations/new/", {"staff": nurse.pk, "tasks": ["study_specific"],
                                                              "start_date": "2026-02-01"})
    assert bad.status_code == 422 and "Describe the study-specific task." in html_of(bad)
    made = client.post(f"/sites/{site.pk}/delegations/new/", {"staff": nurse.pk,
                                                               "tasks": ["informed_consent", "eligibility"],
                                                               "start_date": "2026-02-01"})
    assert made.status_code == 302
    consent, eligibility = Delegation.objects.filter(staff=nurse).order_by("id")
    signer = web(pi)
    untrained = signer.get(f"/delegations/{consent.pk}/sign/")
    assert 'data-testid="sign-blockers"' in html_of(untrained)
    refused = signer.post(f"/delegations/{consent.pk}/sign/", {"password": PASSWORD, "version": 1})
    assert refused.status_code == 422 and "Protocol training for ACME-301 protocol version 1.0 is not complete." \
        in html_of(refused)
    train(nurse.person)
    wrong = signer.post(f"/delegations/{consent.pk}/sign/", {"password": "nope", "version": 1})
    assert wrong.status_code == 422 and "The password is not correct." in html_of(wrong)
    signed = signer.post(f"/delegations/{consent.pk}/sign/", {"password": PASSWORD, "version": 1})
    assert signed.status_code == 302
    consent.refresh_from_db()
    assert consent.status == "active" and consent.signature.signer == pi
    tab = html_of(signer.get(f"/sites/{site.pk}/staff/"))
    assert f'data-testid="sign-{eligibility.pk}"' in tab and "Pi Tester" in tab
    again = html_of(signer.get(f"/delegations/{consent.pk}/sign/"))
    assert "Only a delegation pending signature can be signed" in again
    ended = client.post(f"/delegations/{consent.pk}/end/", {"ended_on": "2026-06-30", "version": 2,
                                                              "reason": "moved ward"})
    assert ended.status_code == 302
    consent.refresh_from_db()
    assert consent.status == "ended" and consent.ended_on == dt.date(2026, 6, 30)
    blocked = html_of(client.get(f"/delegations/{consent.pk}/end/"))
    assert 'data-testid="action-blocked"' in blocked
    withdrawn = client.post(f"/delegations/{eligibility.pk}/withdraw/", {"version": 1, "reason": "not needed"})
    assert withdrawn.status_code == 302
    assert "withdrawn (never signed) entry hidden" in html_of(client.get(f"/sites/{site.pk}/staff/"))


def test_the_sign_page_tells_a_non_investigator_why_they_cannot_sign(web, cpm, site, nurse, propose):
    pending = propose(nurse)
    html = html_of(web(cpm).get(f"/delegations/{pending.pk}/sign/"))
    assert "Only the principal investigator of site 001 can sign its delegation log" in html
    assert 'data-testid="signature-form"' not in html
    posted = web(cpm).post(f"/delegations/{pending.pk}/sign/", {"password": PASSWORD, "version": 1})
    assert posted.status_code == 403


def test_exports_from_the_tab(web, coordinator, site, nurse):
    client = web(coordinator)
    pdf = client.get(f"/sites/{site.pk}/staff/delegation-log.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xlsx = client.get(f"/sites/{site.pk}/staff/delegation-log.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert client.get(f"/sites/{site.pk}/staff/delegation-log.doc").status_code == 404
    roster = client.get(f"/sites/{site.pk}/staff/roster.xlsx")
    assert roster.status_code == 200 and "site-staff.xlsx" in roster["Content-Disposition"]
