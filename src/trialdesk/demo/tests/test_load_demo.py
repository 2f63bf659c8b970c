"""The demo portfolio loads through the services: believable, consistent, audited, and only in demo mode."""

from __future__ import annotations

import datetime as dt
import io
import stat

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from trialdesk.accounts.models import Membership, User
from trialdesk.accounts.roles import Role
from trialdesk.accounts.services import user_create
from trialdesk.audit.models import AuditEvent
from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.core.errors import AccessDenied, Conflict
from trialdesk.demo import portfolio
from trialdesk.demo.credentials import credentials_ensure, credentials_read
from trialdesk.demo.services import CTGOV_DIR, demo_logins_wanted, demo_portfolio_load
from trialdesk.signatures.models import Signature
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import ProtocolVersion, Study

LIFECYCLE = {"planning", "start_up", "enrolling", "closed_to_enrollment", "follow_up", "completed", "on_hold"}
# Site statuses that fit each study status.
SITE_STATUSES_FOR = {
    "planning": {"candidate", "selected", "not_selected"},
    "start_up": {"candidate", "selected", "start_up", "activated", "not_selected"},
    "enrolling": {"start_up", "activated", "enrolling", "closed_to_enrollment", "not_selected"},
    "on_hold": {"start_up", "activated", "closed_to_enrollment"},
    "closed_to_enrollment": {"closed_to_enrollment", "closed_out"},
    "follow_up": {"closed_to_enrollment", "closed_out"},
    "completed": {"closed_out"},
}


@pytest.fixture
def logins(tmp_path):
    return credentials_ensure(tmp_path / "demo-credentials.txt", demo_logins_wanted())


@pytest.fixture
def demo_mode(settings, tmp_path):
    settings.DEMO_MODE = True
    settings.HOME = tmp_path  # the command keeps demo-credentials.txt here, not in the developer's var/
    return settings


def test_demo_portfolio_is_diverse_consistent_and_audited(db, demo_mode, logins):
    today = timezone.localdate()
    summary = demo_portfolio_load(logins=logins)

    demo = Study.objects.filter(protocol_number__in=[s.protocol_number for s in portfolio.STUDIES])
    assert demo.count() == len(summary.studies) == 9
    assert set(demo.values_list("status", flat=True)) == LIFECYCLE
    assert demo.filter(status="enrolling").count() >= 2
    assert {p for phases in demo.values_list("phases", flat=True) for p in phases} >= {"PHASE1", "PHASE2", "PHASE3"}
    assert len(set(demo.values_list("therapeutic_area", flat=True))) >= 7

    for study in demo:
        assert study.arms.count() >= 2 and study.interventions.count() >= 1
        assert "Inclusion Criteria" in study.eligibility_criteria and "Exclusion Criteria" in study.eligibility_criteria
        sites = list(study.sites.all())
        assert 5 <= len(sites) <= 15
        assert {s.status for s in sites} <= SITE_STATUSES_FOR[study.status], study.protocol_number
        for site in sites:
            assert site.principal_investigator is not None
            achieved = [m["actual"] for m in site.milestones() if m["actual"]]
            assert achieved == sorted(achieved) and all(d < today for d in achieved), site
            if site.status in ("activated", "enrolling", "closed_to_enrollment", "closed_out"):
                assert site.actual_activated is not None
            if site.status == "enrolling":
                assert 0 < site.enrolled_count <= site.target_enrollment
        actual = [(k["key"], k["actual"]) for k in study.key_dates() if k["actual"]]
        assert all(d < today for _, d in actual)
        assert [d for _, d in actual] == sorted(d for _, d in actual), study.protocol_number
        if study.status in ("planning", "start_up"):
            assert study.sites.aggregate(n=Sum("enrolled_count"))["n"] == 0
            assert study.actual_first_subject_in is None
        else:
            assert study.actual_first_subject_in is not None
        if study.status == "completed":
            assert all(k["actual"] for k in study.key_dates())
        versions = list(study.protocol_versions.all())
        assert len(versions) >= 2
        approved = [v for v in versions if v.status == "approved"]
        assert len(approved) == 1
        assert approved[0].approval_signature.username == "cpm"
        assert approved[0].approval_signature.meaning == Signature.Meaning.APPROVED

    enrolling = demo.filter(status="enrolling")
    totals = StudySite.objects.filter(study__in=enrolling).aggregate(t=Sum("target_enrollment"),
                                                                     e=Sum("enrolled_count"))
    assert 0 < totals["e"] < totals["t"]
    completed = demo.get(status="completed")
    assert completed.sites.aggregate(e=Sum("enrolled_count"))["e"] >= completed.planned_enrollment * 0.9
    assert ProtocolVersion.objects.filter(study__in=demo, status="draft").values("study").distinct().count() >= 6
    assert ProtocolVersion.objects.filter(study__in=demo, status="superseded").exists()
    countries = set(StudySite.objects.filter(study__in=demo).values_list("country", flat=True))
    assert countries >= {"United States", "Germany", "France", "Spain", "Italy", "Poland", "Japan", "Canada",
                         "United Kingdom"}

    # A login for every role, each able to sign in with the generated password.
    active = Membership.objects.filter(revoked_at__isnull=True)
    assert {m.role for m in active} == {r.value for r in Role}
    for username, login in logins.items():
        user = User.objects.get(username=username)
        assert user.check_password(login.password)
        assert active.filter(user=user, role=login.role).exists()
        assert username == "admin" or user.person is not None
    assert active.get(role="auditor").study_id is None
    cra = active.get(role="cra", study__protocol_number="NVT-1150-301")
    assert 0 < cra.sites.count() < cra.study.sites.count()
    pi = active.get(role="principal_investigator")
    assert [s.principal_investigator_id for s in pi.sites.all()] == [pi.user.person_id]
    assert active.get(role="site_coordinator").sites.count() == 1
    assert active.filter(role="viewer").count() == len(portfolio.VIEWER_STUDIES)

    # The real registry records came in through the ClinicalTrials.gov import.
    imported = {f.stem for f in CTGOV_DIR.glob("*.json")}
    assert len(imported) == 6
    assert set(Study.objects.exclude(nct_id=None).values_list("nct_id", flat=True)) == imported
    assert len(summary.imported) == 6

    # Every write went through a service: audited, reasons on changes, the chain intact.
    events = AuditEvent.objects.all()
    assert events.filter(action="transition", record_type="studies.study").count() >= 20
    counts = events.filter(action="update", record_type="sites.studysite", changes__has_key="enrolled_count")
    assert counts.count() == StudySite.objects.filter(study__in=demo, enrolled_count__gt=0).count()
    assert set(counts.values_list("reason", flat=True)) == {"Enrollment count sync from the EDC."}
    assert not events.filter(action__in=["update", "transition"], reason="").exists()
    checked, failure = audit_chain_verify()
    assert failure is None
    assert checked == events.count() > 500


