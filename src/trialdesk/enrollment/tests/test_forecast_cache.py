"""Forecasts are cached by content: the same data gives the cached result (no Monte Carlo run), and any
change to what the forecast or its warnings depend on gives a fresh one, never a stale one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from trialdesk.enrollment import selectors
from trialdesk.enrollment.tests.conftest import AS_OF

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def _forecast(user, study):
    data = selectors.enrollment_data(user, study, as_of=AS_OF)
    return data, selectors.run_forecast(data)


def test_same_data_is_served_from_the_cache_with_its_warnings(enrolling, admin_user, study):
    data, first = _forecast(admin_user, study)
    assert not first.from_cache and first.engine is not None and first.warnings is None
    warnings = selectors.warnings_for(data, first)     # worked out from the engine, then cached with it
    assert warnings and warnings == selectors.warnings_for(data, first)
    _data, again = _forecast(admin_user, study)
    assert again.from_cache and again.engine is None and again.warnings == warnings
    assert (again.completion, again.probability_on_time, again.curve, again.sites) == \
        (first.completion, first.probability_on_time, first.curve, first.sites)
    assert selectors.enrollment_warnings(admin_user, study, data=data) == warnings


def test_warnings_of_a_cached_forecast_that_had_none_yet(enrolling, admin_user, study):
    """The forecast API caches a forecast without warnings; the overview asks for them later."""
    data, first = _forecast(admin_user, study)
    fresh = selectors.warnings_for(data, selectors.run_forecast(data, use_cache=False))
    _data, cached = _forecast(admin_user, study)
    assert cached.from_cache and cached.warnings is None
    assert selectors.warnings_for(data, cached) == fresh
    _data, later = _forecast(admin_user, study)
    assert later.from_cache and later.warnings == fresh


def test_a_new_subject_gives_a_fresh_forecast(enrolling, admin_user, study, sites, add_subjects):
    _data, before = _forecast(admin_user, study)
    add_subjects(sites[2], enrolled=[dt.date(2026, 4, 20)] * 5)
    _data, after = _forecast(admin_user, study)
    assert not after.from_cache
    assert after.enrolled == before.enrolled + 5


def test_plan_target_and_alert_settings_are_part_of_the_key(enrolling, admin_user, study):
    from trialdesk.enrollment.services import enrollment_plan_update
    from trialdesk.subjects.services import subject_settings_get_or_create, subject_settings_update

    data, before = _forecast(admin_user, study)
    enrollment_plan_update(user=admin_user, plan=enrolling, data={"target": 30}, version=enrolling.version,
                           reason="smaller study")
    _data, smaller = _forecast(admin_user, study)
    assert not smaller.from_cache and smaller.target == 30 and before.target != 30
    _forecast(admin_user, study)
    settings = subject_settings_get_or_create(user=admin_user, study=study)
    subject_settings_update(user=admin_user, study=study, data={"no_enrollment_alert_days": 7},
                            version=settings.version, reason="earlier alerts")
    data, stricter = _forecast(admin_user, study)
    assert not stricter.from_cache


def test_selection_and_target_override_are_separate_entries(enrolling, admin_user, study, sites):
    data = selectors.enrollment_data(admin_user, study, as_of=AS_OF)
    whole = selectors.run_forecast(data)
    one = selectors.run_forecast(data, selectors.Selection(site_ids=[sites[0].pk]))
    given = selectors.run_forecast(data, target=999)
    assert not one.from_cache and not given.from_cache
    assert one.selection != whole.selection and given.target == 999
    assert selectors.run_forecast(data, selectors.Selection(site_ids=[sites[0].pk])).from_cache
    # Only the whole-study forecast at the plan's target is the study's (its warnings are cached with it).
    assert whole.study_level and not one.study_level and not given.study_level


def test_no_cache_means_same_result(enrolling, admin_user, study):
    data = selectors.enrollment_data(admin_user, study, as_of=AS_OF)
    cached = selectors.run_forecast(data)
    uncached = selectors.run_forecast(data, use_cache=False)
    assert not uncached.from_cache and uncached.completion == cached.completion


def test_user_without_visible_sites_gets_empty_data(enrolling, make_user, study, sites, admin_user, client):
    """A CRA whose only site was deleted sees no site of the study: empty data and pages, never an error."""
    from trialdesk.accounts.roles import Role
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_delete

    cra = make_user(Role.CRA, study=study, sites=[sites[2]], username="cra-gone")
    site = StudySite.objects.get(pk=sites[2].pk)
    site_delete(user=admin_user, site=site, version=site.version, reason="never opened")
    data = selectors.enrollment_data(cra, study, as_of=AS_OF)
    assert data.sites == [] and data.daily == {}
    client.force_login(cra)
    assert client.get(f"/studies/{study.pk}/").status_code == 200


def test_enrollment_data_cached_until_the_study_changes(enrolling, admin_user, study, sites, add_subjects):
    """The loaded data is cached; an audited change to the study, or subject rows written even without one,
    give fresh data; institution names are always current."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from trialdesk.organizations.models import Organization
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_update

    with CaptureQueriesContext(connection) as loading:
        first = selectors.enrollment_data(admin_user, study, as_of=AS_OF)
    with CaptureQueriesContext(connection) as cached:
        again = selectors.enrollment_data(admin_user, study, as_of=AS_OF)
    assert not any("subjects_subject\".\"site_id\" AS" in q["sql"] for q in cached.captured_queries)
    assert len(cached.captured_queries) < len(loading.captured_queries)
    assert again is not first and [r.counts for r in again.sites] == [r.counts for r in first.sites]
    add_subjects(sites[2], enrolled=[dt.date(2026, 4, 20)] * 2)                     # rows without an audit event
    more = selectors.enrollment_data(admin_user, study, as_of=AS_OF)
    assert sum(r.enrolled for r in more.sites) == sum(r.enrolled for r in first.sites) + 2
    site = StudySite.objects.get(pk=sites[2].pk)
    site_update(user=admin_user, site=site, data={"country": "Portugal"}, version=site.version, reason="moved")
    moved = selectors.enrollment_data(admin_user, study, as_of=AS_OF)
    assert "Portugal" in moved.countries
    Organization.objects.filter(pk=sites[0].institution_id).update(name="Renamed Hospital")
    renamed = selectors.enrollment_data(admin_user, study, as_of=AS_OF)
    assert renamed.sites[0].site.institution.name == "Renamed Hospital"
    # Another day, another entry; an uncached load gives the same numbers as a cached one.
    fresh = selectors.enrollment_data(admin_user, study, as_of=AS_OF, use_cache=False)
    assert [r.counts for r in fresh.sites] == [r.counts for r in renamed.sites]
