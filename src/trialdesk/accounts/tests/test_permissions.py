"""The permission module: role x scope decisions."""

from __future__ import annotations

import pytest

from trialdesk.accounts import permissions
from trialdesk.accounts.roles import ROLE_PERMISSIONS, Role
from trialdesk.studies.services import study_create


@pytest.fixture
def other_study(admin_user):
    return study_create(user=admin_user, data={"protocol_number": "OTHER-2", "brief_title": "Another study"})


@pytest.mark.parametrize("role", list(Role))
def test_study_member_rights_follow_the_role_table(role, study, sites, other_study, make_user):
    user = make_user(role, study=study)
    for perm in ("study.view", "study.edit", "site.edit", "protocol.approve", "audit.export"):
        expected = perm in ROLE_PERMISSIONS[role]
        assert permissions.has_perm(user, perm, study) is expected, (role, perm)
        assert permissions.has_perm(user, perm, other_study) is False
    # portfolio-only permissions never come from a study membership
    assert not permissions.has_perm(user, "study.create")
    assert not permissions.has_perm(user, "ctgov.import")


def test_site_scoped_membership(study, sites, make_user):
    cra = make_user(Role.CRA, study=study, sites=[sites[0]])
    assert permissions.has_perm(cra, "site.view", sites[0])
    assert not permissions.has_perm(cra, "site.view", sites[1])
    assert permissions.has_perm(cra, "study.view", study)
    assert not permissions.has_perm(cra, "audit.view", study, whole_study=True)
    assert list(permissions.visible_sites(cra)) == [sites[0]]


def test_portfolio_roles(study, other_study, make_user):
    auditor = make_user(Role.AUDITOR)
    assert set(permissions.visible_studies(auditor)) == {study, other_study}
    assert permissions.has_perm(auditor, "audit.export", study)
    assert not any(permissions.has_perm(auditor, p, study) for p in ("study.edit", "site.edit", "study.create"))
    cpm = make_user(Role.CPM)
    assert permissions.has_perm(cpm, "study.create") and permissions.has_perm(cpm, "ctgov.import")


def test_revoked_and_inactive_users_have_nothing(study, make_user, admin_user):
    from trialdesk.accounts.services import membership_revoke, user_deactivate

    viewer = make_user(Role.VIEWER, study=study)
    membership_revoke(actor=admin_user, membership=viewer.memberships.get(), reason="Left the team")
    assert not permissions.has_perm(viewer, "study.view", study)
    cpm = make_user(Role.CPM, study=study)
    user_deactivate(actor=admin_user, user=cpm, reason="Left the company")
    assert not permissions.has_perm(cpm, "study.view", study)


def test_anonymous_has_nothing(study):
    from django.contrib.auth.models import AnonymousUser

    assert not permissions.has_perm(AnonymousUser(), "study.view", study)
    assert permissions.visible_studies(AnonymousUser()).count() == 0
