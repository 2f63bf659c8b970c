"""The one shared interface through which areas add items to "My work".

Each entry is the dotted path of a provider function `provider(user, today) -> Iterable[WorkItem]`
(see `trialdesk.workqueue.items`). A provider only returns items the user may see and act on.
"""

from __future__ import annotations

PROVIDERS: list[str] = [
    "trialdesk.startup.work.work_items",
    "trialdesk.staff.work.work_items",
    "trialdesk.training.work.work_items",
    "trialdesk.enrollment.work.work_items",
]
