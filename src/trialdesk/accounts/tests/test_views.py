"""Sign-in (the real POST path through django-axes), lockout, sign-out, my account, API tokens, study team."""

from __future__ import annotations

import pytest
from django.conf import settings

from conftest import PASSWORD
from trialdesk.accounts.models import ApiToken, Membership
from trialdesk.accounts.roles import Role
from trialdesk.accounts.services import api_token_authenticate
from trialdesk.audit.models import AuditEvent


@pytest.fixture
def web(client):
    def _as(user):
        client.force_login(user)
        return client

    return _as


def html_of(response) -> str:
    return response.content.decode()


# --- Sign in ------------------------------------------------------------------------------------------------

def test_login_wrong_password_then_right_password_with_safe_next(client, make_user, study):
    user = make_user(Role.VIEWER, study=study, username="ada")
    page = client.get("/login/?next=/studies/")
    assert page.status_code == 200
    assert 'for="id_username"' in html_of(page) and 'autocomplete="current-password"' in html_of(page)

    wrong = client.post("/login/", {"username": "ada", "password": "not-it", "next": f"/studies/{study.pk}/"})
    assert wrong.status_code == 200
    html = html_of(wrong)
    assert 'data-testid="login-error"' in html and "user name or password is not correct" in html
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login_failed", record_label="ada").count() == 1

    ok = client.post("/login/", {"username": "ada", "password": PASSWORD, "next": f"/studies/{study.pk}/"})
    assert ok.status_code == 302 and ok["Location"] == f"/studies/{study.pk}/"
    assert int(client.session["_auth_user_id"]) == user.pk
    assert AuditEvent.objects.filter(action="login", actor=user).count() == 1
    # Signed in, the sign-in page sends the user on.
    assert client.get("/login/").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_login_ignores_an_unsafe_next(client, make_user, target):
    make_user(Role.VIEWER, username="bob")
    response = client.post("/login/", {"username": "bob", "password": PASSWORD, "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_lockout_after_the_failure_limit(client, make_user):
    make_user(Role.VIEWER, username="carol")
    limit = settings.AXES_FAILURE_LIMIT
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    for _ in range(limit - 1):
        response = client.post("/login/", {"username": "carol", "password": "wrong"})
        assert response.status_code == 200 and 'data-testid="login-error"' in html_of(response)
    locked = client.post("/login/", {"username": "carol", "password": "wrong"})
    assert locked.status_code == 403
    html = html_of(locked)
    assert 'data-testid="lockout-message"' in html and f"locked for {minutes} minutes" in html
    # Even the right password is refused while the lock lasts.
    again = client.post("/login/", {"username": "carol", "password": PASSWORD})
    assert again.status_code == 403 and "Account locked" in html_of(again)
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="lockout", record_label="carol").exists()


def test_demo_mode_hint_never_shows_passwords(client, settings):
    settings.DEMO_MODE = False
    assert 'data-testid="demo-hint"' not in html_of(client.get("/login/"))
    settings.DEMO_MODE = True
    html = html_of(client.get("/login/"))
    assert 'data-testid="demo-hint"' in html and "make run" in html
    assert "password:" not in html.lower()


def test_logout_needs_post(web, cpm):
    client = web(cpm)
    confirm = client.get("/logout/")
    assert confirm.status_code == 200 and 'data-testid="logout-confirm"' in html_of(confirm)
    assert "_auth_user_id" in client.session  # a GET (e.g. a prefetched link) does not sign out
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="logout", actor=cpm).exists()
    assert client.get("/").status_code == 302


# --- My account and tokens ---------------------------------------------------------------------------------------

def test_account_lists_my_roles(web, make_user, study, sites):
    user = make_user(Role.CRA, study=study, sites=[sites[1]])
    html = html_of(web(user).get("/account/"))
    assert "CRA / Monitor" in html and "ACME-301" in html and "002" in html


