"""flag_missed_visits: the daily job that marks planned visits with a past window as missed."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from trialdesk.audit.models import AuditEvent
from trialdesk.visits import services
from trialdesk.visits.models import SubjectVisit


def run(*args) -> str:
    out = StringIO()
    call_command("flag_missed_visits", *args, stdout=out)
    return out.getvalue()


def test_marks_missed_prints_counts_and_audits(admin_user, study, protocol, make_subject):
    subject = make_subject(randomized_on=dt.date(2025, 3, 5))
    services.subject_visits_generate(user=admin_user, subject=subject)
    out = run("--today", "2025-03-20")   # SCR (window to 8 March) and V1 (3 March) are past; V2 ends 22 March
    assert "ACME-301: 2 visits marked missed" in out and "2 visits marked missed." in out
    statuses = dict(SubjectVisit.objects.filter(subject=subject).values_list("definition__code", "status"))
    assert statuses == {"SCR": "missed", "V1": "missed", "V2": "planned", "V3": "planned"}
    events = AuditEvent.objects.filter(record_type="visits.subjectvisit", action="update")
    assert events.count() == 2 and {e.channel for e in events} == {"cli"} and {e.actor_id for e in events} == {None}
    assert "0 visits marked missed." in run("--today", "2025-03-20")
    # Without --today the job uses the real date: everything from 2025 is long past.
    assert "2 visits marked missed." in run()
    call_command("verify_audit", stdout=StringIO())


def test_bad_date_is_a_clear_error(db):
    with pytest.raises(CommandError, match="--today"):
        run("--today", "yesterday")
