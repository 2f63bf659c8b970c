"""Every registered provider at once (the real registry, nothing replaced): start-up, staff, training and
enrollment items made through their own services reach the right people on the page, in the API and in the
reminder e-mail, and no area reports a failure."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.workqueue import registry
from trialdesk.workqueue.selectors import work_items_for

from .conftest import make_warned

AREAS = {"startup", "staff", "training", "enrollment"}


def test_the_registry_lists_all_four_providers():
    assert {p.split(".")[1] for p in registry.PROVIDERS} == AREAS
    assert all(p.endswith(".work.work_items") for p in registry.PROVIDERS)


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def world(db, admin_user, study, sites, make_user, today):
    """Site 001 of the shared study, as of today:
    * enrollment: every site active for 135+ days without a subject (critical warnings);
    * start-up: the confidentiality agreement planned 3 days ago and not done, no owner;
    * staff: a coordinator on the roster whose GCP certificate expires in 20 days, with a delegation for data
      entry proposed from 5 days ago, waiting for the PI's signature;
    * training: the coordinator's refresher was due 3 days ago.
    """
    from trialdesk.staff.services import delegations_create
    from trialdesk.staff.tests.helpers import make_site_pi, put_on_roster
    from trialdesk.startup.models import StartupMilestoneDefinition
    from trialdesk.startup.services import site_milestone_update, startup_template_ensure
    from trialdesk.training.services import training_requirement_create

    study = make_warned(admin_user, study, sites, today)  # before the template: it then owns the site dates
    site = sites[0]
    startup_template_ensure(user=admin_user, study=study)
    definition = StartupMilestoneDefinition.objects.get(study=study, key="confidentiality_agreement")
    site.refresh_from_db()
    site_milestone_update(user=admin_user, site=site, definition=definition,
                          data={"planned_date": today - dt.timedelta(days=3)}, version=0, reason="planned")

    pi = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, sites=[site], username="pi")
    make_site_pi(admin_user, site, pi, start=today - dt.timedelta(days=100))
    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[site], username="coordinator")
    staff = put_on_roster(admin_user, site, coordinator.person, start=today - dt.timedelta(days=30),
                          gcp_expiry=today + dt.timedelta(days=20))
    delegations_create(user=admin_user, staff=staff, task_list=["data_entry"],
                       start_date=today - dt.timedelta(days=5))
    training_requirement_create(user=admin_user, study=study, person=coordinator.person, kind="refresher",
                                due_date=today - dt.timedelta(days=3), site=site, reason="Yearly GCP refresher")
    return {"study": study, "site": site, "admin": admin_user, "pi": pi, "coordinator": coordinator,
            "cra": make_user(Role.CRA, study=study, sites=[site], username="cra"),
            "viewer": make_user(Role.VIEWER, study=study, username="viewer")}


def _kinds(user, today) -> set[str]:
    queue = work_items_for(user, today)
    assert queue.notices == [] and queue.failed == []
    return {i.kind for i in queue.items}


def test_each_person_gets_their_own_items_from_every_area(world, today):
    admin = _kinds(world["admin"], today)
    assert {k.split(".")[0] for k in admin} == AREAS
    assert {"startup.milestone_overdue", "staff.gcp_expiring", "training.requirement_overdue",
            "enrollment.no_enrollment"} <= admin
    assert "staff.delegation_unsigned" in _kinds(world["pi"], today)  # only the site's PI signs
    assert "staff.delegation_unsigned" not in admin
    coordinator = _kinds(world["coordinator"], today)
    assert {"staff.gcp_expiring", "training.requirement"} <= coordinator
    assert not {k for k in coordinator if k.startswith(("enrollment.", "startup."))}
    cra = _kinds(world["cra"], today)
    assert {"startup.milestone_overdue", "staff.gcp_expiring", "training.requirement_overdue"} <= cra
    assert not {k for k in cra if k.startswith("enrollment.")}  # a CRA does not plan enrollment
    assert _kinds(world["viewer"], today) == set()


def test_queue_order_and_titles_across_areas(world, today):
    queue = work_items_for(world["admin"], today)
    severities = [i.severity for i in queue.items]
    assert severities.index("overdue") == 0 and "due" in severities
    titles = {i.kind: i.title for i in queue.items}
    assert titles["startup.milestone_overdue"] == "Confidentiality agreement — site 001 (overdue 3 days)"
    expiry = (today + dt.timedelta(days=20)).isoformat()
    assert titles["staff.gcp_expiring"] == f"Coordinator Tester's GCP certificate expires on {expiry}"
    assert len({i.key for i in queue.items}) == len(queue.items)


def test_api_and_page_show_every_area_without_notices(world, api_client, web):
    body = api_client(world["admin"]).get("/api/v1/my-work").json()
    assert body["notices"] == []
    assert {k.split(".")[0] for k in body["counts"]["by_kind"]} == AREAS
    startup = api_client(world["admin"]).get("/api/v1/my-work", {"kind": "startup"}).json()
    assert startup["count"] >= 1 and {i["kind"].split(".")[0] for i in startup["items"]} == {"startup"}
    html = web(world["pi"]).get("/my-work/").content.decode()
    assert "Sign 1 delegation — site 001" in html and "This list may be incomplete" not in html
    assert "Staff &amp; delegation: Delegations to sign" in html  # the provider's own kind label


def test_reminders_carry_every_areas_overdue_and_due_items(world, today, mailoutbox):
    out = io.StringIO()
    call_command("send_reminders", stdout=out, stderr=out)  # exits 0: every provider worked
    mails = {m.to[0]: m for m in mailoutbox}
    admin = mails["admin@example.org"].body
    assert "Confidentiality agreement — site 001 (overdue 3 days)" in admin
    assert "GCP certificate expires on" in admin
    assert "No enrollment: site 003" in admin
    assert "Refresher" in admin and "overdue 3 days" in admin
    assert "Sign 1 delegation — site 001" in mails["pi@example.org"].body
    coordinator = mails["coordinator@example.org"].body
    assert "Your GCP certificate expires on" in coordinator and "Refresher" in coordinator
    assert "viewer@example.org" not in mails
    assert "may be incomplete" not in admin
