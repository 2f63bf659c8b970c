"""Demo passwords: random per installation, stable across runs, never world-readable."""

from __future__ import annotations

import os
import stat

import pytest
from django.contrib.auth.password_validation import validate_password

from trialdesk.demo.credentials import credentials_ensure, credentials_read, password_generate

WANTED = [("admin", "admin"), ("cpm", "cpm")]


def test_passwords_are_random_and_pass_the_password_policy():
    passwords = {password_generate() for _ in range(50)}
    assert len(passwords) == 50
    for password in list(passwords)[:5]:
        validate_password(password)


def test_credentials_are_kept_across_runs_and_private(tmp_path):
    path = tmp_path / "home" / "demo-credentials.txt"
    first = credentials_ensure(path, WANTED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials_read(path) == first
    assert credentials_ensure(path, WANTED) == first

    os.chmod(path, 0o644)
    credentials_ensure(path, WANTED)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_new_users_get_passwords_and_old_ones_keep_theirs(tmp_path):
    path = tmp_path / "demo-credentials.txt"
    first = credentials_ensure(path, WANTED[:1])
    both = credentials_ensure(path, WANTED)
    assert both["admin"] == first["admin"]
    assert both["cpm"].password != first["admin"].password
    assert set(credentials_read(path)) == {"admin", "cpm"}


def test_a_damaged_file_is_reported_not_silently_replaced(tmp_path):
    path = tmp_path / "demo-credentials.txt"
    path.write_text("admin only-two-columns\n")
    with pytest.raises(ValueError, match="malformed line"):
        credentials_ensure(path, WANTED)
    assert credentials_read(tmp_path / "missing.txt") == {}
