"""Training matrix cell states (pure, no Django).

A cell says where one person stands on one required training on a day:

* done     — completed and valid (a certificate that has not expired, and does not expire within the warning
             window), or a GCP certificate valid beyond the window;
* due      — not done yet and the due date is today or later (or no due date), or done but expiring within
             the warning window (renewal due by the expiry date);
* overdue  — not done and the due date has passed;
* expired  — was done, but the certificate has expired and nothing has replaced it yet (overdue instead when a
             deadline set after the expiry has passed too);
* waived   — a requirement that was waived (shown, not counted as missing);
* none     — nothing is required of this person for this column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

STATES = ("done", "due", "overdue", "expired", "waived", "none")
STATE_LABELS = {"done": "Done", "due": "Due", "overdue": "Overdue", "expired": "Expired", "waived": "Waived",
                "none": "—"}
# Renewal warning window, days before expiry (as the work queue's "expiring within 60 days").
EXPIRY_WARNING_DAYS = 60


@dataclass(frozen=True)
class Cell:
    state: str
    date: dt.date | None = None     # the date that matters: completion, due date or expiry
    note: str = ""

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


NONE = Cell("none")


def completion_cell(*, completed_on: dt.date | None, valid_until: dt.date | None, due_date: dt.date | None,
                    required: bool, today: dt.date, expired_before: dt.date | None = None,
                    warning_days: int = EXPIRY_WARNING_DAYS) -> Cell:
    """The state of one required training for one person.

    completed_on/valid_until: the best current completion (a valid certificate), if any.
    due_date: the open requirement's due date (None: required without a date).
    required: whether the person must have this training at all (an open requirement, or the column applies).
    expired_before: the expiry date of an earlier completion that has lapsed (when there is no valid one).
    """
    if completed_on is not None and (valid_until is None or valid_until >= today):
        if valid_until is not None and (valid_until - today).days <= warning_days:
            return Cell("due", valid_until, f"Expires {valid_until.isoformat()}")
        note = f"Valid until {valid_until.isoformat()}" if valid_until else ""
        return Cell("done", completed_on, note)
    if not required and expired_before is None:
        return NONE
    if expired_before is not None and not (due_date is not None and expired_before < due_date < today):
        # Lapsed: "expired" says more than "overdue", unless a deadline set after the expiry was missed too.
        return Cell("expired", expired_before, f"Expired {expired_before.isoformat()}")
    if due_date is not None and due_date < today:
        return Cell("overdue", due_date, f"Was due {due_date.isoformat()}")
    if due_date is not None:
        return Cell("due", due_date, f"Due {due_date.isoformat()}")
    return Cell("due", None, "Not done yet")


def gcp_cell(*, certificate_date: dt.date | None, expiry: dt.date | None, today: dt.date,
             warning_days: int = EXPIRY_WARNING_DAYS) -> Cell:
    """GCP training from the roster: missing counts as overdue (staff need it before study tasks)."""
    if certificate_date is None and expiry is None:
        return Cell("overdue", None, "No GCP certificate recorded")
    if expiry is None:
        return Cell("done", certificate_date, "No expiry recorded")
    if expiry < today:
        return Cell("expired", expiry, f"Expired {expiry.isoformat()}")
    if (expiry - today).days <= warning_days:
        return Cell("due", expiry, f"Expires {expiry.isoformat()}")
    return Cell("done", certificate_date or expiry, f"Valid until {expiry.isoformat()}")


def worst(cells: list[Cell]) -> Cell:
    """The cell that needs attention most (a person on several sites' rosters: one row per person)."""
    order = {"overdue": 0, "expired": 1, "due": 2, "done": 3, "waived": 4, "none": 5}
    return min(cells, key=lambda c: (order[c.state], c.date or dt.date.max), default=NONE)


def tally(cells: list[Cell]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for cell in cells:
        counts[cell.state] += 1
    return counts
