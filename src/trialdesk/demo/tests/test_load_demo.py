"""The demo portfolio loads through the services: believable, consistent, audited, and only in demo mode."""

from __future__ import annotations

import datetime as dt
import io
import stat

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Sum
from django.utils import timezone

from trialdesk.accounts.models import Membership, User
from trialdesk.accounts.roles import Role
from trialdesk.accounts.services import user_create
from trialdesk.audit.models import AuditEvent
from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.core.errors import AccessDenied, Conflict, ValidationFailed
from trialdesk.demo import portfolio
from trialdesk.demo.credentials import credentials_ensure, credentials_read
from trialdesk.demo.services import CTGOV_DIR, demo_logins_wanted, demo_portfolio_load
from trialdesk.demo.tests.startup_checks import check_startup_demo
from trialdesk.enrollment import curves
from trialdesk.enrollment.models import EnrollmentPlan
from trialdesk.enrollment.selectors import actuals_of, enrollment_data, enrollment_warnings, planned_rates, run_forecast
from trialdesk.signatures.models import Signature
from trialdesk.sites.models import StudySite
from trialdesk.studies.models import ProtocolVersion, Study
from trialdesk.subjects.models import ConsentEvent, Randomization, Subject
from trialdesk.subjects.selectors import ReconsentFilter, arm_visible, reconsent_list
from trialdesk.visits.models import SubjectVisit, VisitDefinition
from trialdesk.visits.selectors import feed_upcoming_visits, visits_ics

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
AHEAD, ON_PLAN, BEHIND = "NVT-5017-202", "NVT-3320-302", "NVT-1150-301"
CLOSED = ("NVT-2730-303", "NVT-4410-203", "NVT-1150-102")
RECONSENT_STUDY, RECONSENT_FORM = "NVT-1150-301", "2.1"


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
            # The count comes from the subjects, kept in step by the subject services.
            assert site.enrolled_count == site.subjects.filter(enrolled_on__isnull=False).count(), site
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
    pi = active.get(role="principal_investigator", user__username="investigator")
    assert [s.principal_investigator_id for s in pi.sites.all()] == [pi.user.person_id]
    # Every site with subjects has its PI as a user holding the PI role on that site, on the site's staff roster
    # (so consent and eligibility are recorded by a delegated person). Their logins have no password, except
    # where the demo signed as the PI (delegation log, training attendance) with a password nobody was told.
    for site in StudySite.objects.filter(subjects__isnull=False).distinct():
        pi_user = User.objects.get(person=site.principal_investigator)
        assert active.filter(user=pi_user, role="principal_investigator", sites=site).exists()
        assert site.staff.filter(person=site.principal_investigator, role="principal_investigator").exists()
        assert pi_user.username in logins or not pi_user.has_usable_password() or \
            Signature.objects.filter(signer=pi_user).exists()
    assert User.objects.get(username="viewer").is_blinded
    assert not arm_visible(User.objects.get(username="viewer")) and arm_visible(User.objects.get(username="cpm"))
    assert active.get(role="site_coordinator", user__username="coordinator").sites.count() == 1
    assert active.filter(role="viewer").count() == len(portfolio.VIEWER_STUDIES)

    # The real registry records came in through the ClinicalTrials.gov import.
    imported = {f.stem for f in CTGOV_DIR.glob("*.json")}
    assert len(imported) == 6
    assert set(Study.objects.exclude(nct_id=None).values_list("nct_id", flat=True)) == imported
    assert len(summary.imported) == 6

    # Every write went through a service: audited, reasons on changes, the chain intact.
    events = AuditEvent.objects.all()
    assert events.filter(action="transition", record_type="studies.study").count() >= 20
    subject_events = events.filter(record_type="subjects.subject", action__in=["create", "import"])
    assert set(subject_events.values_list("record_id", flat=True)) == {str(pk) for pk in
                                                                        Subject.objects.values_list("pk", flat=True)}
    assert events.filter(record_type="visits.subjectvisit", action="create").count() == SubjectVisit.objects.count()
    assert not events.filter(action__in=["update", "transition"], reason="").exists()
    _assert_enrollment_stories(today)
    _assert_delegation_logs()
    checked, failure = audit_chain_verify()
    assert failure is None
    assert checked == events.count() > 10_000
    call_command("verify_audit", stdout=io.StringIO())  # exits non-zero (SystemExit) on a broken chain
    check_startup_demo(summary)


def _pace(user, study):
    """(actual / planned enrolled today, the study forecast, its warnings' codes) through the selectors."""
    data = enrollment_data(user, study)
    plan = data.current_plan
    planned_today = curves.planned_cumulative(planned_rates(data.entries[plan.pk]), data.as_of, plan.target)
    actual = actuals_of(data, data.sites).enrolled
    forecast = run_forecast(data)
    warnings = enrollment_warnings(user, study, data=data, forecast=forecast)
    return actual / planned_today, forecast, warnings


