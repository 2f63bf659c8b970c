"""The reminder e-mail's text and digest (pure)."""

from __future__ import annotations

import datetime as dt

from trialdesk.workqueue import digest
from trialdesk.workqueue.items import WorkItem

TODAY = dt.date(2026, 6, 30)
LATE = WorkItem(kind="startup.milestone_overdue", title="Contract executed — site 101 (overdue 12 days)",
                severity="overdue", due_date=dt.date(2026, 6, 18), study_id=1, study_label="ACME-301", site_id=7,
                site_label="101", url="/sites/7/startup/", detail="Owner: you", key="sitemilestone:42")
DUE = WorkItem(kind="training.requirement_due", title="Protocol training v3.0", severity="due",
               due_date=TODAY, study_id=1, study_label="ACME-301", key="trainingrequirement:5")


def test_subject_counts_overdue_and_due():
    assert digest.reminder_subject([LATE, DUE], TODAY, prefix="[T] ") == \
        "[T] Your work for 2026-06-30: 1 overdue and 1 due items"
    assert digest.reminder_subject([DUE], TODAY) == "Your work for 2026-06-30: 1 due item"


def test_body_groups_by_severity_with_links():
    body = digest.reminder_body([LATE, DUE], TODAY, name="Ada Lovelace", base_url="https://ctms.example.org/",
                                notices=["Training items could not be loaded."])
    assert body.startswith("Hello Ada Lovelace,\n")
    assert body.index("Overdue (1)") < body.index("Due (1)")
    assert "* Contract executed — site 101 (overdue 12 days) [ACME-301 · site 101]\n  Due 2026-06-18\n" \
           "  Owner: you\n  https://ctms.example.org/sites/7/startup/\n" in body
    assert "* Protocol training v3.0 [ACME-301]\n" in body
    assert "Note: this list may be incomplete.\n  Training items could not be loaded." in body
    assert "https://ctms.example.org/my-work/" in body


def test_without_a_base_url_links_are_paths():
    body = digest.reminder_body([LATE], TODAY, name="Ada")
    assert "\n  /sites/7/startup/\n" in body and "including upcoming items: /my-work/" in body


def test_digest_changes_with_what_was_listed():
    one = digest.items_digest([LATE, DUE])
    assert one == digest.items_digest([LATE, DUE]) and len(one) == 64
    assert one != digest.items_digest([DUE, LATE])
    assert one != digest.items_digest([LATE])
