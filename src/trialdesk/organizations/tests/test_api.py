"""Organizations and people API against the real database."""

from __future__ import annotations

import pytest

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent

ORGS = "/api/v1/organizations"
PEOPLE = "/api/v1/people"
JSON = "application/json"


@pytest.fixture
def admin_api(api_client, admin_user):
    return api_client(admin_user)


def _org(client, **fields):
    resp = client.post(ORGS, {"name": "Acme", "kind": "sponsor", **fields}, content_type=JSON)
    assert resp.status_code == 201, resp.json()
    return resp.json()


def test_organization_crud_with_reason(admin_api):
    org = _org(admin_api, name="Nordic CRO", kind="cro", country="Denmark", email="info@nordic.example")
    assert org["kind_label"] == "CRO" and org["version"] == 1
    resp = admin_api.patch(f"{ORGS}/{org['id']}", {"city": "Copenhagen", "version": 1, "reason": "New office"},
                           content_type=JSON)
    assert resp.status_code == 200
    assert resp.json()["city"] == "Copenhagen" and resp.json()["name"] == "Nordic CRO"
    assert resp.json()["version"] == 2
    event = AuditEvent.objects.filter(record_type="organizations.organization", record_id=str(org["id"]),
                                      action="update").get()
    assert event.changes == {"city": ["", "Copenhagen"]} and event.reason == "New office"
    stale = admin_api.patch(f"{ORGS}/{org['id']}", {"city": "Aarhus", "version": 1, "reason": "r"},
                            content_type=JSON)
    assert stale.status_code == 409


@pytest.mark.parametrize("body, field", [
    ({"kind": "hospital"}, "kind"),
    ({"name": ""}, "name"),
    ({"name": "x" * 301}, "name"),
    ({"email": "not an email"}, "email"),
    ({"website": "nota url"}, "website"),
    ({"country": "c" * 101}, "country"),
])
def test_organization_bad_input_is_422(admin_api, body, field):
    resp = admin_api.post(ORGS, {"name": "Org", "kind": "sponsor", **body}, content_type=JSON)
    assert resp.status_code == 422, resp.content
    assert field in resp.json()["errors"], resp.json()


def test_organization_filters_and_soft_delete(admin_api):
    _org(admin_api, name="Alpha Pharma", country="France")
    beta = _org(admin_api, name="Beta Hospital", kind="institution", city="Lyon", country="France")
    _org(admin_api, name="Gamma IRB", kind="irb", country="Spain")
    assert admin_api.get(ORGS).json()["count"] == 3
    assert [o["name"] for o in admin_api.get(ORGS, {"kind": "institution"}).json()["items"]] == ["Beta Hospital"]
    assert admin_api.get(ORGS, {"country": "france"}).json()["count"] == 2
    assert [o["name"] for o in admin_api.get(ORGS, {"q": "lyon"}).json()["items"]] == ["Beta Hospital"]
    assert [o["name"] for o in admin_api.get(ORGS, {"limit": 1, "offset": 2}).json()["items"]] == ["Gamma IRB"]
    gone = admin_api.delete(f"{ORGS}/{beta['id']}", {"version": 1, "reason": "Duplicate"}, content_type=JSON)
    assert gone.status_code == 200 and gone.json()["is_deleted"] is True
    assert admin_api.get(f"{ORGS}/{beta['id']}").status_code == 404
    assert admin_api.get(ORGS).json()["count"] == 2


def test_people_crud_filters_and_organization_ref(admin_api):
    org = _org(admin_api, name="Charité", kind="institution")
    resp = admin_api.post(PEOPLE, {"first_name": "Lena", "last_name": "Vogel", "title": "Dr.", "degrees": "MD",
                                   "organization_id": org["id"], "email": "lena@charite.example"},
                          content_type=JSON)
    assert resp.status_code == 201, resp.json()
    lena = resp.json()
    assert lena["full_name"] == "Dr. Lena Vogel, MD"
    assert lena["organization"] == {"id": org["id"], "name": "Charité"}
    admin_api.post(PEOPLE, {"first_name": "Omar", "last_name": "Haddad"}, content_type=JSON)
    assert [p["last_name"] for p in admin_api.get(PEOPLE, {"organization_id": org["id"]}).json()["items"]] == \
        ["Vogel"]
    assert [p["last_name"] for p in admin_api.get(PEOPLE, {"q": "hadd"}).json()["items"]] == ["Haddad"]

    unknown = admin_api.patch(f"{PEOPLE}/{lena['id']}", {"organization_id": 987654321, "version": 1,
                                                         "reason": "moved"}, content_type=JSON)
    assert unknown.status_code == 422 and "organization_id" in unknown.json()["errors"]
    detached = admin_api.patch(f"{PEOPLE}/{lena['id']}", {"organization_id": None, "version": 1,
                                                          "reason": "Left the institution"}, content_type=JSON)
    assert detached.status_code == 200 and detached.json()["organization"] is None
    assert detached.json()["email"] == "lena@charite.example"
    nameless = admin_api.post(PEOPLE, {"first_name": "Solo"}, content_type=JSON)
    assert nameless.status_code == 422 and "last_name" in nameless.json()["errors"]
    gone = admin_api.delete(f"{PEOPLE}/{lena['id']}", {"version": 2, "reason": "Entered in error"},
                            content_type=JSON)
    assert gone.status_code == 200
    assert [p["last_name"] for p in admin_api.get(PEOPLE).json()["items"]] == ["Haddad", "Tester"]


def test_study_level_roles_read_but_do_not_edit_the_directory(api_client, make_user, study, sponsor):
    # org.edit is a portfolio permission: even a study's CPM may not change shared organizations.
    cpm = api_client(make_user(Role.CPM, study=study))
    assert cpm.get(f"{ORGS}/{sponsor.pk}").status_code == 200
    denied = cpm.patch(f"{ORGS}/{sponsor.pk}", {"city": "X", "version": sponsor.version, "reason": "r"},
                       content_type=JSON)
    assert denied.status_code == 403
    regulatory = api_client(make_user(Role.REGULATORY))
    ok = regulatory.patch(f"{ORGS}/{sponsor.pk}", {"city": "Boston", "version": sponsor.version,
                                                   "reason": "Address update"}, content_type=JSON)
    assert ok.status_code == 200
