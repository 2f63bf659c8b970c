"""Enrollment plan services: baselines, re-baselining, entries, generation; permissions and audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.core.errors import AccessDenied, Conflict, StaleVersion, ValidationFailed
from trialdesk.enrollment import services
from trialdesk.enrollment.models import EnrollmentPlan, EnrollmentPlanEntry

D = dt.date


@pytest.fixture
def plan(admin_user, study):
    return services.enrollment_plan_create(user=admin_user, study=study, data={"label": "Original"})


def _entry(user, plan, **data):
    base = {"planned_activation": D(2026, 3, 1), "planned_rate_per_month": 1.5}
    return services.enrollment_plan_entry_create(user=user, plan=plan, data={**base, **data})


def test_plan_create_is_baseline_1_with_the_study_target_and_lsi(plan, study):
    assert (plan.baseline, plan.is_current, plan.label) == (1, True, "Original")
    assert plan.target == 400 and plan.planned_last_subject_in == D(2027, 6, 30)
    event = AuditEvent.objects.get(record_type="enrollment.enrollmentplan", record_id=str(plan.pk))
    assert event.action == "create" and event.study_id == study.pk and event.changes["baseline"] == [None, 1]


def test_a_second_plan_is_refused_and_target_must_be_positive(plan, admin_user, study):
    with pytest.raises(Conflict):
        services.enrollment_plan_create(user=admin_user, study=study)
    with pytest.raises(ValidationFailed) as exc:
        services.enrollment_plan_update(user=admin_user, plan=plan, data={"target": 0}, version=plan.version,
                                        reason="typo")
    assert "target" in exc.value.errors


@pytest.mark.parametrize("role", [Role.CRA, Role.VIEWER, Role.SITE_COORDINATOR, Role.REGULATORY])
def test_only_plan_holders_change_plans(make_user, study, role):
    user = make_user(role, study=study)
    with pytest.raises(AccessDenied):
        services.enrollment_plan_create(user=user, study=study)


def test_cpm_creates_and_edits_with_reason_and_version(cpm, study):
    plan = services.enrollment_plan_create(user=cpm, study=study, data={"target": 300})
    with pytest.raises(ValidationFailed) as exc:
        services.enrollment_plan_update(user=cpm, plan=plan, data={"target": 320}, version=plan.version, reason="")
    assert "reason" in exc.value.errors
    plan.refresh_from_db()  # the refused call changed the object in memory only
    assert plan.target == 300
    plan = services.enrollment_plan_update(user=cpm, plan=plan, data={"target": 320}, version=plan.version,
                                           reason="Sample size re-estimated")
    assert plan.target == 320 and plan.version == 2
    with pytest.raises(StaleVersion):
        services.enrollment_plan_update(user=cpm, plan=plan, data={"target": 330}, version=1, reason="again")


def test_entries_are_for_a_site_or_a_country_once_each(plan, admin_user, sites, study):
    site_entry = _entry(admin_user, plan, site=sites[0], planned_subjects=30)
    country_entry = _entry(admin_user, plan, country=" Japan ")
    assert country_entry.country == "Japan" and site_entry.site_id == sites[0].pk
    cases = [
        ({"site": sites[1], "country": "France"}, "country"),
        ({}, "site"),
        ({"site": sites[0]}, "site"),                                 # second entry for the site
        ({"country": "japan"}, "country"),                            # same country, other case
        ({"site": sites[1], "planned_activation": D(1900, 1, 1)}, "planned_activation"),
        ({"site": sites[1], "planned_rate_per_month": -1}, "planned_rate_per_month"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationFailed) as exc:
            _entry(admin_user, plan, **data)
        assert field in exc.value.errors, (data, exc.value.errors)
    from trialdesk.sites.services import site_create
    from trialdesk.studies.services import study_create

    other = study_create(user=admin_user, data={"protocol_number": "OTHER-9", "brief_title": "Other"})
    foreign = site_create(user=admin_user, study=other, data={"institution": sites[0].institution,
                                                              "site_number": "X1"})
    with pytest.raises(ValidationFailed) as exc:
        _entry(admin_user, plan, site=foreign)
    assert "site" in exc.value.errors
    assert EnrollmentPlanEntry.objects.filter(plan=plan).count() == 2


def test_entry_update_and_delete_need_reasons_and_are_audited(plan, admin_user, sites):
    entry = _entry(admin_user, plan, site=sites[0])
    with pytest.raises(ValidationFailed):
        services.enrollment_plan_entry_update(user=admin_user, entry=entry, data={"planned_rate_per_month": 2.0},
                                              version=entry.version, reason="")
    with pytest.raises(ValidationFailed) as exc:  # would make it a site-and-country entry
        services.enrollment_plan_entry_update(user=admin_user, entry=entry, data={"country": "Germany"},
                                              version=entry.version, reason="x")
    assert "country" in exc.value.errors
    entry.refresh_from_db()
    entry = services.enrollment_plan_entry_update(user=admin_user, entry=entry, data={"planned_rate_per_month": 2.0},
                                                  version=entry.version, reason="Site feasibility update")
    assert entry.planned_rate_per_month == 2.0
    services.enrollment_plan_entry_delete(user=admin_user, entry=entry, version=entry.version, reason="Dropped")
    assert not EnrollmentPlanEntry.objects.filter(pk=entry.pk).exists()
    actions = list(AuditEvent.objects.filter(record_type="enrollment.enrollmentplanentry", record_id=str(entry.pk))
                   .order_by("seq").values_list("action", "reason"))
    assert actions == [("create", ""), ("update", "Site feasibility update"), ("delete", "Dropped")]


def test_rebaseline_copies_the_plan_and_keeps_the_old_baseline(plan, admin_user, sites):
    _entry(admin_user, plan, site=sites[0], planned_subjects=40)
    _entry(admin_user, plan, country="Japan", planned_rate_per_month=4)
    with pytest.raises(ValidationFailed) as exc:
        services.enrollment_plan_rebaseline(user=admin_user, plan=plan, reason="", version=plan.version)
    assert "reason" in exc.value.errors
    new = services.enrollment_plan_rebaseline(user=admin_user, plan=plan, reason="Amendment 2: more sites",
                                              version=plan.version, data={"target": 450, "label": "Amendment 2"})
    plan.refresh_from_db()
    assert (plan.is_current, plan.baseline, plan.target) == (False, 1, 400)
    assert (new.is_current, new.baseline, new.target, new.label) == (True, 2, 450, "Amendment 2")
    assert new.planned_last_subject_in == plan.planned_last_subject_in
    old_entries = {(e.site_id, e.country, e.planned_rate_per_month, e.planned_subjects) for e in plan.entries.all()}
    new_entries = {(e.site_id, e.country, e.planned_rate_per_month, e.planned_subjects) for e in new.entries.all()}
    assert old_entries == new_entries and len(new_entries) == 2
    # The old baseline is frozen: its entries cannot change any more.
    with pytest.raises(Conflict):
        _entry(admin_user, plan, site=sites[1])
    old = plan.entries.first()
    with pytest.raises(Conflict):
        services.enrollment_plan_entry_update(user=admin_user, entry=old, data={"planned_rate_per_month": 9},
                                              version=old.version, reason="x")
    with pytest.raises(Conflict):
        services.enrollment_plan_rebaseline(user=admin_user, plan=plan, reason="again", version=plan.version)
    third = services.enrollment_plan_rebaseline(user=admin_user, plan=new, reason="Again", version=new.version)
    assert third.baseline == 3
    assert list(EnrollmentPlan.objects.filter(study=plan.study).order_by("baseline")
                .values_list("baseline", "is_current")) == [(1, False), (2, False), (3, True)]
    events = AuditEvent.objects.filter(reason="Amendment 2: more sites")
    assert sorted(events.values_list("record_type", "action")) == [
        ("enrollment.enrollmentplan", "create"), ("enrollment.enrollmentplan", "update"),
        ("enrollment.enrollmentplanentry", "create"), ("enrollment.enrollmentplanentry", "create")]


def test_generate_entries_from_the_study_sites(plan, admin_user, sites):
    from trialdesk.sites.services import site_transition, site_update

    site_update(user=admin_user, site=sites[0], data={"planned_activated": D(2026, 4, 1)}, version=sites[0].version,
                reason="plan")
    site_transition(user=admin_user, site=sites[2], status="not_selected", version=sites[2].version,
                    reason="Not feasible")
    created, skipped = services.enrollment_plan_entries_generate(user=admin_user, plan=plan, rate_per_month=1.2)
    assert [(e.site_id, e.planned_activation) for e in created] == [(sites[0].pk, D(2026, 4, 1))]
    assert [s.pk for s in skipped] == [sites[1].pk]
    created, skipped = services.enrollment_plan_entries_generate(user=admin_user, plan=plan, rate_per_month=1.2,
                                                                 activation_date=D(2026, 5, 1), planned_subjects=25)
    assert [(e.site_id, e.planned_activation, e.planned_subjects) for e in created] == [
        (sites[1].pk, D(2026, 5, 1), 25)]
    assert skipped == []
    assert services.enrollment_plan_entries_generate(user=admin_user, plan=plan, rate_per_month=1.2,
                                                     activation_date=D(2026, 5, 1)) == ([], [])
    with pytest.raises(ValidationFailed):
        services.enrollment_plan_entries_generate(user=admin_user, plan=plan, rate_per_month=5000)
    assert AuditEvent.objects.filter(record_type="enrollment.enrollmentplanentry", action="create").count() == 2


def test_audit_chain_verifies_after_plan_work(plan, admin_user, sites, capsys):
    _entry(admin_user, plan, site=sites[0])
    services.enrollment_plan_rebaseline(user=admin_user, plan=plan, reason="Re-plan", version=plan.version)
    call_command("verify_audit")
    assert "hash chain intact" in capsys.readouterr().out
