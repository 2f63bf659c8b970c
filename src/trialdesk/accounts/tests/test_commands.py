import io
import sys

import pytest
from django.core.management import CommandError, call_command

from trialdesk.accounts import permissions
from trialdesk.accounts.models import User
from trialdesk.audit.models import AuditEvent


def test_create_user_command_grants_role_and_audits(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("A-long-and-unusual-passphrase-42\n"))
    call_command("create_user", "ops", "--first-name", "Olga", "--last-name", "Ops", "--role", "admin",
                 "--password-stdin")
    user = User.objects.get(username="ops")
    assert user.check_password("A-long-and-unusual-passphrase-42")
    assert permissions.has_perm(user, "user.manage")
    assert AuditEvent.objects.filter(action="role_grant", record_type="accounts.membership").count() == 1


def test_create_user_command_rejects_weak_password_and_writes_nothing(db, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError, match="password"):
        call_command("create_user", "ops", "--first-name", "O", "--last-name", "P", "--role", "viewer",
                     "--password-stdin")
    assert not User.objects.filter(username="ops").exists()
    assert not AuditEvent.objects.exists()
