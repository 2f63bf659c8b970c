"""The audit trail on a real database: append-only triggers, chain verification, history."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from trialdesk.audit.models import AuditEvent
from trialdesk.audit.selectors import AuditFilter, audit_chain_verify, audit_csv, audit_events
from trialdesk.studies.services import study_update


def _disable_triggers(cursor):
    if connection.vendor == "postgresql":
        # Deferred FK checks must fire before the table can be altered inside this transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
    else:
        cursor.execute("DROP TRIGGER audit_auditevent_no_update")
        cursor.execute("DROP TRIGGER audit_auditevent_no_delete")


def test_every_service_write_is_audited_with_who_what_why(study, admin_user):
    study_update(user=admin_user, study=study, data={"acronym": "BREATHE-2"}, version=study.version,
                 reason="Sponsor renamed the programme")
    event = audit_events(AuditFilter(record_type="studies.study", record_id=str(study.pk))).first()
    assert event.action == "update"
    assert event.actor_username == "admin"
    assert event.actor_name.startswith("Admin Tester")
    assert event.changes == {"acronym": ["BREATHE", "BREATHE-2"]}
    assert event.reason == "Sponsor renamed the programme"
    assert event.study_id == study.pk
    assert event.occurred_at.utcoffset().total_seconds() == 0


def test_database_refuses_update_and_delete_of_audit_rows(study):
    event = AuditEvent.objects.order_by("-seq").first()
    for sql in (f"UPDATE audit_auditevent SET reason = 'x' WHERE id = {event.pk}",
                f"DELETE FROM audit_auditevent WHERE id = {event.pk}"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    event.refresh_from_db()
    assert event.reason == ""


def test_database_refuses_update_of_signatures(study, admin_user):
    import datetime as dt

    from conftest import PASSWORD
    from trialdesk.signatures.models import Signature
    from trialdesk.studies.services import protocol_version_approve, protocol_version_create

    pv = protocol_version_create(user=admin_user, study=study, data={"version_number": "1.0",
                                                                     "version_date": dt.date(2026, 1, 5)})
    protocol_version_approve(user=admin_user, protocol_version=pv, password=PASSWORD, version=pv.version)
    sig = Signature.objects.get()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"UPDATE signatures_signature SET printed_name = 'Someone else' WHERE id = {sig.pk}")


def test_verify_audit_passes_then_names_the_tampered_event(study, admin_user):
    study_update(user=admin_user, study=study, data={"acronym": "X"}, version=study.version, reason="r1")
    call_command("verify_audit")
    checked, failure = audit_chain_verify()
    assert failure is None and checked == AuditEvent.objects.count()
    victim = AuditEvent.objects.order_by("seq")[2]
    with connection.cursor() as cur:
        _disable_triggers(cur)
        cur.execute("UPDATE audit_auditevent SET reason = 'nothing to see' WHERE id = %s", [victim.pk])
    with pytest.raises(CommandError, match=rf"seq={victim.seq} id={victim.pk}"):
        call_command("verify_audit")


def test_verify_audit_detects_a_deleted_event(study, admin_user):
    victim = AuditEvent.objects.order_by("seq")[1]
    with connection.cursor() as cur:
        _disable_triggers(cur)
        cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    checked, failure = audit_chain_verify()
    assert failure is not None and failure.seq == victim.seq + 1 and "gap" in failure.problem


def test_csv_export_has_one_row_per_changed_field_and_neutralises_formulas(study, admin_user):
    study_update(user=admin_user, study=study, data={"acronym": "=HYPERLINK()", "therapeutic_area": "Pulmonology"},
                 version=study.version, reason="two fields")
    text = "".join(audit_csv(audit_events(AuditFilter(record_type="studies.study", record_id=str(study.pk)))))
    lines = text.strip().splitlines()
    assert lines[0].startswith("seq,occurred_at_utc,actor_username")
    assert any("therapeutic_area,Respiratory,Pulmonology" in line for line in lines)
    assert any("'=HYPERLINK()" in line for line in lines)


def test_verify_audit_command_exit_codes_end_to_end(tmp_path):
    """The real console command on a real database file: exit 0, then non-zero naming the event."""
    env = {**os.environ, "TRIALDESK_HOME": str(tmp_path), "DJANGO_SETTINGS_MODULE": "trialdesk.settings"}
    env.pop("TRIALDESK_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "trialdesk"]
    subprocess.run([*cmd, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*cmd, "shell", "-c",
                    "from trialdesk.accounts.services import user_create\n"
                    "for n in ('ann', 'bob', 'cy'): user_create(actor=None, username=n)"],
                   env=env, check=True)
    ok = subprocess.run([*cmd, "verify_audit"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "3 events" in ok.stdout
    db = sqlite3.connect(tmp_path / "trialdesk.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"), db:
        db.execute("UPDATE audit_auditevent SET actor_username = 'mallory' WHERE seq = 2")
    with db:  # an attacker with file access drops the triggers first
        db.execute("DROP TRIGGER audit_auditevent_no_update")
        db.execute("UPDATE audit_auditevent SET actor_username = 'mallory' WHERE seq = 2")
    db.close()
    bad = subprocess.run([*cmd, "verify_audit"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "seq=2" in bad.stderr


def test_csv_export_is_itself_audited(client, study, admin_user):
    client.force_login(admin_user)
    response = client.get(f"/studies/{study.pk}/audit/export.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("seq,occurred_at_utc")
    event = AuditEvent.objects.filter(action="export").get()
    assert event.actor_username == "admin" and event.study_id == study.pk
    assert event.record_label.startswith("audit-study-ACME-301-")
