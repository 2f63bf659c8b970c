"""Start-up items for "My work": overdue milestones (overdue) and milestones at risk (due).

A milestone is the user's when they are its owner; a milestone without an owner belongs to everyone who may
edit start-up at that site (startup.edit). Sites past activation (or not selected) are left out.
"""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from trialdesk.accounts import permissions
from trialdesk.startup.models import StartupMilestoneDefinition
from trialdesk.startup.selectors import build_site_startups, definitions_of, startup_sites
from trialdesk.workqueue.items import WorkItem

FINISHED_SITE_STATUSES = frozenset({"activated", "enrolling", "closed_to_enrollment", "closed_out", "not_selected"})


def work_items(user, today: dt.date) -> list[WorkItem]:
    study_ids = set(StartupMilestoneDefinition.objects.values_list("study_id", flat=True).distinct())
    if not study_ids:
        return []
    items: list[WorkItem] = []
    for study in permissions.visible_studies(user, "startup.view").filter(pk__in=study_ids, is_deleted=False) \
            .order_by("protocol_number"):
        sites = startup_sites(user, study).exclude(status__in=FINISHED_SITE_STATUSES)
        for startup in build_site_startups(sites, definitions_of(study.pk), today):
            site = startup.site
            may_edit = None
            for row in startup.rows:
                if row.state not in ("overdue", "at_risk"):
                    continue
                if row.owner is not None:
                    if row.owner.pk != user.pk:
                        continue
                else:
                    if may_edit is None:
                        may_edit = permissions.has_perm(user, "startup.edit", site)
                    if not may_edit:
                        continue
                items.append(_item(study, startup, row, today))
    return items


def _item(study, startup, row, today: dt.date) -> WorkItem:
    site = startup.site
    if row.state == "overdue":
        late = (today - row.planned).days
        when = f"overdue {late} day{'s' if late != 1 else ''}"
        severity = "overdue"
    else:
        when = f"at risk: planned {row.planned.isoformat()}"
        if row.projected and row.projected > row.planned:
            when += f", projected {row.projected.isoformat()}"
        severity = "due"
    waiting = ""
    if row.plan is not None and row.plan.open_dependencies:
        labels = startup.labels()
        waiting = "Waiting for: " + ", ".join(labels.get(k, k) for k in row.plan.open_dependencies)
    return WorkItem(
        kind=f"startup.milestone_{row.state}",
        title=f"{row.label} — site {site.site_number} ({when})",
        severity=severity,
        due_date=row.planned,
        study_id=study.pk,
        study_label=study.protocol_number,
        site_id=site.pk,
        site_label=f"{site.site_number} {site.institution.name}",
        url=reverse("site-startup", args=[site.pk]),
        detail=waiting,
        key=f"sitemilestone:{site.pk}:{row.definition.pk}",
    )
