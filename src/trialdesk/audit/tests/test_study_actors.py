"""The study history's user filter: every user of the study's trail once, with the latest printed name, found
by index probes rather than a DISTINCT over the whole trail."""

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
    names = [u for u, _n in actors]
    assert names == sorted(set(names)) and "outsider" not in names
    assert {"zoe", "abe", "admin"} <= set(names)
    assert dict(actors)["abe"] == "Abe Renamed" and dict(actors)["zoe"] == "Zoe Tester"
    assert study_actors(987654) == []


def test_study_history_page_offers_the_study_users(client, make_user, study, admin_user):
    auditor = make_user(Role.AUDITOR, study=study, username="inspector")
    _events(auditor, study.pk)
    client.force_login(admin_user)
    html = client.get(f"/studies/{study.pk}/audit/").content.decode()
    assert '<option value="inspector">Inspector Tester (inspector)</option>' in html
    filtered = client.get(f"/studies/{study.pk}/audit/", {"actor": "inspector"})
    assert [e.actor_username for e in filtered.context["audit"]["events"]] == ["inspector"]
