"""Accounts API: the current user, memberships, own API tokens, bearer and session authentication."""

from __future__ import annotations

import pytest
from django.test import Client

from trialdesk.accounts.models import Membership
from trialdesk.accounts.roles import Role
from trialdesk.accounts.services import api_token_create, api_token_revoke
from trialdesk.audit.models import AuditEvent

API = "/api/v1/accounts"
JSON = "application/json"


@pytest.fixture
def admin_api(api_client, admin_user):
    return api_client(admin_user)


def test_me_lists_own_roles(api_client, make_user, study, sites):
    cra = make_user(Role.CRA, study=study, sites=[sites[0]], username="carla")
    out = api_client(cra).get(f"{API}/me").json()
    assert out["username"] == "carla" and out["display_name"] == "Carla Tester"
    [membership] = out["memberships"]
    assert membership["role"] == "cra" and membership["role_label"] == "CRA / Monitor"
    assert membership["study"]["protocol_number"] == "ACME-301"
    assert membership["site_ids"] == [sites[0].pk]


def test_grant_list_and_revoke_membership(admin_api, make_user, study, sites):
    newcomer = make_user(username="nina")
    resp = admin_api.post(f"{API}/memberships", {"user_id": newcomer.pk, "role": "site_coordinator",
                                                 "study_id": study.pk, "site_ids": [sites[1].pk],
                                                 "reason": "Joined the Mayo team"}, content_type=JSON)
    assert resp.status_code == 201, resp.json()
    granted = resp.json()
    assert granted["user"]["username"] == "nina" and granted["granted_by"] == "admin"
    assert granted["site_ids"] == [sites[1].pk] and granted["is_active"] is True

    listed = admin_api.get(f"{API}/memberships", {"study_id": study.pk, "user_id": newcomer.pk}).json()
    assert [m["id"] for m in listed["items"]] == [granted["id"]]

    duplicate = admin_api.post(f"{API}/memberships", {"user_id": newcomer.pk, "role": "site_coordinator",
                                                      "study_id": study.pk}, content_type=JSON)
    assert duplicate.status_code == 409

    no_reason = admin_api.post(f"{API}/memberships/{granted['id']}/revoke", {}, content_type=JSON)
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["errors"]
    revoked = admin_api.post(f"{API}/memberships/{granted['id']}/revoke",
                             {"reason": "Left the site", "version": granted["version"]}, content_type=JSON)
    assert revoked.status_code == 200
    assert revoked.json()["is_active"] is False and revoked.json()["revoked_by"] == "admin"
    assert revoked.json()["revoke_reason"] == "Left the site"
    assert admin_api.get(f"{API}/memberships", {"user_id": newcomer.pk}).json()["count"] == 0
    assert admin_api.get(f"{API}/memberships", {"user_id": newcomer.pk, "include_revoked": "true"}
                         ).json()["count"] == 1
    again = admin_api.post(f"{API}/memberships/{granted['id']}/revoke", {"reason": "twice"}, content_type=JSON)
    assert again.status_code == 409
    assert AuditEvent.objects.filter(record_type="accounts.membership", record_id=str(granted["id"]),
                                     action="role_revoke", reason="Left the site").exists()


@pytest.mark.parametrize("body, field", [
    ({"user_id": 987654321}, "user_id"),
    ({"study_id": 987654321}, "study_id"),
    ({"role": "superuser"}, "role"),
    ({"site_ids": [987654321]}, "site_ids"),
])
def test_grant_bad_input_is_422(admin_api, make_user, study, body, field):
    user = make_user()
    resp = admin_api.post(f"{API}/memberships", {"user_id": user.pk, "role": "viewer", "study_id": study.pk,
                                                 **body}, content_type=JSON)
    assert resp.status_code == 422, resp.content
    assert field in resp.json()["errors"]


def test_study_cpm_manages_study_roles_but_cannot_grant_admin(api_client, make_user, study):
    cpm = api_client(make_user(Role.CPM, study=study))
    user = make_user()
    ok = cpm.post(f"{API}/memberships", {"user_id": user.pk, "role": "viewer", "study_id": study.pk},
                  content_type=JSON)
    assert ok.status_code == 201
    admin = cpm.post(f"{API}/memberships", {"user_id": user.pk, "role": "admin", "study_id": study.pk},
                     content_type=JSON)
    assert admin.status_code == 403
    portfolio = cpm.post(f"{API}/memberships", {"user_id": user.pk, "role": "viewer"}, content_type=JSON)
    assert portfolio.status_code == 403


def test_viewer_cannot_see_memberships(api_client, make_user, study):
    viewer = make_user(Role.VIEWER, study=study)
    client = api_client(viewer)
    assert client.get(f"{API}/memberships").json()["count"] == 0
    mine = Membership.objects.get(user=viewer)
    assert client.get(f"{API}/memberships/{mine.pk}").status_code == 404


def test_own_tokens_list_and_revoke(make_user, study):
    user = make_user(Role.VIEWER, study=study)
    token, secret = api_token_create(actor=None, user=user, name="laptop")
    spare, _ = api_token_create(actor=None, user=user, name="ci")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listed = client.get(f"{API}/tokens").json()
    assert {t["name"] for t in listed["items"]} == {"laptop", "ci"}
    assert all(secret not in str(t) for t in listed["items"])
    assert {t["prefix"] for t in listed["items"]} == {token.prefix, spare.prefix}

    other = make_user()
    foreign, _ = api_token_create(actor=None, user=other)
    assert client.post(f"{API}/tokens/{foreign.pk}/revoke", {}, content_type=JSON).status_code == 404

    resp = client.post(f"{API}/tokens/{spare.pk}/revoke", {"reason": "CI retired"}, content_type=JSON)
    assert resp.status_code == 200 and resp.json()["revoked_at"] and resp.json()["is_usable"] is False
    # Revoking the token in use locks the client out from the next request on.
    client.post(f"{API}/tokens/{token.pk}/revoke", {}, content_type=JSON)
    assert client.get(f"{API}/me").status_code == 401


def test_bad_and_revoked_tokens_are_401(make_user):
    user = make_user()
    token, secret = api_token_create(actor=None, user=user)
    assert Client(HTTP_AUTHORIZATION="Bearer td_not-a-real-token").get(f"{API}/me").status_code == 401
    api_token_revoke(actor=None, token=token)
    resp = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get(f"{API}/me")
    assert resp.status_code == 401 and resp.json()["errors"] == {}


def test_session_auth_requires_csrf_for_writes(make_user, study):
    user = make_user(Role.CPM, study=study, username="sam")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"{API}/me").json()["username"] == "sam"
    body = {"acronym": "X", "version": 1, "reason": "r"}
    refused = client.patch(f"/api/v1/studies/{study.pk}", body, content_type=JSON)
    assert refused.status_code == 403
    secret = "a" * 32
    client.cookies["csrftoken"] = secret
    ok = client.patch(f"/api/v1/studies/{study.pk}", body, content_type=JSON, headers={"X-CSRFToken": secret})
    assert ok.status_code == 200 and ok.json()["acronym"] == "X"
