"""Providers used only by the tests of the aggregation (the real ones live in each area's work.py)."""

from __future__ import annotations

import datetime as dt

from trialdesk.workqueue.items import WorkItem


def broken(user, today):
    raise RuntimeError("provider bug for the test")


def not_items(user, today):
    return [{"kind": "x.y", "title": "a dict is not a WorkItem"}]


def general(user, today: dt.date):
    """Items about no study: one overdue, one upcoming, and the same keyless item twice."""
    note = WorkItem(kind="other.note", title="Read the newsletter", severity="info")
    return [
        WorkItem(kind="other.form", title="Submit your expenses", severity="overdue",
                 due_date=today - dt.timedelta(days=3), key="form:1"),
        WorkItem(kind="other.form", title="Renew your badge", severity="upcoming",
                 due_date=today + dt.timedelta(days=20), key="form:2"),
        note, note,
    ]


def same_records(user, today: dt.date):
    """The same underlying records as `general` (keys form:1 and form:2), seen differently."""
    return [
        WorkItem(kind="other.form", title="Expenses (reminder)", severity="info", key="form:1"),
        WorkItem(kind="other.form", title="Badge renewal is due", severity="due", due_date=today, key="form:2"),
    ]