def test_token_secret_is_shown_once_and_can_be_revoked(web, cpm):
    client = web(cpm)
    response = client.post("/account/tokens/new/", {"name": "EDC sync", "expires_days": "30"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = html_of(response)
    token = ApiToken.objects.get(user=cpm)
    secret = html.split('data-testid="new-token-secret">')[1].split("<")[0]
    assert secret.startswith(token.prefix) and api_token_authenticate(secret) == cpm
    again = html_of(client.get("/account/"))
    assert secret not in again and token.prefix in again  # never shown again
    bad = client.post("/account/tokens/new/", {"name": "x", "expires_days": "0"})
    assert bad.status_code == 422 and 'id="id_expires_days_error"' in html_of(bad)

    assert client.post(f"/account/tokens/{token.pk}/revoke/", {"reason": "Laptop replaced"}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and api_token_authenticate(secret) is None
    assert 'data-status="revoked"' in html_of(client.get("/account/"))


def test_someone_elses_token_is_not_found(web, cpm, admin_user):
    from trialdesk.accounts.services import api_token_create

    token, _ = api_token_create(actor=None, user=admin_user)
    client = web(cpm)
    assert client.get(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post(f"/account/tokens/{token.pk}/revoke/", {"reason": "x"}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


# --- Study team ---------------------------------------------------------------------------------------------------

def test_cpm_grants_a_site_limited_role_and_revokes_it_with_reason(web, cpm, make_user, study, sites):
    newcomer = make_user(username="dave")
    client = web(cpm)
    team = html_of(client.get(f"/studies/{study.pk}/team/"))
    assert 'data-testid="grant-form"' in team and "Charité Berlin" in team
    unknown = client.post(f"/studies/{study.pk}/team/", {"username": "nobody", "role": "cra"})
    assert unknown.status_code == 422 and "no active user" in html_of(unknown)

    response = client.post(f"/studies/{study.pk}/team/", {"username": "dave", "role": "cra",
                                                          "sites": [sites[0].pk], "reason": "Monitor for DE"})
    assert response.status_code == 302
    membership = Membership.objects.get(user=newcomer, study=study)
    assert membership.role == "cra" and list(membership.sites.all()) == [sites[0]]
    duplicate = client.post(f"/studies/{study.pk}/team/", {"username": "dave", "role": "cra"})
    assert duplicate.status_code == 409 and "already has this role" in html_of(duplicate)

    no_reason = client.post(f"/memberships/{membership.pk}/revoke/", {"version": 1, "reason": ""})
    assert no_reason.status_code == 422 and 'data-testid="reason-error"' in html_of(no_reason)
    assert client.post(f"/memberships/{membership.pk}/revoke/", {"version": 1, "reason": "Left the project"}
                       ).status_code == 302
    membership.refresh_from_db()
    assert membership.revoked_at is not None and membership.revoke_reason == "Left the project"
    audit = html_of(client.get(f"/studies/{study.pk}/audit/"))
    assert "Left the project" in audit and "Role revoked" in audit


def test_team_visibility_by_role(web, make_user, study, sites):
    viewer = make_user(Role.VIEWER, study=study)
    assert web(viewer).get(f"/studies/{study.pk}/team/").status_code == 403
    assert 'data-testid="tab-team"' not in html_of(web(viewer).get(f"/studies/{study.pk}/"))
    auditor = make_user(Role.AUDITOR, study=study)
    client = web(auditor)
    team = html_of(client.get(f"/studies/{study.pk}/team/"))
    assert auditor.username in team and 'data-testid="grant-form"' not in team
    assert client.post(f"/studies/{study.pk}/team/", {"username": viewer.username, "role": "cpm"}
                       ).status_code == 403
    assert not Membership.objects.filter(user=viewer, role="cpm").exists()


def test_team_page_query_count_does_not_grow(web, cpm, make_user, study, sites, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = web(cpm)
    make_user(Role.VIEWER, study=study)
    with CaptureQueriesContext(connection) as few:
        client.get(f"/studies/{study.pk}/team/")
    for _ in range(6):
        make_user(Role.CRA, study=study, sites=[sites[0]])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert html_of(client.get(f"/studies/{study.pk}/team/")).count('data-testid="membership-') == 7
