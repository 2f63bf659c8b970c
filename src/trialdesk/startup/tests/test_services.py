"""Start-up services on a real database: the activation gate, order enforcement, legacy dates, feasibility."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.core.errors import AccessDenied, Conflict, InvalidTransition, StaleVersion, ValidationFailed
from trialdesk.sites.models import StudySite
from trialdesk.sites.services import site_transition, site_update
from trialdesk.startup import selectors, services
from trialdesk.startup.defaults import DEFAULT_TEMPLATE
from trialdesk.startup.models import (
    FeasibilityAnswer,
    FeasibilityResponse,
    SiteMilestone,
    StartupMilestoneDefinition,
)
from trialdesk.startup.work import work_items

TODAY = timezone.localdate


def _fresh(site) -> StudySite:
    return StudySite.objects.select_related("study", "institution").get(pk=site.pk)


# --- Template --------------------------------------------------------------------------------------------

def test_template_ensure_creates_the_defaults_once(cpm, study):
    first = services.startup_template_ensure(user=cpm, study=study)
    assert [d.key for d in first] == [m.key for m in DEFAULT_TEMPLATE]
    by_key = {d.key: d for d in first}
    assert {d.key for d in by_key["essential_documents"].depends_on.all()} == {"irb_approval", "contract_executed"}
    assert by_key["regulatory_approval"].applies_when == "if_needed"
    assert not by_key["feasibility"].mandatory and by_key["contract_executed"].mandatory
    again = services.startup_template_ensure(user=cpm, study=study)
    assert [d.pk for d in again] == [d.pk for d in first]
    assert AuditEvent.objects.filter(record_type="startup.startupmilestonedefinition", action="create").count() == 12


def test_template_edits_refuse_loops_key_changes_and_removing_what_others_depend_on(cpm, study, template):
    extra = services.milestone_definition_create(
        user=cpm, study=study, data={"key": "pharmacy_setup", "label": "Pharmacy set-up", "target_days": 10,
                                     "mandatory": False}, depends_on=[template["contract_executed"]])
    assert extra.order == 130
    with pytest.raises(ValidationFailed) as exc:
        services.milestone_definition_update(user=cpm, definition=template["selected"], data={},
                                             depends_on=[template["qualification_visit"], extra], version=1,
                                             reason="loop")
    loop = exc.value.errors["depends_on"][0]
    assert loop.startswith("These dependencies would form a loop: ") and "Selected → Pharmacy set-up" in loop
    with pytest.raises(ValidationFailed, match="cannot change"):
        services.milestone_definition_update(user=cpm, definition=extra, data={"key": "other"}, version=1,
                                             reason="rename")
    with pytest.raises(ValidationFailed, match="has a milestone with the key 'budget_agreed'"):
        services.milestone_definition_create(user=cpm, study=study, data={"key": "budget_agreed", "label": "B"})
    with pytest.raises(ValidationFailed, match="lower-case"):
        services.milestone_definition_create(user=cpm, study=study, data={"key": "Bad Key!", "label": "B"})
    with pytest.raises(InvalidTransition, match="Other milestones depend on Contract executed: Essential documents"):
        services.milestone_definition_delete(user=cpm, definition=template["contract_executed"], version=1,
                                             reason="drop")
    updated = services.milestone_definition_update(user=cpm, definition=extra, data={"label": "Pharmacy ready"},
                                                   depends_on=[template["irb_approval"]], version=1,
                                                   reason="Pharmacy waits for the IRB")
    assert updated.version == 2 and [d.key for d in updated.depends_on.all()] == ["irb_approval"]
    services.milestone_definition_delete(user=cpm, definition=updated, version=2, reason="Not needed")
    assert "pharmacy_setup" not in [d.key for d in selectors.definitions_of(study.pk)]


def test_template_writes_need_startup_edit(make_user, study, template):
    viewer = make_user(Role.VIEWER, study=study)
    with pytest.raises(AccessDenied):
        services.milestone_definition_create(user=viewer, study=study, data={"key": "x", "label": "X"})


# --- The activation gate and the order of milestones ---------------------------------------------------------

def test_activation_with_an_open_mandatory_milestone_is_refused_with_a_clear_message(cpm, study, sites, template,
                                                                                    select_site, record):
    site = select_site(sites[0])
    assert site.status == "selected"
    site = site_transition(user=cpm, site=site, status="start_up", version=site.version, reason="Start-up begins")
    with pytest.raises(InvalidTransition) as exc:
        site_transition(user=cpm, site=_fresh(site), status="activated", version=site.version, reason="Go")
    assert exc.value.message == (
        "Site 001 cannot be activated: open mandatory start-up milestones: Budget agreed, Contract executed, "
        "IRB/IEC submitted, IRB/IEC approved, Regulatory authority approval, Essential documents collected, "
        "Site initiation visit.")
    assert exc.value.errors == {"status": [exc.value.message]}
    assert _fresh(site).status == "start_up"

    today = TODAY()
    for key in ("budget_agreed", "contract_executed", "irb_submitted", "irb_approval"):
        record(site, key, today)
    record(site, "regulatory_approval", not_applicable=True, not_applicable_reason="No CTA needed for this site")
    record(site, "essential_documents", today)
    with pytest.raises(InvalidTransition, match="open mandatory start-up milestones: Site initiation visit.$"):
        site_transition(user=cpm, site=_fresh(site), status="activated", version=_fresh(site).version,
                        reason="Go")
    record(site, "initiation_visit", today)
    site = _fresh(site)
    site = site_transition(user=cpm, site=site, status="activated", version=site.version, reason="Green light")
    assert site.status == "activated" and site.actual_activated == today
    activated = SiteMilestone.objects.filter(site=site, definition=template["activated"]).first()
    startup = selectors.site_startup_of(_fresh(site))
    assert startup.by_key["activated"].actual == today and startup.blockers == []
    assert activated is None or activated.actual_date == today
    assert audit_chain_verify()[1] is None


def test_a_non_mandatory_milestone_activation_depends_on_also_blocks(cpm, study, sites, template):
    # Make the initiation visit optional: activation still needs it done or marked not applicable.
    services.milestone_definition_update(user=cpm, definition=template["initiation_visit"],
                                         data={"mandatory": False}, version=1, reason="Remote SIV allowed")
    blockers = selectors.activation_blockers(_fresh(sites[0]))
    assert "Site initiation visit (activation depends on it)" in blockers
    assert "Selected" in blockers and "Site activated / green light" not in blockers


def test_selection_needs_the_milestones_before_it(cpm, sites, template, record):
    site = sites[0]
    with pytest.raises(InvalidTransition) as exc:
        services.site_selection_decide(user=cpm, site=site, decision="selected", reason="Good", version=site.version)
    assert exc.value.message == (
        "Site 001 cannot be selected: the start-up milestones before selection are open (record them or mark "
        "them not applicable): Confidentiality agreement, Feasibility complete, Site qualification visit.")
    # Not selected needs nothing before it.
    site = services.site_selection_decide(user=cpm, site=_fresh(site), decision="not_selected",
                                          reason="No freezer", version=site.version)
    assert site.status == "not_selected" and site.status_reason == "No freezer"


def test_a_study_without_template_activates_as_before(cpm, sites):
    site = sites[0]
    for status in ("selected", "start_up", "activated"):
        site = site_transition(user=cpm, site=site, status=status, version=site.version, reason=status)
    assert site.status == "activated"
    assert selectors.activation_blockers(site) == []


def test_order_is_enforced_when_recording(cpm, sites, template, select_site, record):
    today = TODAY()
    site = select_site(sites[0], today - dt.timedelta(days=40))
    selected_on = _fresh(site).actual_selected
    assert selected_on == today  # the lifecycle records the decision's day
    with pytest.raises(ValidationFailed) as exc:
        record(site, "contract_executed", today)
    assert exc.value.errors["actual_date"] == [
        "Contract executed cannot be recorded before the milestones it depends on are done (or marked not "
        "applicable): Budget agreed."]
    with pytest.raises(ValidationFailed, match=r"cannot be dated before Selected \(" + selected_on.isoformat()):
        record(site, "budget_agreed", today - dt.timedelta(days=1))
    with pytest.raises(ValidationFailed, match="cannot be in the future"):
        record(site, "budget_agreed", today + dt.timedelta(days=1))
    record(site, "budget_agreed", today)
    record(site, "contract_executed", today)
    # A milestone others depend on cannot be cleared while they are recorded.
    with pytest.raises(ValidationFailed, match="must stay done: milestones that depend on it are recorded "
                                               r"\(Contract executed\)"):
        record(site, "budget_agreed", actual_date=None)
    # Mandatory "always" milestones cannot be set aside; "where needed" ones can, with a reason.
    with pytest.raises(ValidationFailed, match="mandatory at every site"):
        record(site, "irb_submitted", not_applicable=True, not_applicable_reason="x")
    with pytest.raises(ValidationFailed, match="Say why"):
        record(site, "regulatory_approval", not_applicable=True)
    # The lifecycle milestones are recorded by the site's status.
    with pytest.raises(ValidationFailed, match="Activate the site"):
        record(site, "activated", today)
    with pytest.raises(ValidationFailed, match="keeps its date"):
        record(site, "selected", actual_date=None)


def test_changing_a_saved_milestone_needs_a_reason_and_the_current_version(cpm, sites, template, record):
    site = sites[0]
    first = record(site, "confidentiality_agreement", planned_date=TODAY() + dt.timedelta(days=5), reason="")
    assert first.version == 1  # the first save of a milestone needs no reason
    with pytest.raises(ValidationFailed, match="reason for change is required"):
        record(site, "confidentiality_agreement", planned_date=TODAY() + dt.timedelta(days=9), reason="")
    definition = template["confidentiality_agreement"]
    with pytest.raises(StaleVersion):
        services.site_milestone_update(user=cpm, site=site, definition=definition, data={"notes": "x"}, version=0,
                                       reason="r")
    with pytest.raises(StaleVersion):
        services.site_milestone_update(user=cpm, site=sites[1], definition=template["feasibility"],
                                       data={"notes": "x"}, version=3, reason="r")


def test_owner_must_have_access_to_the_site(cpm, make_user, study, sites, template, record):
    other = make_user(Role.CRA, study=study, sites=[sites[1]])
    with pytest.raises(ValidationFailed, match="owner must be an active user"):
        record(sites[0], "confidentiality_agreement", owner=other)
    mine = make_user(Role.CRA, study=study, sites=[sites[0]])
    assert record(sites[0], "confidentiality_agreement", owner=mine).owner == mine


def test_site_dates_follow_the_milestones_they_mirror(cpm, sites, template, select_site, record):
    today = TODAY()
    site = select_site(sites[0])
    site = _fresh(site)
    assert site.actual_qualification_visit == today
    planned = today + dt.timedelta(days=30)
    record(site, "contract_executed", planned_date=planned)
    site = _fresh(site)
    assert site.planned_contract_executed == planned
    event = AuditEvent.objects.filter(record_type="sites.studysite", record_id=str(site.pk)).order_by("-seq").first()
    assert event.changes["planned_contract_executed"] == [None, planned.isoformat()]
    # Direct edits of those dates on the site are refused: they change on the Start-up tab.
    with pytest.raises(ValidationFailed) as exc:
        site_update(user=cpm, site=site, data={"actual_contract_executed": today}, version=site.version,
                    reason="direct")
    assert exc.value.errors["actual_contract_executed"] == [
        "Contract executed is a start-up milestone of this study; change it on the site's Start-up tab."]
    # Other fields still change as before.
    site = site_update(user=cpm, site=site, data={"city": "Berlin-Mitte"}, version=site.version, reason="Moved")
    assert site.city == "Berlin-Mitte"


def test_sites_without_milestone_records_read_their_own_dates(cpm, study, sites, template):
    site = sites[0]
    StudySite.objects.filter(pk=site.pk).update(actual_contract_executed=TODAY() - dt.timedelta(days=3),
                                                planned_irb_approval=TODAY() + dt.timedelta(days=20))
    startup = selectors.site_startup_of(_fresh(site))
    assert startup.by_key["contract_executed"].actual == TODAY() - dt.timedelta(days=3)
    assert startup.by_key["irb_approval"].planned == TODAY() + dt.timedelta(days=20)
    assert "Contract executed" not in startup.blockers and "Budget agreed" in startup.blockers


def test_planned_dates_derive_and_flags(cpm, sites, template, select_site, record):
    today = TODAY()
    site = select_site(sites[0])
    startup = selectors.site_startup_of(_fresh(site))
    rows = startup.by_key
    assert rows["budget_agreed"].planned == today + dt.timedelta(days=30)
    assert rows["budget_agreed"].plan.planned_derived
    assert rows["contract_executed"].planned == today + dt.timedelta(days=60)
    # Everything derives from the decision day; activation: max(contract 60, irb 66, regulatory 60) + 14 + 14 + 7
    assert startup.projected_activation == today + dt.timedelta(days=101)
    # A planned date in the past makes an open milestone overdue and pushes what follows.
    record(site, "budget_agreed", planned_date=today - dt.timedelta(days=2))
    startup = selectors.site_startup_of(_fresh(site))
    assert startup.by_key["budget_agreed"].state == "overdue"
    assert startup.by_key["contract_executed"].planned == today + dt.timedelta(days=28)
    # Projections keep the target durations: budget 30 days after selection, the contract 30 days later.
    assert startup.by_key["budget_agreed"].projected == today + dt.timedelta(days=30)
    assert startup.by_key["contract_executed"].projected == today + dt.timedelta(days=60)
    assert startup.by_key["contract_executed"].state == "at_risk"


# --- Work items ----------------------------------------------------------------------------------------------

def test_work_items_overdue_for_owner_or_editors(cpm, make_user, study, sites, template, select_site, record):
    today = TODAY()
    site = select_site(sites[0])
    cra = make_user(Role.CRA, study=study, sites=[sites[0]])
    viewer = make_user(Role.VIEWER, study=study)
    record(site, "budget_agreed", planned_date=today - dt.timedelta(days=3))
    record(site, "irb_submitted", planned_date=today - dt.timedelta(days=1), owner=cra)
    mine = work_items(cra, today)
    titles = sorted(i.title for i in mine)
    assert "Budget agreed — site 001 (overdue 3 days)" in titles
    assert "IRB/IEC submitted — site 001 (overdue 1 day)" in titles
    cpm_titles = [i.title for i in work_items(cpm, today)]
    assert "Budget agreed — site 001 (overdue 3 days)" in cpm_titles
    assert not any("IRB/IEC submitted" in t for t in cpm_titles)  # owned by the CRA
    item = next(i for i in mine if i.title.startswith("Budget agreed"))
    assert item.severity == "overdue" and item.kind == "startup.milestone_overdue"
    assert item.url == f"/sites/{site.pk}/startup/" and item.study_label == study.protocol_number
    at_risk = [i for i in mine if i.severity == "due"]
    assert any(i.title.startswith("Contract executed — site 001 (at risk") for i in at_risk)
    assert work_items(viewer, today) == []


# --- Feasibility -----------------------------------------------------------------------------------------------

def test_question_validation(cpm, study):
    make = services.feasibility_question_create
    with pytest.raises(ValidationFailed, match="at least two options"):
        make(user=cpm, study=study, data={"text": "Q", "kind": "choice", "choices": [{"label": "A", "score": 1}]})
    with pytest.raises(ValidationFailed, match="between 0 and 1"):
        make(user=cpm, study=study, data={"text": "Q", "kind": "choice",
                                          "choices": [{"label": "A", "score": 2}, {"label": "B", "score": 0}]})
    with pytest.raises(ValidationFailed, match="Give both"):
        make(user=cpm, study=study, data={"text": "Q", "kind": "number", "score_min": 1})
    with pytest.raises(ValidationFailed):
        make(user=cpm, study=study, data={"text": "Q", "kind": "yes_no", "weight": -1})
    q = make(user=cpm, study=study, data={"text": "Notes", "kind": "text", "weight": 3,
                                          "choices": [{"label": "A", "score": 1}]})
    assert (q.weight, q.choices) == (0, [])  # text is never scored; choices only belong to choice questions


def test_site_user_answers_own_site_and_the_score_follows(cpm, coordinator, sites, questions):
    q_freezer, q_patients, q_competing, q_text = questions
    response = services.feasibility_invite(user=cpm, site=sites[0])
    assert response.status == "invited" and response.invited_at is not None
    with pytest.raises(Conflict):
        services.feasibility_invite(user=cpm, site=sites[0])
    with pytest.raises(AccessDenied):
        services.feasibility_invite(user=coordinator, site=sites[1])
    with pytest.raises(AccessDenied):
        services.feasibility_answers_save(user=coordinator, site=sites[1], answers={q_freezer.pk: "yes"}, version=0)

    response = services.feasibility_answers_save(user=coordinator, site=sites[0], version=response.version,
                                                 answers={q_freezer.pk: "yes", q_patients.pk: "10"})
    assert response.status == "in_progress"
    assert response.score == round(100 * (2 * 1 + 1 * 0.5) / 3, 1)  # answered scored questions only
    with pytest.raises(ValidationFailed) as exc:
        services.feasibility_answers_save(user=coordinator, site=sites[0], version=response.version,
                                          answers={q_competing.pk: "Dozens"})
    assert list(exc.value.errors) == [f"q_{q_competing.pk}"]
    with pytest.raises(ValidationFailed, match="reason for change"):
        services.feasibility_answers_save(user=coordinator, site=sites[0], version=response.version,
                                          answers={q_patients.pk: 15})
    response = services.feasibility_answers_save(user=coordinator, site=sites[0], version=response.version,
                                                 answers={q_patients.pk: 20, q_text.pk: "Busy clinic"},
                                                 reason="Counted again")
    assert response.score == 100.0
    with pytest.raises(StaleVersion):
        services.feasibility_answers_save(user=coordinator, site=sites[0], version=1, answers={q_text.pk: "x"},
                                          reason="x")

    response = services.feasibility_submit(user=coordinator, site=sites[0], version=response.version)
    assert response.status == "submitted" and response.submitted_by == coordinator
    assert response.score == 75.0  # the unanswered choice question (weight 1 of 4) now counts 0
    with pytest.raises(InvalidTransition, match="must be reopened"):
        services.feasibility_answers_save(user=coordinator, site=sites[0], version=response.version,
                                          answers={q_competing.pk: "None"})
    with pytest.raises(AccessDenied):
        services.feasibility_reopen(user=coordinator, site=sites[0], version=response.version, reason="oops")
    with pytest.raises(ValidationFailed, match="reason"):
        services.feasibility_reopen(user=cpm, site=sites[0], version=response.version, reason="")
    response = services.feasibility_reopen(user=cpm, site=sites[0], version=response.version,
                                           reason="Competing studies not answered")
    assert response.status == "in_progress" and response.score == 100.0
    answers = FeasibilityAnswer.objects.filter(response=response)
    assert answers.count() == 3
    assert audit_chain_verify()[1] is None


def test_submit_needs_the_required_answers(cpm, sites, questions):
    q_freezer, q_patients = questions[0], questions[1]
    response = services.feasibility_answers_save(user=cpm, site=sites[1], version=0, answers={q_patients.pk: 5})
    with pytest.raises(ValidationFailed) as exc:
        services.feasibility_submit(user=cpm, site=sites[1], version=response.version)
    assert exc.value.message == "1 required question still without an answer."
    assert list(exc.value.errors) == [f"q_{q_freezer.pk}"]


def test_changing_a_question_rescores_the_responses(cpm, sites, questions):
    q_freezer = questions[0]
    response = services.feasibility_answers_save(user=cpm, site=sites[0], version=0, answers={q_freezer.pk: "no"})
    assert response.score == 0.0
    services.feasibility_question_update(user=cpm, question=q_freezer, data={"preferred_answer": "no"},
                                         version=q_freezer.version, reason="Asked the wrong way round")
    assert FeasibilityResponse.objects.get(pk=response.pk).score == 100.0
    with pytest.raises(ValidationFailed, match="kind cannot change"):
        services.feasibility_question_update(user=cpm, question=q_freezer, data={"kind": "text"},
                                             version=q_freezer.version + 1, reason="x")
    # An unchanged weight sent again is not a change.
    question = services.feasibility_question_update(user=cpm, question=questions[1], data={"weight": 1},
                                                    version=1, reason="")
    assert question.version == 1


def test_ranking_with_past_performance_at_the_same_institution(cpm, admin_user, study, sites, questions):
    from trialdesk.sites.services import site_create
    from trialdesk.studies.services import study_create

    q_freezer = questions[0]
    services.feasibility_answers_save(user=cpm, site=sites[1], version=0, answers={q_freezer.pk: "yes"})
    services.feasibility_answers_save(user=cpm, site=sites[2], version=0, answers={q_freezer.pk: "no"})
    earlier = study_create(user=admin_user, data={"protocol_number": "OLD-1", "brief_title": "Earlier study"})
    today = TODAY()
    past = site_create(user=admin_user, study=earlier, data={"institution": sites[0].institution,
                                                             "site_number": "900"})
    StudySite.objects.filter(pk=past.pk).update(status="enrolling", enrolled_count=12,
                                                actual_selected=today - dt.timedelta(days=500),
                                                actual_activated=today - dt.timedelta(days=400))
    rows = selectors.candidate_ranking(cpm, study, today)
    assert [(r.rank, r.site.site_number) for r in rows] == [(1, "002"), (2, "003"), (None, "001")]
    first = next(r for r in rows if r.site.site_number == "001")
    assert first.past.studies == 1 and first.past.activation_days == 100.0
    assert first.past.enrollment_rate == round(12 / (400 / (365.25 / 12)), 2)
    assert first.past.deviation_rate is None
    assert rows[0].provisional  # scored while still in progress


def test_decision_goes_through_the_site_lifecycle_permissions(make_user, study, sites, template):
    cra = make_user(Role.CRA, study=study, sites=[sites[0]])  # startup.edit, but no site.transition
    with pytest.raises(AccessDenied, match="site.transition"):
        services.site_selection_decide(user=cra, site=sites[0], decision="not_selected", reason="No",
                                       version=sites[0].version)
    viewer = make_user(Role.VIEWER, study=study)
    with pytest.raises(AccessDenied, match="startup.edit"):
        services.site_selection_decide(user=viewer, site=sites[0], decision="not_selected", reason="No",
                                       version=sites[0].version)


def test_invite_needs_questions(cpm, sites):
    with pytest.raises(ValidationFailed, match="no feasibility questions"):
        services.feasibility_invite(user=cpm, site=sites[0])


def test_deleting_a_definition_with_recorded_dates_is_refused(cpm, study, sites, template, record):
    extra = services.milestone_definition_create(user=cpm, study=study, data={"key": "kickoff", "label": "Kick-off",
                                                                              "mandatory": False})
    record(sites[0], "kickoff", TODAY())
    with pytest.raises(InvalidTransition, match=r"Sites have recorded Kick-off \(001\)"):
        services.milestone_definition_delete(user=cpm, definition=extra, version=1, reason="x")
    assert StartupMilestoneDefinition.objects.filter(pk=extra.pk).exists()
