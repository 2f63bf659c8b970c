from __future__ import annotations

import pytest
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.core.errors import AccessDenied, InvalidTransition, ValidationFailed
from trialdesk.sites.services import site_create, site_transition, site_update


def test_site_number_unique_within_study(study, sites, admin_user):
    with pytest.raises(ValidationFailed) as exc:
        site_create(user=admin_user, study=study, data={"institution": sites[0].institution, "site_number": "001"})
    assert exc.value.errors


def test_site_lifecycle_records_actual_dates(sites, admin_user):
    site = sites[0]
    with pytest.raises(InvalidTransition):
        site_transition(user=admin_user, site=site, status="activated", version=site.version, reason="r")
    site = site_transition(user=admin_user, site=site, status="selected", version=site.version,
                           reason="Feasibility passed")
    assert site.actual_selected == timezone.localdate()
    site = site_transition(user=admin_user, site=site, status="start_up", version=site.version, reason="go")
    site = site_transition(user=admin_user, site=site, status="activated", version=site.version, reason="SIV done")
    assert site.status == "activated" and site.actual_activated == timezone.localdate()


def test_cra_edits_only_assigned_sites(study, sites, make_user):
    cra = make_user(Role.CRA, study=study, sites=[sites[0]])
    site_update(user=cra, site=sites[0], data={"city": "Berlin"}, version=sites[0].version, reason="Address")
    with pytest.raises(AccessDenied):
        site_update(user=cra, site=sites[1], data={"city": "Rochester"}, version=sites[1].version, reason="r")
    with pytest.raises(AccessDenied):
        site_transition(user=cra, site=sites[0], status="selected", version=sites[0].version + 1, reason="r")


def test_latitude_range_validated(sites, admin_user):
    with pytest.raises(ValidationFailed) as exc:
        site_update(user=admin_user, site=sites[0], data={"latitude": 123.0}, version=sites[0].version, reason="geo")
    assert "latitude" in exc.value.errors
