"""The read-replica router: opted-in dashboard reads go to the "replica" alias; writes, reads after writes,
permission checks and sessions stay on the primary. Runs on SQLite and PostgreSQL (the replica is a TEST
MIRROR of the primary's test database, see the fixtures below)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.test.utils import CaptureQueriesContext

from trialdesk.accounts.models import Membership
from trialdesk.accounts.roles import Role
from trialdesk.core.replica import PIN_COOKIE, REPLICA, read_alias, replica_reads
from trialdesk.studies.models import Study
from trialdesk.studies.services import study_create

BOTH = [DEFAULT_DB_ALIAS, REPLICA]


# --- The replica in tests -----------------------------------------------------------------------------------
#
# `replica_mirror` (module scope) adds the "replica" alias as TRIALDESK_REPLICA_DATABASE_URL configures it, with
# Django's TEST MIRROR setting pointing at the primary's test database: a second, separate connection to the
# same database. On PostgreSQL it is like a lagging replica: it never sees the open transaction each test runs
# in (on SQLite's shared-cache memory database it reads uncommitted rows: it could not read those tables
# otherwise). `replica_in_step` makes the replica connection use the primary's session, so it sees the test's
# data as a replica with no lag would. Defined here, not in a conftest: no other test should see the alias.

@pytest.fixture(scope="module")
def replica_mirror(django_db_setup, django_db_blocker):
    if REPLICA in connections.settings:
        pytest.skip("TRIALDESK_REPLICA_DATABASE_URL is set for this run; these tests configure their own replica")
    primary = connections[DEFAULT_DB_ALIAS].settings_dict  # already names the test database
    entry = copy.deepcopy(primary)
    entry["TEST"] = {**entry.get("TEST", {}), "MIRROR": DEFAULT_DB_ALIAS}
    if entry["ENGINE"].endswith("sqlite3"):
        # The SQLite test database is in memory with a shared cache: a second connection may not take the
        # write lock that BEGIN IMMEDIATE asks for while the test's transaction holds it, and reads tables
        # written by that transaction only with read_uncommitted.
        entry["OPTIONS"] = {**entry.get("OPTIONS", {}), "transaction_mode": "DEFERRED",
                            "init_command": "PRAGMA read_uncommitted=1;"}
    connections.settings[REPLICA] = entry
    try:
        yield REPLICA
    finally:
        with django_db_blocker.unblock():
            connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]


@pytest.fixture
def replica_in_step(replica_mirror, db):
    """The replica connection runs on the primary's database session (sees uncommitted test data)."""
    primary, replica = connections[DEFAULT_DB_ALIAS], connections[REPLICA]
    primary.ensure_connection()
    own = replica.connection  # the replica's own session, in the transaction the test case opened on it
    replica.connection = primary.connection
    try:
        yield replica
    finally:
        replica.connection = own  # the test case rolls back and closes its own session, never the primary's


# --- Routing decisions -------------------------------------------------------------------------------------

def test_routing_decisions(replica_mirror):
    assert router.db_for_read(Study) == DEFAULT_DB_ALIAS  # not opted in
    with replica_reads():
        assert router.db_for_read(Study) == REPLICA
        # Who may do what is always read from the primary: a revoked role takes effect at once.
        assert router.db_for_read(Membership) == DEFAULT_DB_ALIAS
        # Saving a cache entry or a session is bookkeeping: reads may stay on the replica.
        from django.contrib.sessions.models import Session
        from django.core.cache.backends.db import DatabaseCache

        cache_model = DatabaseCache("trialdesk_cache", {}).cache_model_class
        assert router.db_for_write(cache_model) == DEFAULT_DB_ALIAS
        assert router.db_for_write(Session) == DEFAULT_DB_ALIAS
        assert router.db_for_read(Study) == REPLICA
        assert router.db_for_read(cache_model) == DEFAULT_DB_ALIAS
        assert router.db_for_write(Study) == DEFAULT_DB_ALIAS
        # After a write, the rest of the block reads the primary.
        assert router.db_for_read(Study) == DEFAULT_DB_ALIAS
    with replica_reads():  # a new block (outside a request) starts clean
        assert router.db_for_read(Study) == REPLICA
    assert router.db_for_read(Study) == DEFAULT_DB_ALIAS
    assert router.allow_migrate(REPLICA, "studies") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "studies") is True


@pytest.mark.django_db(databases=BOTH)
def test_reads_in_a_transaction_stay_on_the_primary(replica_mirror):
    with replica_reads():
        assert read_alias() == REPLICA  # the test's own wrapping transaction does not count
        with transaction.atomic():
            assert read_alias() == DEFAULT_DB_ALIAS


# --- Real queries on a separate replica connection ------------------------------------------------------

