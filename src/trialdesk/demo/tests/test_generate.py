"""generate_portfolio: a bulk-written synthetic portfolio that the application reads like its own data.

The tests generate the XS scale (9 studies, one per lifecycle state; 60 sites; about 500 subjects) into the
test database, on SQLite and on PostgreSQL (TRIALDESK_DATABASE_URL), and check it the way the application
would: the audit chain verifies, counters agree with rows, screening-log paths follow the rules, approval
signatures match, pages render, and ordinary writes continue after it.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Min, Q

from conftest import PASSWORD
from trialdesk.accounts.models import Membership, User
from trialdesk.audit.models import AuditChainHead, AuditEvent
from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.demo import synth
from trialdesk.demo.generate import GenerationRefused, portfolio_generate
from trialdesk.enrollment.models import EnrollmentPlan, EnrollmentPlanEntry
from trialdesk.signatures.selectors import signatures_for
from trialdesk.sites.models import StudySite
from trialdesk.studies.lifecycle import STUDY_STATUSES
from trialdesk.studies.models import ProtocolVersion, Study
from trialdesk.subjects.lifecycle import POST_ENROLLMENT_STATUSES, STATUS_DATE_FIELD
from trialdesk.subjects.models import ConsentEvent, Randomization, Subject
from trialdesk.subjects.rules import path_problems
from trialdesk.visits.models import SubjectVisit

TODAY = dt.date(2026, 6, 1)
SITE_STATUSES_FOR = {
    "planning": {"candidate", "selected", "not_selected"},
    "start_up": {"selected", "start_up", "activated", "not_selected"},
    "withdrawn": {"candidate", "not_selected"},
    "enrolling": {"selected", "start_up", "activated", "enrolling", "closed_to_enrollment", "not_selected"},
    "on_hold": {"selected", "start_up", "activated", "enrolling", "closed_to_enrollment", "not_selected"},
    "closed_to_enrollment": {"closed_to_enrollment", "closed_out", "not_selected"},
    "follow_up": {"closed_to_enrollment", "closed_out", "not_selected"},
    "completed": {"closed_to_enrollment", "closed_out", "not_selected"},
    "terminated": {"closed_to_enrollment", "closed_out", "not_selected"},
}


@pytest.fixture
def generated(db):
    return portfolio_generate(scale="XS", seed=3, today=TODAY, password=PASSWORD)


def test_portfolio_is_complete_consistent_and_audited(generated):
    assert generated.count(Study) == Study.objects.count() == 9
    assert StudySite.objects.count() == 60
    subjects = Subject.objects.count()
    assert 400 <= subjects <= 600
    visits = SubjectVisit.objects.count()
    assert 10 * subjects <= visits <= 25 * subjects
    # Every lifecycle state, with site states that fit it.
    assert set(Study.objects.values_list("status", flat=True)) == set(STUDY_STATUSES)
    for status, site_status in StudySite.objects.values_list("study__status", "status").distinct():
        assert site_status in SITE_STATUSES_FOR[status], (status, site_status)
    # Recruiting studies have subjects; those that never recruited have none.
    with_subjects = set(Subject.objects.values_list("study__status", flat=True).distinct())
    assert with_subjects <= synth.RECRUITING_STATUSES and {"enrolling", "completed"} <= with_subjects
    # Screen failures, withdrawals and enrolled subjects are all there.
    statuses = Counter(Subject.objects.values_list("status", flat=True))
    assert statuses["screen_failed"] > 0 and statuses["withdrawn"] > 0 and statuses["completed"] > 0

    # The audit chain verifies, the head points at the last event, and every study, site and subject has its event.
    checked, failure = audit_chain_verify()
    assert failure is None and checked == AuditEvent.objects.count() == generated.count(AuditEvent)
    head = AuditChainHead.objects.get(id=1)
    last = AuditEvent.objects.order_by("-seq").first()
    assert (head.seq, head.hash) == (last.seq, last.hash)
    for model, rtype in ((Study, "studies.study"), (StudySite, "sites.studysite"), (Subject, "subjects.subject")):
        audited = set(AuditEvent.objects.filter(record_type=rtype).values_list("record_id", flat=True))
        assert audited == {str(pk) for pk in model.objects.values_list("pk", flat=True)}

    # Counters agree with the rows.
    counts = dict(Subject.objects.filter(enrolled_on__isnull=False).values_list("site_id")
                  .annotate(n=Count("id")).values_list("site_id", "n"))
    firsts = dict(Subject.objects.values_list("site_id").annotate(first=Min("enrolled_on"))
                  .values_list("site_id", "first"))
    for site in StudySite.objects.all():
        assert site.enrolled_count == counts.get(site.pk, 0)
        assert site.actual_first_subject_in == firsts.get(site.pk)
    for study in Study.objects.all():
        first = Subject.objects.filter(study=study).aggregate(m=Min("enrolled_on"))["m"]
        assert study.actual_first_subject_in == first
        assert study.planned_enrollment and study.planned_enrollment > 0

    # Screening-log histories follow the lifecycle rules; enrolled subjects count as enrolled.
    for subject in Subject.objects.all():
        values = {f: getattr(subject, f) for f in STATUS_DATE_FIELD.values()}
        assert path_problems(values, subject.status) == [], subject.subject_number
        assert (subject.enrolled_on is not None) == (subject.status in POST_ENROLLMENT_STATUSES)
        assert max(d for d in values.values() if d) <= TODAY
    assert not Subject.objects.filter(enrolled_on__isnull=False, consents__isnull=True).exists()
    assert ConsentEvent.objects.filter(is_reconsent=True).exists()
    assert Randomization.objects.count() == Subject.objects.filter(randomized_on__isnull=False).count()
    assert not SubjectVisit.objects.filter(status="completed", actual_on__isnull=True).exists()
    assert not SubjectVisit.objects.filter(actual_on__gt=TODAY).exists()

    # Approved protocol versions carry an approval signature that matches their content.
    approved = ProtocolVersion.objects.filter(status__in=("approved", "superseded"))
    assert approved.exists()
    for pv in approved:
        [view] = signatures_for(pv)
        assert view.matches and view.binding_valid and pv.approval_signature_id == view.signature.pk
    assert EnrollmentPlan.objects.filter(is_current=True).count() == EnrollmentPlan.objects.values(
        "study").distinct().count()
    assert EnrollmentPlanEntry.objects.exists()
    assert Membership.objects.filter(role="cra").annotate(n=Count("sites")).filter(n=0).count() == 0

    # Start-up: every study has the default template; sites past selection have their milestones, which agree
    # with the site's own dates; activated sites have no open mandatory milestone.
    from trialdesk.startup.defaults import DEFAULT_TEMPLATE
    from trialdesk.startup.models import SiteMilestone, StartupMilestoneDefinition
    from trialdesk.startup.selectors import activation_blockers

    assert StartupMilestoneDefinition.objects.count() == 9 * len(DEFAULT_TEMPLATE)
    for site in StudySite.objects.filter(status__in=("enrolling", "closed_out", "selected", "start_up"))[:20]:
        rows = {m.definition.key: m for m in SiteMilestone.objects.filter(site=site).select_related("definition")}
        assert rows["selected"].actual_date == site.actual_selected is not None
        assert rows["activated"].actual_date == site.actual_activated
        if site.actual_activated:
            assert activation_blockers(site) == []


def test_the_application_reads_and_writes_the_generated_portfolio(generated, client):
    from trialdesk.accounts.services import user_create
    from trialdesk.sites.services import site_transition

    admin = User.objects.get(username="gen-admin")
    assert admin.check_password(PASSWORD)
    client.force_login(admin)
    study = (Study.objects.filter(status="enrolling").annotate(n=Count("subjects")).order_by("-n").first())
    site = StudySite.objects.filter(study=study, enrolled_count__gt=0).first()
    subject = Subject.objects.filter(site=site).first()
    pages = ["/", f"/studies/{study.pk}/", f"/studies/{study.pk}/sites/", f"/sites/{site.pk}/",
             f"/studies/{study.pk}/subjects/", f"/subjects/{subject.pk}/", f"/studies/{study.pk}/visits/",
             f"/studies/{study.pk}/enrollment/", f"/studies/{study.pk}/audit/", f"/subjects/{subject.pk}/audit/",
             f"/studies/{study.pk}/protocol-versions/", f"/studies/{study.pk}/startup/", f"/sites/{site.pk}/startup/",
             "/api/v1/studies", f"/api/v1/studies/{study.pk}"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
    # Ordinary writes continue: ids do not collide, the audit chain goes on and still verifies.
    user = user_create(actor=admin, username="after-generation")
    assert user.pk > User.objects.exclude(pk=user.pk).order_by("-pk").first().pk
    candidate = StudySite.objects.filter(status="candidate").first()
    site_transition(user=admin, site=candidate, status="not_selected", reason="No access to the population",
                    version=candidate.version)
    assert audit_chain_verify() == (generated.count(AuditEvent) + 2, None)


def test_small_batches_write_the_same_portfolio(db, monkeypatch):
    """Large studies are written in several batches: children never wait for their parents, and a study's
    actual dates still reach its row after that row was written."""
    from trialdesk.demo import generate

    monkeypatch.setattr(generate, "BATCH_ROWS", 300)
    report = portfolio_generate(scale="XS", seed=3, today=TODAY, analyze=False)
    assert audit_chain_verify() == (report.count(AuditEvent), None)
    assert report.count(SubjectVisit) == SubjectVisit.objects.count() > 3000
    for study in Study.objects.all():
        first = Subject.objects.filter(study=study).aggregate(m=Min("enrolled_on"))["m"]
        assert study.actual_first_subject_in == first
    counts = dict(Subject.objects.filter(enrolled_on__isnull=False).values_list("site_id")
                  .annotate(n=Count("id")).values_list("site_id", "n"))
    assert all(site.enrolled_count == counts.get(site.pk, 0) for site in StudySite.objects.all())


def test_refuses_a_database_that_holds_studies(generated):
    with pytest.raises(GenerationRefused, match="already holds 9 studies"):
        portfolio_generate(scale="XS", seed=4, today=TODAY)
    with pytest.raises(CommandError, match="empty"):
        call_command("generate_portfolio", "--scale", "S", "--no-progress", stdout=io.StringIO())
    assert Study.objects.count() == 9


def test_command_prints_what_it_wrote(db):
    out = io.StringIO()
    call_command("generate_portfolio", "--scale", "XS", "--seed", "5", "--today", "2026-06-01", "--no-progress",
                 "--no-analyze", stdout=out)
    text = out.getvalue()
    assert "Generated scale XS (seed 5)" in text and "visits_subjectvisit" in text
    assert "no usable password" in text
    assert not User.objects.get(username="gen-cpm").has_usable_password()
    assert Subject.objects.filter(Q(status="screen_failed") & ~Q(screen_fail_reason_code="")).exists()


# --- Sampling alone (no database) ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["S", "M"])
def test_scales_have_the_promised_size_and_skew(name):
    scale = synth.SCALES[name]
    portfolio = synth.plan_portfolio(scale, 1, TODAY)
    assert len(portfolio.studies) == scale.studies
    assert portfolio.site_count == scale.sites
    assert abs(portfolio.expected_subjects - scale.subjects) < scale.subjects * 0.02
    sizes = sorted((len(s.sites) for s in portfolio.studies), reverse=True)
    megas = [s for s in portfolio.studies if s.mega]
    assert len(megas) == scale.mega_trials and all(len(s.sites) >= 1000 for s in megas)
    if not megas:
        assert sizes[0] < 900
    # Skewed: the largest studies hold far more sites than the median one; site rates too.
    assert sizes[0] > 3 * sizes[len(sizes) // 2]
    rates = sorted(site.rate for s in portfolio.studies for site in s.sites if site.candidates)
    assert rates[int(len(rates) * 0.9)] > 3 * rates[int(len(rates) * 0.1)]
    assert {s.status for s in portfolio.studies} == set(synth.STUDY_STATUSES)


def test_same_seed_same_portfolio_other_seed_other_portfolio():
    a = synth.plan_portfolio(synth.SCALES["XS"], 7, TODAY)
    b = synth.plan_portfolio(synth.SCALES["XS"], 7, TODAY)
    c = synth.plan_portfolio(synth.SCALES["XS"], 8, TODAY)

    def shape(p):
        return [(s.protocol_number, s.status, [(x.number, x.status, x.candidates) for x in s.sites])
                for s in p.studies]

    assert shape(a) == shape(b) != shape(c)
    study = next(s for s in a.studies if s.status == "enrolling")
    subjects = [r for i, recs in synth.study_subjects(study, 7, TODAY) for r in recs]
    again = [r for i, recs in synth.study_subjects(study, 7, TODAY) for r in recs]
    assert [(r.number, r.status, r.dates) for r in subjects] == [(r.number, r.status, r.dates) for r in again]
