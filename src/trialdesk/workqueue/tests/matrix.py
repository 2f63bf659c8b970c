"""Permission-matrix entries for "My work" (read by core/tests/test_api_permission_matrix.py and
test_page_permission_matrix.py): open to every logged-in user, listing only the caller's own items."""

from __future__ import annotations

import datetime as dt


def _warned(w, caller, path):
    """Study A enrolling towards its target, site A1 active for 200 days without a subject: a critical
    "no enrollment" warning for those who plan study A's enrollment (made in the caller's rolled-back savepoint)."""
    from django.utils import timezone

    from trialdesk.enrollment.services import enrollment_plan_create, enrollment_plan_entry_create
    from trialdesk.sites.services import site_update
    from trialdesk.studies.services import study_transition

    admin = w.users[next(k for k in w.users if k[0].value == "admin" and k[1] == "portfolio")][0]
    study = w.study
    for status in ("start_up", "enrolling"):
        study.refresh_from_db()
        study = study_transition(user=admin, study=study, status=status, version=study.version, reason="matrix")
    activated = timezone.localdate() - dt.timedelta(days=200)
    plan = enrollment_plan_create(user=admin, study=study)
    enrollment_plan_entry_create(user=admin, plan=plan, data={"site": w.site, "planned_activation": activated,
                                                              "planned_rate_per_month": 2.0})
    site = type(w.site).objects.get(pk=w.site.pk)
    site_update(user=admin, site=site, data={"actual_activated": activated}, version=site.version, reason="matrix")
    return path, None, None


def _lists_the_warning(w, caller, body) -> bool:
    return any(i["kind"] == "enrollment.no_enrollment" and i["study_id"] == w.study.pk and i["site_id"] == w.site.pk
               for i in body["items"])


def api_operations(m) -> dict:
    return {
        ("GET", "/my-work"): m.Op(_warned, listed=("enrollment.plan", "study"), contains=_lists_the_warning),
    }


def pages(m) -> dict:
    return {"my-work": m.on()}
