"""`trialdesk send_reminders`: one e-mail per user and day with their overdue and due items (locmem outbox)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.workqueue import registry
from trialdesk.workqueue.models import ReminderLog

from .conftest import AS_OF

ENROLLMENT = "trialdesk.enrollment.work.work_items"


def run(*args) -> str:
    out = io.StringIO()
    call_command("send_reminders", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def people(warned_study, admin_user, cpm, make_user):
    """admin and cpm plan enrollment (items due); a viewer has nothing due; one planner has no e-mail address,
    one is deactivated."""
    from trialdesk.accounts.services import user_deactivate

    viewer = make_user(Role.VIEWER, study=warned_study, username="viewer")
    no_email = make_user(Role.CPM, study=warned_study, username="noemail")
    type(no_email).objects.filter(pk=no_email.pk).update(email="")
    gone = make_user(Role.CPM, study=warned_study, username="gone")
    user_deactivate(actor=admin_user, user=gone, reason="left the company")
    return {"admin": admin_user, "cpm": cpm, "viewer": viewer}


def test_each_user_with_due_items_gets_one_email(people, warned_study, mailoutbox, settings):
    settings.TRIALDESK_BASE_URL = "https://ctms.example.org"
    output = run("--date", AS_OF.isoformat())
    assert sorted(m.to[0] for m in mailoutbox) == ["admin@example.org", "cpm@example.org"]
    mail = next(m for m in mailoutbox if m.to == ["cpm@example.org"])
    assert mail.subject.startswith("[Trialdesk] Your work for 2026-06-30: ")
    assert mail.from_email == settings.DEFAULT_FROM_EMAIL and mail.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "Hello Cpm Tester," in mail.body
    assert "* No enrollment: site 003 [ACME-301 · site 003]" in mail.body
    assert f"  https://ctms.example.org/studies/{warned_study.pk}/enrollment/\n" in mail.body
    assert "https://ctms.example.org/my-work/" in mail.body
    assert "For information" not in mail.body  # only overdue and due items are e-mailed
    assert "cpm <cpm@example.org>: sent" in output and "2 reminders sent" in output

    logs = {log.user.username: log for log in ReminderLog.objects.select_related("user")}
    assert set(logs) == {"admin", "cpm"}
    log = logs["cpm"]
    assert log.sent_on == AS_OF and log.email == "cpm@example.org" and log.incomplete == []
    assert log.item_count == mail.body.count("\n* ") and len(log.items_digest) == 64
    event = AuditEvent.objects.get(record_type="workqueue.reminderlog", record_id=str(log.pk))
    assert event.actor_id is None and event.actor_username == "system" and event.channel == "cli"
    assert event.action == "create" and event.changes["item_count"] == log.item_count
    assert event.changes["user"] == "cpm" and event.changes["sent_on"] == "2026-06-30"
    call_command("verify_audit", stdout=io.StringIO())


def test_a_second_run_the_same_day_sends_nothing(people, mailoutbox):
    run("--date", AS_OF.isoformat())
    assert len(mailoutbox) == 2
    output = run("--date", AS_OF.isoformat())
    assert len(mailoutbox) == 2 and ReminderLog.objects.count() == 2
    assert "cpm <cpm@example.org>: already reminded today" in output
    assert "0 reminders sent, 2 already sent today" in output
    run("--date", "2026-07-01")  # the next day reminds again
    assert len(mailoutbox) == 4 and ReminderLog.objects.count() == 4


def test_dry_run_sends_and_records_nothing(people, mailoutbox):
    out = io.StringIO()
    call_command("send_reminders", "--date", AS_OF.isoformat(), "--dry-run", verbosity=2, stdout=out, stderr=out)
    output = out.getvalue()
    assert mailoutbox == [] and ReminderLog.objects.count() == 0
    assert "cpm <cpm@example.org>: would send" in output and "viewer <viewer@example.org>: nothing due" in output
    assert "Subject: [Trialdesk] Your work for 2026-06-30" in output and "No enrollment: site 003" in output
    assert "2 reminders would be sent" in output
    assert not AuditEvent.objects.filter(record_type="workqueue.reminderlog").exists()


def test_one_user_only(people, mailoutbox):
    output = run("--date", AS_OF.isoformat(), "--user", "cpm")
    assert [m.to for m in mailoutbox] == [["cpm@example.org"]]
    assert "1 reminder sent" in output
    for name, message in (("nobody", "No user named 'nobody'."), ("gone", "User 'gone' is deactivated."),
                          ("noemail", "User 'noemail' has no e-mail address.")):
        with pytest.raises(CommandError, match=message):
            run("--user", name)


def test_bad_date_is_refused(db):
    with pytest.raises(CommandError, match="--date: not a date"):
        run("--date", "30/06/2026")


def test_a_failing_provider_still_sends_the_rest_says_so_and_fails_the_job(people, monkeypatch, mailoutbox):
    monkeypatch.setattr(registry, "PROVIDERS", ["trialdesk.workqueue.tests.providers.broken", ENROLLMENT])
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("send_reminders", "--date", AS_OF.isoformat(), stdout=out, stderr=out)
    assert failure.value.returncode == 1
    assert "Work-queue provider trialdesk.workqueue.tests.providers.broken failed" in out.getvalue()
    assert len(mailoutbox) == 2
    assert "Note: this list may be incomplete." in mailoutbox[0].body
    assert ReminderLog.objects.get(user__username="cpm").incomplete == ["Workqueue"]


def test_a_mail_server_failure_records_nothing_so_the_next_run_retries(people, settings,
                                                                       mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("send_reminders", "--date", AS_OF.isoformat(), stdout=out, stderr=out)
    assert "cpm <cpm@example.org>: FAILED" in out.getvalue() and "2 failed" in out.getvalue()
    assert ReminderLog.objects.count() == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    run("--date", AS_OF.isoformat())
    assert len(mailoutbox) == 2 and ReminderLog.objects.count() == 2