def _assert_delegation_logs():
    """Rosters and delegation logs: the coordinator obtained consent under delegations the PI signed before her
    site's first subject; the investigator has a delegation they can sign and some that name what is missing."""
    from trialdesk.signatures.selectors import signatures_for
    from trialdesk.staff.models import Delegation
    from trialdesk.staff.selectors import delegation_sign_blockers
    from trialdesk.subjects.services import delegation_check

    coordinator = User.objects.get(username="coordinator")
    signed = Delegation.objects.filter(staff__person=coordinator.person, status="active")
    assert {"informed_consent", "data_entry"} <= set(signed.values_list("task", flat=True))
    assert all(view.valid for d in signed for view in signatures_for(d))
    consents = ConsentEvent.objects.filter(obtained_by=coordinator.person).select_related("subject__site__study")
    assert consents.exists()
    for consent in consents:
        delegation_check(coordinator.person, consent.subject.site, "consent", consent.consented_on)
    investigator = User.objects.get(username="investigator")
    site = StudySite.objects.get(principal_investigator=investigator.person, study__protocol_number=RECONSENT_STUDY)
    assert site.staff.filter(person=investigator.person, role="principal_investigator").exists()
    assert Delegation.objects.filter(staff__site=site, status="active").exists()
    blockers = [delegation_sign_blockers(d) for d in Delegation.objects.filter(staff__site=site, status="pending")]
    assert [] in blockers  # one the investigator can sign now
    assert any(f == "training" for b in blockers for f, _ in b)  # and some that say what is missing
    assert Delegation.objects.filter(status="pending").exclude(staff__site=site).exists()


