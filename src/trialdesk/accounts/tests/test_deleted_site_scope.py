"""A membership limited to named sites stays limited when one of those sites is (soft-)deleted."""

import pytest

from trialdesk.accounts import permissions
from trialdesk.accounts.roles import Role

pytestmark = pytest.mark.django_db


def test_membership_limited_to_a_deleted_site_does_not_become_study_wide(make_user, admin_user, study, sites):
    from trialdesk.sites.models import StudySite
    from trialdesk.sites.services import site_delete

    cra = make_user(Role.CRA, study=study, sites=[sites[2]], username="cra-deleted-site")
    site = StudySite.objects.get(pk=sites[2].pk)
    site_delete(user=admin_user, site=site, version=site.version, reason="never opened")
    permissions.forget(cra)
    assert not permissions.has_perm(cra, "site.view", sites[0])
    assert not permissions.has_perm(cra, "audit.view", study, whole_study=True)
    assert list(permissions.visible_sites(cra)) == []
