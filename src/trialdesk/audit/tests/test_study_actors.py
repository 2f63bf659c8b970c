"""The study history's user filter: the distinct (user, printed name) pairs of the study's trail, found by index
probes rather than a DISTINCT over the whole trail."""

from __future__ import annotations

import pytest

from trialdesk.accounts.roles import Role
from trialdesk.audit.selectors import study_actors
from trialdesk.audit.services import AuditDraft, audit_events_append

pytestmark = pytest.mark.django_db


def _events(actor, study_id, n=1):
    audit_events_append(actor=actor, drafts=[AuditDraft(action="update", record_type="studies.study",
                                                        record_id=str(study_id), study_id=study_id)] * n)


def test_study_actors_lists_each_user_once_with_the_latest_name(make_user, study, admin_user):
    from trialdesk.studies.services import study_create

    other = study_create(user=admin_user, data={"protocol_number": "OTHER-9", "brief_title": "Other"})
    zoe, abe, outsider = (make_user(Role.CPM, username=name) for name in ("zoe", "abe", "outsider"))
    _events(zoe, study.pk, 3)
    _events(abe, study.pk)
    _events(outsider, other.pk)
    _events(None, study.pk)                      # a system event: no user name
    abe.person.last_name = "Renamed"
    abe.person.save()
    _events(abe, study.pk)
    actors = study_actors(study.pk)
    # Exactly what a DISTINCT over the whole trail gives, in the same order.
    from trialdesk.audit.models import AuditEvent

    assert actors == list(AuditEvent.objects.filter(study_id=study.pk).order_by("actor_username", "actor_name")
                          .values_list("actor_username", "actor_name").distinct())
    names = [u for u, _n in actors]
    assert "outsider" not in names and {"zoe", "abe", "admin"} <= set(names)
    assert ("abe", "Abe Renamed") in actors and ("abe", "Abe Tester") in actors and names.count("zoe") == 1
    assert study_actors(987654) == []


def test_study_history_page_offers_the_study_users(client, make_user, study, admin_user):
    auditor = make_user(Role.AUDITOR, study=study, username="inspector")
    _events(auditor, study.pk)
    client.force_login(admin_user)
    html = client.get(f"/studies/{study.pk}/audit/").content.decode()
    assert '<option value="inspector">Inspector Tester (inspector)</option>' in html
    filtered = client.get(f"/studies/{study.pk}/audit/", {"actor": "inspector"})
    assert [e.actor_username for e in filtered.context["audit"]["events"]] == ["inspector"]