def test_demo_dates_follow_today(db, demo_mode, logins):
    """Dates are relative to the load day, so an old checkout still shows a current-looking portfolio."""
    today = dt.date(2031, 5, 4)
    demo_portfolio_load(logins=logins, today=today, registry_files=[])
    study = Study.objects.get(protocol_number="NVT-1150-301")
    assert study.planned_first_site_activated == today - dt.timedelta(days=330)
    assert today - dt.timedelta(days=400) < study.actual_first_subject_in < today
    assert not Study.objects.exclude(nct_id=None).exists()


def test_service_refuses_outside_demo_mode(db, settings, logins):
    settings.DEMO_MODE = False
    with pytest.raises(AccessDenied, match="TRIALDESK_DEMO=1"):
        demo_portfolio_load(logins=logins)
    assert not Study.objects.exists() and not User.objects.exists()


def test_command_refuses_outside_demo_mode(db, settings, tmp_path):
    settings.DEMO_MODE = False
    settings.HOME = tmp_path
    with pytest.raises(CommandError, match="demo mode"):
        call_command("load_demo", "--if-empty")
    assert not Study.objects.exists()
    assert not (tmp_path / "demo-credentials.txt").exists()


def test_command_loads_once_and_keeps_the_passwords(db, demo_mode, tmp_path):
    out = io.StringIO()
    call_command("load_demo", "--if-empty", "--url", "http://127.0.0.1:8000", stdout=out)
    text = out.getvalue()
    assert "Demo portfolio loaded" in text
    path = tmp_path / "demo-credentials.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    logins = credentials_read(path)
    assert set(logins) == {u.username for u in portfolio.USERS}
    assert f"log in as cpm / {logins['cpm'].password}" in text
    assert all(login.password in text for login in logins.values())
    studies, events = Study.objects.count(), AuditEvent.objects.count()

    out = io.StringIO()
    call_command("load_demo", "--if-empty", stdout=out)
    assert "not loaded" in out.getvalue()
    assert all(login.password in out.getvalue() for login in logins.values())
    assert (Study.objects.count(), AuditEvent.objects.count()) == (studies, events)
    assert credentials_read(path) == logins

    with pytest.raises(CommandError, match="already loaded"):
        call_command("load_demo", stdout=io.StringIO())


def test_service_refuses_a_second_load(db, demo_mode, logins):
    user_create(actor=None, username="cpm")
    with pytest.raises(Conflict, match="already loaded"):
        demo_portfolio_load(logins=logins)
