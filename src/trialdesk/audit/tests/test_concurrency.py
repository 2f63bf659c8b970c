"""Concurrent writers on a real server process: the chain never forks, SQLite never says "locked".

Runs in its own throwaway database (the append-only triggers make test-database flushing
impossible, and threads need committed data), through the real `trialdesk` command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

WRITERS = r"""
import threading
from django.db import connection
from trialdesk.accounts.services import user_create
from trialdesk.audit.models import AuditEvent

errors = []

def work(t):
    try:
        for i in range(15):
            user_create(actor=None, username=f"user-{t}-{i}")
    except Exception as exc:  # report, don't hide
        errors.append(repr(exc))
    finally:
        connection.close()

threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
assert not errors, errors
print("events", AuditEvent.objects.count())
"""


def _run(env, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "trialdesk", *args], env=env, capture_output=True, text=True,
                          input=stdin, timeout=300)


def _postgres_admin_url() -> str:
    return os.environ.get("TRIALDESK_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/trialdesk")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_parallel_writers_keep_one_intact_chain(engine, tmp_path):
    env = {**os.environ, "TRIALDESK_HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "trialdesk.settings"}
    env.pop("TRIALDESK_DATABASE_URL", None)
    dbname = None
    if engine == "postgresql":
        import psycopg

        base = _postgres_admin_url().rsplit("/", 1)[0]
        dbname = f"trialdesk_conc_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(f"{base}/postgres".replace("postgres://", "postgresql://"),
                                 autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
        except psycopg.OperationalError as exc:
            if os.environ.get("CI") == "true":
                raise
            pytest.skip(f"PostgreSQL not reachable: {exc}")
        env["TRIALDESK_DATABASE_URL"] = f"{base}/{dbname}"
    try:
        assert _run(env, "migrate", "-v0").returncode == 0
        result = _run(env, "shell", "-c", WRITERS)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "events 120" in result.stdout
        verify = _run(env, "verify_audit")
        assert verify.returncode == 0, verify.stderr
        assert "120 events" in verify.stdout
    finally:
        if dbname:
            import psycopg

            with psycopg.connect(f"{base}/postgres".replace("postgres://", "postgresql://"),
                                 autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
