"""The enrollment provider: bottleneck warnings of the studies a user plans enrollment for, as work items."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from trialdesk.accounts.roles import Role
from trialdesk.enrollment import work
from trialdesk.enrollment.selectors import enrollment_data, enrollment_warnings
from trialdesk.workqueue import batch

from .conftest import AS_OF


def test_a_planner_gets_the_studys_warnings_as_items(warned_study, cpm, sites):
    items = work.work_items(cpm, AS_OF)
    warnings = enrollment_warnings(cpm, warned_study, data=enrollment_data(cpm, warned_study, as_of=AS_OF))
    assert len(items) == len(warnings) > 0
    by_key = {i.key: i for i in items}
    no_enrollment = by_key[f"enrollment:{warned_study.pk}:no_enrollment:{sites[2].pk}"]
    assert no_enrollment.kind == "enrollment.no_enrollment"
    assert no_enrollment.severity == "due"  # critical: 135 days active without a subject
    assert no_enrollment.title == "No enrollment: site 003"
    assert no_enrollment.site_id == sites[2].pk and no_enrollment.site_label == "003"
    assert no_enrollment.study_label == "ACME-301" and no_enrollment.url == f"/studies/{warned_study.pk}/enrollment/"
    assert "135 days since activation on 2026-02-15" in no_enrollment.detail
    assert {i.severity for i in items} <= {"due", "info"}
    critical = {w["code"] for w in warnings if w["severity"] == "critical"}
    assert {i.kind.removeprefix("enrollment.") for i in items if i.severity == "due"} == critical


def test_only_holders_of_enrollment_plan_on_the_study_get_items(warned_study, make_user, sites):
    from trialdesk.studies.services import study_create

    other = study_create(user=make_user(Role.ADMIN), data={"protocol_number": "OTHER-9", "brief_title": "Other"})
    assert work.work_items(make_user(Role.CPM, study=other), AS_OF) == []
    assert work.work_items(make_user(Role.VIEWER, study=warned_study), AS_OF) == []
    assert work.work_items(make_user(Role.CRA, study=warned_study, sites=[sites[0]]), AS_OF) == []
    assert work.work_items(make_user(Role.CPM, study=warned_study), AS_OF)
    assert work.work_items(make_user(Role.ADMIN), AS_OF)  # portfolio-wide


def test_inactive_studies_are_not_forecast(warned_study, admin_user, cpm):
    from trialdesk.studies.services import study_transition

    assert [s.pk for s in work.candidate_studies(cpm)] == [warned_study.pk]
    study_transition(user=admin_user, study=warned_study, status="closed_to_enrollment",
                     version=warned_study.version, reason="closed")
    assert list(work.candidate_studies(cpm)) == []
    cpm = type(cpm).objects.get(pk=cpm.pk)  # a new request: no cached items
    assert work.work_items(cpm, AS_OF) == []


def test_a_study_without_target_or_sites_is_not_forecast(admin_user, cpm, study):
    from trialdesk.studies.services import study_transition, study_update

    study = study_transition(user=admin_user, study=study, status="start_up", version=study.version, reason="go")
    assert list(work.candidate_studies(cpm)) == []  # no site yet
    from trialdesk.organizations.services import organization_create
    from trialdesk.sites.services import site_create

    inst = organization_create(user=admin_user, data={"name": "Clinic", "kind": "institution"})
    site_create(user=admin_user, study=study, data={"institution": inst, "site_number": "900"})
    assert [s.pk for s in work.candidate_studies(cpm)] == [study.pk]
    study_update(user=admin_user, study=study, data={"planned_enrollment": None}, version=study.version,
                 reason="no target yet")
    assert list(work.candidate_studies(cpm)) == []


def test_items_are_cached_on_the_user_for_the_day(warned_study, cpm):
    first = work.work_items(cpm, AS_OF)
    with CaptureQueriesContext(connection) as queries:
        again = work.work_items(cpm, AS_OF)
    assert again == first and len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        work.work_items(cpm, AS_OF + dt.timedelta(days=1))
    assert len(queries) > 0  # another day is computed afresh


def test_a_batch_shares_a_studys_forecast_between_whole_study_users(warned_study, cpm, admin_user):
    with batch.batch():
        first = work.work_items(cpm, AS_OF)
        with CaptureQueriesContext(connection) as queries:
            second = work.work_items(admin_user, AS_OF)
    assert second == first
    # The admin's own queries (candidate studies, permissions) but not the five of enrollment_data.
    assert not any("subjects_subject" in q["sql"] for q in queries.captured_queries)
    assert batch.shared("enrollment") is None  # outside the batch nothing is shared
