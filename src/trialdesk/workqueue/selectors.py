"""Reads for "My work": every provider's items for one user, sorted, de-duplicated, filtered and counted.

Providers are listed in `trialdesk.workqueue.registry.PROVIDERS` (dotted paths). A provider that fails (cannot
be imported, raises, returns something that is not a WorkItem) does not take the page down: its error is
logged with the traceback (logger `trialdesk.workqueue`) and the result carries a notice naming the area, so
the reader knows the list is incomplete.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import Counter
from dataclasses import dataclass, field
from importlib import import_module

from django.utils.module_loading import import_string

from trialdesk.workqueue import registry
from trialdesk.workqueue.items import SEVERITIES, WorkItem

logger = logging.getLogger("trialdesk.workqueue")

SEVERITY_LABELS = {"overdue": "Overdue", "due": "Due", "upcoming": "Upcoming", "info": "For information"}

# Area (the first part of a kind or of a provider's module path) -> label shown to people.
AREA_LABELS = {"startup": "Start-up", "staff": "Staff & delegation", "training": "Training",
               "enrollment": "Enrollment"}

# What the daily reminder e-mail lists.
REMINDER_SEVERITIES = ("overdue", "due")


def area_of(kind_or_path: str) -> str:
    """"startup.milestone_overdue" -> "startup"; "trialdesk.startup.work.work_items" -> "startup"."""
    parts = kind_or_path.split(".")
    if parts[0] == "trialdesk" and len(parts) > 1:
        return parts[1]
    return parts[0]


def area_label(area: str) -> str:
    return AREA_LABELS.get(area, area.replace("_", " ").capitalize())


def kind_labels() -> dict[str, str]:
    """Labels that providers declare for their kinds: an optional `KIND_LABELS = {kind: label}` in the
    provider's module (a module that cannot be imported is reported by `work_items_for`, not here)."""
    return dict(_kind_labels(tuple(registry.PROVIDERS)))


@functools.lru_cache(maxsize=8)
def _kind_labels(providers: tuple[str, ...]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for path in providers:
        try:
            module = import_module(path.rpartition(".")[0])
        except ImportError:
            continue
        labels.update(getattr(module, "KIND_LABELS", None) or {})
    return labels


def kind_label(kind: str, labels: dict[str, str] | None = None) -> str:
    """"startup.milestone_overdue" -> "Start-up: Milestone overdue" (the provider's own label when it has one)."""
    area, _, rest = kind.partition(".")
    own = (kind_labels() if labels is None else labels).get(kind)
    if own:
        return f"{area_label(area)}: {own}"
    return f"{area_label(area)}: {rest.replace('_', ' ').capitalize()}" if rest else area_label(area)


@dataclass
class WorkQueue:
    """One user's work as of a day: items (most urgent first) and notices about providers that failed."""

    user_id: int | None
    as_of: dt.date
    items: list[WorkItem]
    notices: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)      # dotted paths of the providers that failed

    @property
    def count(self) -> int:
        return len(self.items)

    def by_severity(self) -> dict[str, int]:
        counts = Counter(i.severity for i in self.items)
        return {s: counts.get(s, 0) for s in SEVERITIES}

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(i.kind for i in self.items).items()))

    def by_study(self) -> list[dict]:
        """[{study_id, study_label, count}] by study label; items about no study have study_id None."""
        counts: Counter = Counter((i.study_id, i.study_label) for i in self.items)
        return [{"study_id": sid, "study_label": label, "count": n}
                for (sid, label), n in sorted(counts.items(), key=lambda kv: (kv[0][0] is None, kv[0][1]))]

    def filtered(self, *, study_id: int | None = None, kind: str | None = None,
                 severity: str | None = None) -> WorkQueue:
        """The items about one study, of one kind (an exact kind, or an area such as "startup"), of one
        severity; the notices stay."""
        items = self.items
        if study_id is not None:
            items = [i for i in items if i.study_id == study_id]
        if kind:
            items = [i for i in items if i.kind == kind or area_of(i.kind) == kind]
        if severity:
            items = [i for i in items if i.severity == severity]
        return WorkQueue(user_id=self.user_id, as_of=self.as_of, items=items, notices=list(self.notices),
                         failed=list(self.failed))

    def grouped(self) -> list[dict]:
        """For the page: [{severity, label, count, studies: [{study_id, study_label, items}]}], most urgent
        first; within a severity, studies by label (items about no study last), items in queue order."""
        groups = []
        for severity in SEVERITIES:
            items = [i for i in self.items if i.severity == severity]
            if not items:
                continue
            studies: dict[tuple, list[WorkItem]] = {}
            for item in items:
                studies.setdefault((item.study_id, item.study_label), []).append(item)
            ordered = sorted(studies.items(), key=lambda kv: (kv[0][0] is None, kv[0][1]))
            groups.append({"severity": severity, "label": SEVERITY_LABELS[severity], "count": len(items),
                           "studies": [{"study_id": sid, "study_label": label, "items": rows}
                                       for (sid, label), rows in ordered]})
        return groups


def _load(path: str):
    return import_string(path)


def _dedupe(items: list[WorkItem]) -> list[WorkItem]:
    """Sorted most urgent first; of items with the same key (the same underlying record), the first (most
    urgent) stays. Items without a key are kept unless exactly equal to one already kept."""
    seen: set = set()
    out = []
    for item in sorted(items, key=WorkItem.sort_key):
        marker = ("key", item.key) if item.key else ("item", item)
        if marker in seen:
            continue
        seen.add(marker)
        out.append(item)
    return out


def work_items_for(user, today: dt.date, *, providers: list[str] | None = None) -> WorkQueue:
    """Everything `user` should act on as of `today`, from every registered provider (each does its own
    permission checks), most urgent first, without duplicates."""
    collected: list[WorkItem] = []
    notices: list[str] = []
    failed: list[str] = []
    for path in registry.PROVIDERS if providers is None else providers:
        try:
            provider = _load(path)
            items = list(provider(user, today))
            bad = [i for i in items if not isinstance(i, WorkItem)]
            if bad:
                raise TypeError(f"{path} returned {type(bad[0]).__name__}, not WorkItem")
        except Exception:
            # Never let one area take the whole list down, and never hide it: log the traceback, tell the user.
            logger.exception("Work-queue provider %s failed for user %s (as of %s)", path,
                             getattr(user, "pk", None), today)
            failed.append(path)
            notices.append(f"{area_label(area_of(path))} items could not be loaded because of an error (it has "
                           f"been logged for the administrators). The other items are complete.")
            continue
        collected.extend(items)
    return WorkQueue(user_id=getattr(user, "pk", None), as_of=today, items=_dedupe(collected), notices=notices,
                     failed=failed)