@pytest.mark.django_db(databases=BOTH)
def test_opted_in_reads_run_on_the_replica_connection_and_writes_on_the_primary(replica_mirror, admin_user):
    primary, replica = connections[DEFAULT_DB_ALIAS], connections[REPLICA]
    with CaptureQueriesContext(primary) as on_primary, CaptureQueriesContext(replica) as on_replica, \
            replica_reads():
        # The replica is another session: it does not see this test's uncommitted rows (a lagging replica).
        assert list(Study.objects.values_list("protocol_number", flat=True)) == []
        assert len(on_replica.captured_queries) == 1 and not on_primary.captured_queries
        created = study_create(user=admin_user, data={"protocol_number": "RR-1", "brief_title": "Replica"})
        # Read after write: the primary, which has the new row.
        assert list(Study.objects.values_list("protocol_number", flat=True)) == ["RR-1"]
    assert len(on_replica.captured_queries) == 1
    assert any("INSERT" in q["sql"].upper() for q in on_primary.captured_queries)
    assert Study.objects.get(pk=created.pk).protocol_number == "RR-1"


@pytest.mark.django_db(databases=BOTH)
def test_replica_is_a_separate_session_on_the_same_database(replica_mirror):
    primary, replica = connections[DEFAULT_DB_ALIAS], connections[REPLICA]
    primary.ensure_connection()
    replica.ensure_connection()
    assert replica.connection is not primary.connection
    assert replica.settings_dict["NAME"] == primary.settings_dict["NAME"]


# --- Pages: dashboards read the replica, everything else the primary -----------------------------------------

@pytest.fixture
def portfolio_data(admin_user, sponsor):
    for i in range(3):
        study_create(user=admin_user, data={"protocol_number": f"RP-{i}", "brief_title": f"Replica {i}",
                                            "sponsor": sponsor, "planned_enrollment": 10,
                                            "planned_first_subject_in": dt.date(2026, 1, 1)})


def _split(client, url, **kw):
    primary, replica = connections[DEFAULT_DB_ALIAS], connections[REPLICA]
    with CaptureQueriesContext(primary) as on_primary, CaptureQueriesContext(replica) as on_replica:
        response = client.get(url, **kw)
    return response, [q["sql"] for q in on_primary.captured_queries], [q["sql"] for q in on_replica.captured_queries]


@pytest.mark.django_db(databases=BOTH)
def test_portfolio_page_reads_studies_from_the_replica(replica_in_step, client, cpm, portfolio_data):
    client.force_login(cpm)
    response, on_primary, on_replica = _split(client, "/")
    assert response.status_code == 200
    html = response.content.decode()
    assert all(f"RP-{i}" in html for i in range(3))
    assert any("studies_study" in sql for sql in on_replica)
    assert not any("studies_study" in sql and "FROM" in sql for sql in on_primary)
    # The session, the user and the user's roles come from the primary.
    assert any("django_session" in sql for sql in on_primary)
    assert any("accounts_membership" in sql for sql in on_primary)
    assert not any(t in sql for sql in on_replica for t in ("django_session", "accounts_membership"))


@pytest.mark.django_db(databases=BOTH)
def test_enrollment_dashboard_reads_the_replica(replica_in_step, client, cpm, study, sites):
    client.force_login(cpm)
    response, _on_primary, on_replica = _split(client, f"/studies/{study.pk}/enrollment/")
    assert response.status_code == 200
    assert any("sites_studysite" in sql for sql in on_replica)
    assert all(s.site_number in response.content.decode() for s in sites)


@pytest.mark.django_db(databases=BOTH)
def test_record_pages_and_api_detail_read_the_primary(replica_in_step, client, cpm, study):
    client.force_login(cpm)
    for url in (f"/studies/{study.pk}/edit/", f"/api/v1/studies/{study.pk}"):
        response, on_primary, on_replica = _split(client, url)
        assert response.status_code == 200, url
        assert on_replica == [], url
        assert any("studies_study" in sql for sql in on_primary), url


@pytest.mark.django_db(databases=BOTH)
def test_after_a_write_the_browser_is_pinned_to_the_primary(replica_in_step, client, cpm, study, settings):
    settings.REPLICA_PIN_SECONDS = 10
    client.force_login(cpm)
    page = client.get(f"/studies/{study.pk}/edit/").content.decode()
    assert PIN_COOKIE not in client.cookies
    import re

    data = {"protocol_number": study.protocol_number, "brief_title": "Renamed on the primary",
            "study_type": "INTERVENTIONAL", "phases": ["PHASE3"], "version": study.version,
            "reason": "Title corrected", "planned_enrollment": 400}
    # Keep every other field as the form shows it.
    for name, value in re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page):
        data.setdefault(name, value)
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        response = client.post(f"/studies/{study.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert on_replica.captured_queries == []  # a POST reads the primary throughout
    assert client.cookies[PIN_COOKIE]["max-age"] == 10
    _response, _on_primary, on_replica_after = _split(client, "/")
    assert on_replica_after == []  # pinned: the page after the redirect shows the write
    del client.cookies[PIN_COOKIE]
    _response, _on_primary, on_replica_later = _split(client, "/")
    assert on_replica_later != []


@pytest.mark.django_db(databases=BOTH)
def test_a_site_limited_user_sees_only_their_sites_through_the_replica(replica_in_step, client, make_user, study,
                                                                      sites):
    monitor = make_user(Role.CRA, study=study, sites=[sites[0]])
    client.force_login(monitor)
    response, _on_primary, on_replica = _split(client, f"/studies/{study.pk}/enrollment/")
    assert response.status_code == 200 and on_replica
    html = response.content.decode()
    assert sites[0].institution.name in html
    assert sites[1].institution.name not in html
