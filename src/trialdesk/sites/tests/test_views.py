"""Study-site pages: sites tab with filters, create/edit with reason, transitions, audit tab, scope."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.sites.forms import MILESTONE_FIELDS
from trialdesk.sites.models import StudySite
from trialdesk.sites.services import site_update


@pytest.fixture
def web(client):
    def _as(user):
        client.force_login(user)
        return client

    return _as


def html_of(response) -> str:
    return response.content.decode()


def site_post_data(site: StudySite, **changes) -> dict:
    data = dict.fromkeys(MILESTONE_FIELDS, "")
    data.update({
        "site_number": site.site_number, "institution": site.institution_id,
        "principal_investigator": site.principal_investigator_id or "",
        "target_enrollment": site.target_enrollment or "", "address": site.address, "city": site.city,
        "state": site.state, "postal_code": site.postal_code, "country": site.country,
        "latitude": "" if site.latitude is None else site.latitude,
        "longitude": "" if site.longitude is None else site.longitude,
        "version": site.version, "reason": "",
    })
    data.update(changes)
    return data


def test_sites_tab_lists_and_filters_with_htmx(web, cpm, study, sites):
    client = web(cpm)
    html = html_of(client.get(f"/studies/{study.pk}/sites/"))
    for name in ("Charité Berlin", "Mayo Clinic", "Hôpital Necker"):
        assert name in html
    assert '<option value="Germany">Germany</option>' in html  # country filter from the study's sites
    assert f'href="/sites/{sites[0].pk}/"' in html
    partial = client.get(f"/studies/{study.pk}/sites/?country=France", HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="site-results")
    text = html_of(partial)
    assert "<html" not in text and "Hôpital Necker" in text and "Mayo Clinic" not in text
    by_text = html_of(client.get(f"/studies/{study.pk}/sites/?q=mayo"))
    assert "Mayo Clinic" in by_text and "Charité Berlin" not in by_text
    assert "No sites match" in html_of(client.get(f"/studies/{study.pk}/sites/?status=activated"))


def test_sites_tab_query_count_does_not_grow(web, admin_user, cpm, study, sites, django_assert_max_num_queries):
    from trialdesk.organizations.services import organization_create, person_create
    from trialdesk.sites.services import site_create

    client = web(cpm)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/studies/{study.pk}/sites/")
    for i in range(10):
        inst = organization_create(user=admin_user, data={"name": f"Inst {i}", "kind": "institution"})
        pi = person_create(user=admin_user, data={"first_name": "P", "last_name": f"I{i}"})
        site_create(user=admin_user, study=study, data={"institution": inst, "site_number": f"1{i:02d}",
                                                        "principal_investigator": pi})
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert "Inst 9" in html_of(client.get(f"/studies/{study.pk}/sites/"))


def test_create_site_and_errors_inline(web, cpm, study, sites):
    client = web(cpm)
    form = html_of(client.get(f"/studies/{study.pk}/sites/new/"))
    assert "Charité Berlin" in form and 'for="id_institution"' in form
    duplicate = client.post(f"/studies/{study.pk}/sites/new/", {
        "site_number": "001", "institution": sites[0].institution_id, "latitude": "95"})
    assert duplicate.status_code in (409, 422)
    html = html_of(duplicate)
    assert 'id="id_latitude_error"' in html  # out-of-range latitude next to its field
    assert StudySite.objects.filter(study=study).count() == 3
    ok = client.post(f"/studies/{study.pk}/sites/new/", {
        "site_number": "004", "institution": sites[0].institution_id, "city": "Berlin", "country": "Germany",
        "latitude": "52.52", "longitude": "13.405", "target_enrollment": "12", "planned_activated": "2026-05-01"})
    site = StudySite.objects.get(study=study, site_number="004")
    assert ok.status_code == 302 and ok["Location"] == f"/sites/{site.pk}/"
    detail = html_of(client.get(f"/sites/{site.pk}/"))
    assert "52.52000, 13.40500" in detail and "2026-05-01" in detail and "Candidate" in detail


def test_edit_site_with_reason_shows_in_the_audit_tab(web, cpm, sites):
    site = sites[0]
    client = web(cpm)
    response = client.post(f"/sites/{site.pk}/edit/", site_post_data(site, target_enrollment="35",
                                                                     planned_activated="2026-06-01",
                                                                     reason="Feasibility update"))
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.target_enrollment == 35 and site.version == 2
    audit = html_of(client.get(f"/sites/{site.pk}/audit/"))
    assert "Feasibility update" in audit
    assert 'class="change-old">20</span>' in audit and 'class="change-new">35</span>' in audit
    assert "2026-06-01" in audit
    event = AuditEvent.objects.get(record_type="sites.studysite", record_id=str(site.pk), action="update")
    assert set(event.changes) == {"target_enrollment", "planned_activated"}


def test_edit_site_without_reason_or_with_stale_version_changes_nothing(web, cpm, admin_user, sites):
    site = sites[0]
    client = web(cpm)
    no_reason = client.post(f"/sites/{site.pk}/edit/", site_post_data(site, city="Potsdam"))
    assert no_reason.status_code == 422 and 'data-testid="reason-error"' in html_of(no_reason)
    site_update(user=admin_user, site=site, data={"city": "Berlin"}, version=1, reason="Import")
    stale = client.post(f"/sites/{site.pk}/edit/", site_post_data(site, city="Potsdam", version=1,
                                                                  reason="Mine"))
    assert stale.status_code == 409 and "changed by someone else" in html_of(stale)
    site.refresh_from_db()
    assert site.city == "Berlin" and site.version == 2


def test_site_transition_records_reason_and_milestone(web, cpm, sites):
    site = sites[0]
    client = web(cpm)
    page = html_of(client.get(f"/sites/{site.pk}/"))
    assert '<option value="selected">Selected</option>' in page and 'value="activated"' not in page
    response = client.post(f"/sites/{site.pk}/transition/", {"status": "selected", "version": 1,
                                                             "reason": "Qualification passed"})
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.status == "selected" and site.actual_selected is not None
    page = html_of(client.get(f"/sites/{site.pk}/"))
    assert "Qualification passed" in page and 'data-status="selected"' in page


def test_site_scoped_cra_sees_only_own_site_and_may_edit_it(web, make_user, study, sites):
    cra = make_user(Role.CRA, study=study, sites=[sites[0]])
    client = web(cra)
    tab = html_of(client.get(f"/studies/{study.pk}/sites/"))
    assert "Charité Berlin" in tab and "Mayo Clinic" not in tab
    assert client.get(f"/sites/{sites[1].pk}/").status_code == 404
    detail = html_of(client.get(f"/sites/{sites[0].pk}/"))
    assert 'data-testid="edit-site"' in detail and 'data-testid="transition-form"' not in detail
    assert client.get(f"/sites/{sites[0].pk}/transition/").status_code == 403
    response = client.post(f"/sites/{sites[0].pk}/edit/", site_post_data(sites[0], city="Berlin-Mitte",
                                                                         reason="Address check at visit"))
    assert response.status_code == 302
    sites[0].refresh_from_db()
    assert sites[0].city == "Berlin-Mitte"
    # Site-limited: the site's trail yes, the whole study's trail no.
    assert client.get(f"/sites/{sites[0].pk}/audit/").status_code == 200
    assert client.get(f"/studies/{study.pk}/audit/").status_code == 403