def _assert_enrollment_stories(today: dt.date) -> None:
    """The first screens make sense: subjects, plans, forecasts and warnings that tell three stories (ahead of,
    on and behind plan), read through the same selectors as the enrollment pages."""
    cpm = User.objects.get(username="cpm")
    studies = {s.protocol_number: s for s in Study.objects.all()}
    days = dt.timedelta

    ratio, forecast, warnings = _pace(cpm, studies[AHEAD])
    lsi, p50 = forecast.planned_last_subject_in, forecast.completion["p50"]
    assert ratio >= 1.2 and p50 <= lsi - days(45) and forecast.probability_on_time >= 0.9, (ratio, p50, lsi)
    assert not {"late_median", "low_probability_on_time"} & {w["code"] for w in warnings}

    ratio, forecast, warnings = _pace(cpm, studies[ON_PLAN])
    lsi, p50 = forecast.planned_last_subject_in, forecast.completion["p50"]
    assert 0.9 <= ratio <= 1.15 and lsi - days(60) <= p50 <= lsi and forecast.probability_on_time >= 0.5, \
        (ratio, p50, lsi, forecast.probability_on_time)
    assert not {"late_median", "low_probability_on_time"} & {w["code"] for w in warnings}

    ratio, forecast, warnings = _pace(cpm, studies[BEHIND])
    lsi, p50 = forecast.planned_last_subject_in, forecast.completion["p50"]
    assert ratio <= 0.8 and p50 >= lsi + days(180) and forecast.late, (ratio, p50, lsi)
    codes = {w["code"] for w in warnings}
    assert {"late_median", "low_probability_on_time", "no_enrollment", "screen_failure"} <= codes, codes
    idle = next(w for w in warnings if w["code"] == "no_enrollment")
    site = StudySite.objects.get(pk=idle["site_id"])
    assert site.enrolled_count == 0 and (today - site.actual_activated).days >= 120

    for protocol in CLOSED:
        ratio, forecast, warnings = _pace(cpm, studies[protocol])
        assert forecast.reached_on is not None and warnings == [], (protocol, warnings)

    # Plans: baseline 1 for every study with subjects; the behind study was re-baselined with a reason.
    with_subjects = [s for s in portfolio.STUDIES if s.enrollment]
    for spec in with_subjects:
        plan = EnrollmentPlan.objects.get(study=studies[spec.protocol_number], is_current=True)
        assert plan.entries.filter(site__isnull=False).count() >= 5
    baselines = EnrollmentPlan.objects.filter(study=studies[BEHIND]).order_by("baseline")
    assert [(p.baseline, p.is_current) for p in baselines] == [(1, False), (2, True)]
    assert baselines[0].planned_last_subject_in < baselines[1].planned_last_subject_in
    assert AuditEvent.objects.filter(record_type="enrollment.enrollmentplan", record_id=str(baselines[0].pk),
                                     changes__has_key="is_current").exclude(reason="").exists()

    # Subjects through the whole screening log, with reason codes where a reason is due.
    statuses = dict(Subject.objects.values_list("status").annotate(n=Count("id")))
    assert set(statuses) >= {"pre_screened", "consented", "screen_failed", "active", "completed", "withdrawn",
                             "lost_to_follow_up"}, statuses
    assert not Subject.objects.filter(status="screen_failed", screen_fail_reason_code="").exists()
    assert not Subject.objects.filter(status="withdrawn", withdrawal_reason="").exists()
    assert Subject.objects.filter(study__in=[studies[s.protocol_number] for s in with_subjects]).exclude(
        screen_fail_reason_code__in=["", "inclusion_not_met", "exclusion_met", "lab_out_of_range",
                                     "consent_declined", "other"]).exists()  # the studies' own codes too
    last_dates = Subject.objects.aggregate(*[Max(f) for f in ("screened_on", "enrolled_on", "completed_on")])
    assert all(d <= today for d in last_dates.values())
    randomized = Subject.objects.filter(randomized_on__isnull=False)
    assert randomized.count() == Randomization.objects.count() > 0
    assert not Randomization.objects.exclude(arm__study=F("subject__study")).exists()

    # Consent events at one site per study at least; the behind study has an open re-consent list.
    for spec in with_subjects:
        assert ConsentEvent.objects.filter(subject__study=studies[spec.protocol_number]).exists(), spec
    open_reqs = reconsent_list(cpm, ReconsentFilter(study_id=studies[RECONSENT_STUDY].pk, status="open"))
    assert open_reqs.exists() and {r.icf_version.version_number for r in open_reqs} == {RECONSENT_FORM}
    assert reconsent_list(cpm, ReconsentFilter(study_id=studies[RECONSENT_STUDY].pk, status="done")).exists()
    assert ConsentEvent.objects.filter(subject__in=[r.subject_id for r in open_reqs]).exclude(
        icf_version__version_number=RECONSENT_FORM).exists()  # consented to an older form, re-consent due

    # Schedules of events and visits: done (a few out of window), missed, and coming up in the calendar.
    for spec in with_subjects:
        approved = ProtocolVersion.objects.get(study=studies[spec.protocol_number], status="approved")
        assert VisitDefinition.objects.filter(protocol_version=approved).count() >= 6
    assert set(VisitDefinition.objects.values_list("modality", flat=True)) == {"on_site", "remote", "home", "phone"}
    visits = SubjectVisit.objects
    assert visits.filter(status="completed", out_of_window=False).count() > 10 * max(
        visits.filter(status="completed", out_of_window=True).count(), 1) / 2
    assert visits.filter(status="completed", out_of_window=True).exists()
    assert visits.filter(status="missed", window_end__lt=today).exists()
    assert not visits.filter(status="planned", window_end__lt=today).exists()  # flagged by the missed-visit job
    assert not visits.filter(status="completed", actual_on__gt=today).exists()
    upcoming = visits.filter(status="planned", planned_on__gte=today, planned_on__lte=today + days(28))
    assert upcoming.filter(study=studies[BEHIND]).count() >= 20
    assert set(upcoming.values_list("modality", flat=True)) >= {"on_site", "phone"}
    coordinator = User.objects.get(username="coordinator")
    feed = feed_upcoming_visits(coordinator)
    assert feed and {v.site_id for v in feed} == {coordinator.memberships.get().sites.get().pk}
    assert "BEGIN:VEVENT" in visits_ics(feed, name="Visits")



def test_demo_dates_follow_today(db, demo_mode, logins):
    """Dates are relative to the load day, so the portfolio always looks current (here: as it stood 400 days
    ago; the services refuse future dates, so the load day cannot be later than today)."""
    today = timezone.localdate() - dt.timedelta(days=400)
    demo_portfolio_load(logins=logins, today=today, registry_files=[])
    study = Study.objects.get(protocol_number="NVT-1150-301")
    assert study.planned_first_site_activated == today - dt.timedelta(days=330)
    assert today - dt.timedelta(days=400) < study.actual_first_subject_in < today
    assert study.icf_versions.get(version_number="2.1").irb_approval_date == today - dt.timedelta(days=12)
    dates = Subject.objects.aggregate(*[Max(f) for f in ("screened_on", "enrolled_on", "completed_on",
                                                         "withdrawn_on")])
    assert all(d <= today for d in dates.values())
    visits = SubjectVisit.objects
    assert not visits.filter(actual_on__gt=today).exists()
    assert not visits.filter(status="planned", window_end__lt=today).exists()
    assert visits.filter(status="planned", planned_on__gt=today).exists()
    assert not Study.objects.exclude(nct_id=None).exists()


def test_demo_cannot_be_dated_after_today(db, demo_mode, logins):
    with pytest.raises(ValidationFailed, match="after today"):
        demo_portfolio_load(logins=logins, today=timezone.localdate() + dt.timedelta(days=1), registry_files=[])
    assert not Study.objects.exists()


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
