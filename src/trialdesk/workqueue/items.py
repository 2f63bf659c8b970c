"""What a work-queue item is (pure, no Django): every area's provider yields these.

A provider is a function `provider(user, today: date) -> Iterable[WorkItem]` returning the items the given
user should act on (their own permission checks included). Providers are listed by dotted path in
`trialdesk.workqueue.registry.PROVIDERS`; later features add theirs there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# Severity order for sorting: what is late first.
SEVERITIES = ("overdue", "due", "upcoming", "info")


@dataclass(frozen=True)
class WorkItem:
    kind: str              # stable machine key, e.g. "startup.milestone_overdue", "staff.delegation_unsigned"
    title: str             # one line a person reads: "Contract executed — site 101 (overdue 12 days)"
    severity: str          # one of SEVERITIES
    due_date: dt.date | None = None
    study_id: int | None = None
    study_label: str = ""  # protocol number, for display
    site_id: int | None = None
    site_label: str = ""
    url: str = ""          # where in the web UI to act on it
    detail: str = ""
    key: str = field(default="")  # identifies the underlying record, e.g. "sitemilestone:42"

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def sort_key(self):
        return (SEVERITIES.index(self.severity), self.due_date or dt.date.max, self.study_label, self.site_label,
                self.title)
