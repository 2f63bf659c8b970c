"""Work-queue provider: the enrollment bottleneck warnings of the studies a user plans enrollment for.

`work_items(user, today)` (registered in `trialdesk.workqueue.registry`) wraps
`enrollment.selectors.enrollment_warnings` for every study the user may see and holds `enrollment.plan` on
(the people who can act on a warning by re-planning or talking to sites), as of `today`.

Each study costs one forecast (the Poisson-gamma engine, ~4000 simulations), so:
* only studies that can have warnings are looked at: status start-up or enrolling, with a target (the study's
  planned enrollment or a current enrollment plan) and at least one site;
* the result is cached on the user object for the day asked about (a web request or API call keeps one user
  object, so the page and its counts never run the forecasts twice), and, inside a work-queue batch
  (`trialdesk.workqueue.batch`, used by `send_reminders`), shared between users who see the whole study, so a
  study's forecast runs once per job.

Severity: a critical warning is "due" (act on it now); other warnings are "info".
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from trialdesk.accounts import permissions
from trialdesk.enrollment.models import EnrollmentPlan
from trialdesk.enrollment.selectors import enrollment_data, enrollment_warnings
from trialdesk.enrollment.templatetags.enrollment_tags import FLAG_LABELS, flag_label
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import Study
from trialdesk.workqueue import batch
from trialdesk.workqueue.items import WorkItem

# Study statuses whose enrollment can still be steered (planning: no sites recruiting; closed: nothing to steer).
ACTIVE_STATUSES = ("start_up", "enrolling")

SEVERITY = {"critical": "due", "warning": "info", "info": "info"}

# Labels for "My work" (filters, the kind column).
KIND_LABELS = {f"enrollment.{code}": label for code, label in FLAG_LABELS.items()}

_USER_CACHE_ATTR = "_trialdesk_work_enrollment"


def candidate_studies(user):
    """The studies worth a forecast for this user: visible, enrollment.plan held, active, with a target and
    at least one site (one query)."""
    plannable = permissions.visible_studies(user, "enrollment.plan")
    visible = permissions.visible_studies(user)
    readable = permissions.visible_studies(user, "enrollment.view")
    has_plan_target = EnrollmentPlan.objects.filter(study=OuterRef("pk"), is_current=True, is_deleted=False,
                                                    target__gt=0)
    has_site = StudySite.objects.filter(study=OuterRef("pk"), is_deleted=False)
    return (plannable.filter(pk__in=visible.values("pk"), status__in=ACTIVE_STATUSES)
            .filter(pk__in=readable.values("pk"))
            .filter(Q(planned_enrollment__gt=0) | Exists(has_plan_target))
            .filter(Exists(has_site))
            .order_by("protocol_number", "pk"))


def _warnings(user, study: Study, today: dt.date) -> list[dict]:
    shared = batch.shared("enrollment")  # (study pk, as-of date) -> warnings for whole-study viewers
    whole = permissions.has_perm(user, "enrollment.view", study, whole_study=True)
    key = (study.pk, today)
    if shared is not None and whole and key in shared:
        return shared[key]
    warnings = enrollment_warnings(user, study, data=enrollment_data(user, study, as_of=today))
    if shared is not None and whole:
        shared[key] = warnings
    return warnings


def _items(study: Study, warnings: list[dict]) -> list[WorkItem]:
    url = reverse("study-enrollment", args=[study.pk])
    out = []
    for w in warnings:
        site = w.get("site_number") or ""
        title = flag_label(w["code"]) + (f": site {site}" if site else "")
        out.append(WorkItem(
            kind=f"enrollment.{w['code']}", title=title, severity=SEVERITY.get(w["severity"], "info"),
            study_id=study.pk, study_label=study.protocol_number, site_id=w.get("site_id"), site_label=site,
            url=url, detail=w["message"], key=f"enrollment:{study.pk}:{w['code']}:{w.get('site_id') or ''}"))
    return out


def work_items(user, today: dt.date) -> list[WorkItem]:
    """Enrollment warnings of the user's active studies as work items (cached on `user` for `today`)."""
    cached = getattr(user, _USER_CACHE_ATTR, None)
    if cached is not None and cached[0] == today:
        return list(cached[1])
    if not permissions.has_perm(user, "enrollment.plan"):
        items: list[WorkItem] = []
    else:
        items = [item for study in candidate_studies(user) for item in _items(study, _warnings(user, study, today))]
    setattr(user, _USER_CACHE_ATTR, (today, items))
    return list(items)
