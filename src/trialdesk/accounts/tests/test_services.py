from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from trialdesk.accounts.models import ApiToken, User
from trialdesk.accounts.roles import Role
from trialdesk.accounts.services import (
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    membership_grant,
    user_create,
    user_deactivate,
)
from trialdesk.audit.models import AuditEvent
from trialdesk.core.errors import AccessDenied, Conflict, ValidationFailed


def test_token_is_stored_hashed_and_works_until_revoked(admin_user):
    token, secret = api_token_create(actor=admin_user, user=admin_user, name="ci", expires_days=30)
    assert secret.startswith("td_") and secret not in token.token_hash and len(token.token_hash) == 64
    assert api_token_authenticate(secret) == admin_user
    assert api_token_authenticate(secret + "x") is None
    api_token_revoke(actor=admin_user, token=token, reason="rotated")
    assert api_token_authenticate(secret) is None
    assert AuditEvent.objects.filter(action__in=["token_create", "token_revoke"]).count() == 2


def test_expired_token_is_refused(admin_user):
    token, secret = api_token_create(actor=admin_user, user=admin_user, expires_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api_token_authenticate(secret) is None


def test_create_api_token_command_prints_secret_once(admin_user, capsys):
    call_command("create_api_token", "admin", "--expires", "7")
    secret = capsys.readouterr().out.strip()
    assert api_token_authenticate(secret) == admin_user
    token = ApiToken.objects.get()
    assert (token.expires_at - timezone.now()).days in (6, 7)


def test_users_are_never_deleted_and_names_never_reused(admin_user, make_user):
    user = make_user(Role.VIEWER)
    with pytest.raises(RuntimeError):
        user.delete()
    token, secret = api_token_create(actor=admin_user, user=user, expires_days=5)
    user_deactivate(actor=admin_user, user=user, reason="Left")
    user.refresh_from_db()
    assert not user.is_active and user.deactivated_at is not None
    assert api_token_authenticate(secret) is None
    event = AuditEvent.objects.filter(action="deactivate").get()
    assert event.changes["tokens_revoked"] == [None, [token.prefix]]
    with pytest.raises(Conflict):
        user_create(actor=admin_user, username=user.username.upper())


def test_weak_password_refused(admin_user):
    with pytest.raises(ValidationFailed) as exc:
        user_create(actor=admin_user, username="weak", password="password")
    assert "password" in exc.value.errors
    assert not User.objects.filter(username="weak").exists()


def test_role_grants_are_audited_and_checked(study, make_user):
    cpm = make_user(Role.CPM, study=study)
    newbie = make_user()
    membership_grant(actor=cpm, user=newbie, role=Role.CRA, study=study, reason="New monitor")
    event = AuditEvent.objects.filter(action="role_grant").order_by("-seq").first()
    assert event.changes["role"] == [None, "cra"] and event.reason == "New monitor"
    with pytest.raises(AccessDenied):
        membership_grant(actor=cpm, user=newbie, role=Role.ADMIN, study=study)
    with pytest.raises(AccessDenied):
        membership_grant(actor=cpm, user=newbie, role=Role.VIEWER)  # portfolio-wide needs user.manage
    with pytest.raises(ValidationFailed):
        membership_grant(actor=cpm, user=newbie, role="overlord", study=study)
