"""Visit services against the real database: schedule editing, generation, re-anchoring, rescheduling,
recording, missed visits; every write audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.audit.selectors import audit_chain_verify
from trialdesk.core.errors import AccessDenied, Conflict, InvalidTransition, StaleVersion, ValidationFailed
from trialdesk.subjects.models import ConsentEvent, IcfVersion
from trialdesk.visits import services
from trialdesk.visits.models import SubjectVisit, VisitDefinition
from trialdesk.visits.tests.conftest import SCHEDULE

D = dt.date


def events_for(obj, action=None):
    qs = AuditEvent.objects.filter(record_type=f"{obj._meta.app_label}.{obj._meta.model_name}",
                                   record_id=str(obj.pk))
    return list(qs.filter(action=action) if action else qs)


def codes(visits):
    return sorted(v.definition.code for v in visits)


# --- Schedule of events ----------------------------------------------------------------------

def test_definition_create_update_delete_on_a_draft(admin_user, make_protocol):
    pv = make_protocol(approve=False, schedule=[])
    d = services.visit_definition_create(user=admin_user, protocol_version=pv, data=dict(SCHEDULE[2]))
    assert (d.study_id, d.anchor, d.target_day, d.window_before, d.modality) == (pv.study_id, "randomization", 14, 3,
                                                                                 "remote")
    assert events_for(d, "create")[0].changes["code"] == [None, "V2"]
    services.visit_definition_update(user=admin_user, definition=d, data={"target_day": 15}, version=d.version,
                                     reason="Protocol wording: day 15")
    d.refresh_from_db()
    assert d.target_day == 15 and d.version == 2
    ev = events_for(d, "update")[0]
    assert ev.changes == {"target_day": [14, 15]} and ev.reason == "Protocol wording: day 15"
    with pytest.raises(ValidationFailed) as exc:
        services.visit_definition_update(user=admin_user, definition=d, data={"target_day": 16}, version=d.version,
                                         reason="")
    assert "reason" in exc.value.errors
    with pytest.raises(StaleVersion):
        services.visit_definition_update(user=admin_user, definition=d, data={"target_day": 16}, version=1,
                                         reason="x")
    services.visit_definition_delete(user=admin_user, definition=d, version=d.version, reason="Visit dropped")
    assert not VisitDefinition.objects.filter(pk=d.pk).exists()
    assert events_for(d, "delete")[0].reason == "Visit dropped"


def test_duplicate_code_and_bad_values_are_field_errors(admin_user, make_protocol):
    pv = make_protocol(approve=False)
    with pytest.raises(ValidationFailed) as exc:
        services.visit_definition_create(user=admin_user, protocol_version=pv, data={**SCHEDULE[0], "code": "v1"})
    assert "code" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        services.visit_definition_create(user=admin_user, protocol_version=pv,
                                         data={"code": "X", "name": "X", "target_day": 5000, "anchor": "moon"})
    assert {"target_day", "anchor"} <= set(exc.value.errors)


def test_approved_schedule_cannot_change(admin_user, protocol):
    d = VisitDefinition.objects.filter(protocol_version=protocol).first()
    for call in (
        lambda: services.visit_definition_create(user=admin_user, protocol_version=protocol,
                                                 data={"code": "NEW", "name": "New", "target_day": 1}),
        lambda: services.visit_definition_update(user=admin_user, definition=d, data={"name": "Renamed"},
                                                 version=d.version, reason="x"),
        lambda: services.visit_definition_delete(user=admin_user, definition=d, version=d.version, reason="x"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            call()
        assert "part of the approved protocol" in exc.value.message
        assert "protocol_version" in exc.value.errors
    assert VisitDefinition.objects.filter(protocol_version=protocol).count() == len(SCHEDULE)


def test_schedule_permission(make_user, study, sites, make_protocol):
    pv = make_protocol(approve=False, schedule=[])
    for role in (Role.SITE_COORDINATOR, Role.CRA, Role.VIEWER):
        with pytest.raises(AccessDenied):
            services.visit_definition_create(user=make_user(role, study=study), protocol_version=pv,
                                             data={"code": "X", "name": "X", "target_day": 1})
    d = services.visit_definition_create(user=make_user(Role.REGULATORY, study=study), protocol_version=pv,
                                         data={"code": "X", "name": "X", "target_day": 1})
    assert d.pk


def test_copy_schedule_into_a_new_draft(admin_user, protocol, make_protocol):
    draft = make_protocol("2.0", schedule=[], approve=False)
    copies = services.visit_definitions_copy(user=admin_user, source=protocol, target=draft)
    assert sorted(c.code for c in copies) == sorted(r["code"] for r in SCHEDULE)
    fu = next(c for c in copies if c.code == "FU")
    assert (fu.protocol_version_id, fu.anchor, fu.target_day, fu.required) == (draft.pk, "first_dose", 60, False)
    ev = events_for(fu, "create")[0]
    assert ev.changes["copied_from"][1] == VisitDefinition.objects.get(protocol_version=protocol, code="FU").pk
    assert "Copied from the schedule of protocol 1.0" in ev.reason
    with pytest.raises(Conflict):  # the codes are taken now
        services.visit_definitions_copy(user=admin_user, source=protocol, target=draft)
    with pytest.raises(ValidationFailed):  # an approved target is locked
        services.visit_definitions_copy(user=admin_user, source=draft, target=protocol)


def test_visit_in_use_cannot_be_edited(admin_user, make_protocol, make_subject):
    pv = make_protocol(approve=False)
    subject = make_subject(protocol_version=pv)
    services.subject_visits_generate(user=admin_user, subject=subject)
    d = VisitDefinition.objects.get(protocol_version=pv, code="V1")
    with pytest.raises(Conflict):
        services.visit_definition_update(user=admin_user, definition=d, data={"name": "x"}, version=d.version,
                                         reason="x")


# --- Generation ----------------------------------------------------------------------------------

def test_generate_uses_the_current_approved_protocol_and_is_idempotent(admin_user, protocol, make_subject):
    subject = make_subject(randomized_on=D(2025, 3, 5))
    visits = services.subject_visits_generate(user=admin_user, subject=subject)
    # FU is anchored on first dose, which is not known yet.
    assert codes(visits) == ["SCR", "V1", "V2", "V3"]
    subject.refresh_from_db()
    assert subject.protocol_version_id == protocol.pk and subject.version == 2
    assert events_for(subject, "update")[-1].changes == {"protocol_version": [None, protocol.pk]}
    v3 = next(v for v in visits if v.definition.code == "V3")
    assert (v3.planned_on, v3.window_start, v3.window_end) == (D(2025, 4, 2), D(2025, 3, 31), D(2025, 4, 7))
    assert (v3.status, v3.modality, v3.site_id, v3.study_id) == ("planned", "home", subject.site_id, subject.study_id)
    ev = events_for(v3, "create")[0]
    assert ev.changes["planned_on"] == [None, "2025-04-02"] and ev.actor_id == admin_user.pk
    assert services.subject_visits_generate(user=admin_user, subject=subject) == []
    assert SubjectVisit.objects.filter(subject=subject).count() == 4
    assert audit_chain_verify()[1] is None


def test_generate_without_an_approved_protocol_plans_nothing(admin_user, make_protocol, make_subject):
    make_protocol(approve=False)
    subject = make_subject()
    assert services.subject_visits_generate(user=admin_user, subject=subject) == []
    subject.refresh_from_db()
    assert subject.protocol_version_id is None


def test_generate_needs_subject_edit_on_the_site(make_user, study, sites, protocol, make_subject):
    subject = make_subject(site=sites[1])
    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[0]])
    with pytest.raises(AccessDenied):
        services.subject_visits_generate(user=coordinator, subject=subject)
    with pytest.raises(AccessDenied):
        services.subject_visits_generate(user=make_user(Role.CRA, study=study), subject=subject)
    other = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]])
    assert len(services.subject_visits_generate(user=other, subject=subject)) == 2


def test_reanchor_plans_visits_once_the_anchor_is_known_and_follows_corrections(admin_user, protocol,
                                                                               make_subject):
    subject = make_subject()
    assert codes(services.subject_visits_generate(user=admin_user, subject=subject)) == ["SCR", "V1"]
    subject.randomized_on = D(2025, 3, 5)
    subject.save()
    assert codes(services.subject_visits_reanchor(user=admin_user, subject=subject)) == ["V2", "V3"]
    assert services.subject_visits_reanchor(user=admin_user, subject=subject) == []
    # The randomization date is corrected: V2/V3 move, completed V1 does not.
    v1 = SubjectVisit.objects.get(subject=subject, definition__code="V1")
    services.subject_visit_record(user=admin_user, visit=v1, actual_on=D(2025, 3, 3), modality=None,
                                  version=v1.version)
    subject.randomized_on = D(2025, 3, 7)
    subject.save()
    assert services.subject_visits_reanchor(user=admin_user, subject=subject) == []
    v2 = SubjectVisit.objects.get(subject=subject, definition__code="V2")
    assert (v2.planned_on, v2.window_start, v2.window_end, v2.version) == (D(2025, 3, 21), D(2025, 3, 18),
                                                                          D(2025, 3, 24), 2)
    ev = events_for(v2, "update")[-1]
    assert ev.changes["planned_on"] == ["2025-03-19", "2025-03-21"]
    assert "randomization date changed" in ev.reason.lower()
    # Cleared by a data correction: the visits planned from it are cancelled.
    subject.randomized_on = None
    subject.save()
    services.subject_visits_reanchor(user=admin_user, subject=subject)
    statuses = dict(SubjectVisit.objects.filter(subject=subject).values_list("definition__code", "status"))
    assert statuses == {"SCR": "planned", "V1": "completed", "V2": "cancelled", "V3": "cancelled"}
    # First dose known: FU follows.
    subject.randomized_on, subject.first_dose_on = D(2025, 3, 7), D(2025, 3, 8)
    subject.save()
    assert codes(services.subject_visits_reanchor(user=admin_user, subject=subject)) == ["FU", "V2", "V3"]


def test_reanchor_before_enrollment_plans_nothing(admin_user, protocol, make_subject):
    subject = make_subject(status="consented", enrolled_on=None, randomized_on=D(2025, 3, 5))
    assert services.subject_visits_reanchor(user=admin_user, subject=subject) == []
    assert not SubjectVisit.objects.filter(subject=subject).exists()


NEW_SCHEDULE = [
    {"code": "V1", "name": "Baseline", "order": 1, "anchor": "enrollment", "target_day": 0},
    {"code": "V2", "name": "Week 2", "order": 2, "anchor": "randomization", "target_day": 14, "window_before": 3,
     "window_after": 3},
    {"code": "V2B", "name": "Week 3 safety call", "order": 3, "anchor": "randomization", "target_day": 21,
     "window_before": 1, "window_after": 1, "modality": "phone"},
    {"code": "V3", "name": "Week 6", "order": 4, "anchor": "randomization", "target_day": 42, "window_before": 3,
     "window_after": 3},
]


def test_reschedule_from_reconsent(admin_user, study, protocol, make_protocol, make_subject):
    subject = make_subject(randomized_on=D(2025, 3, 5))
    services.subject_visits_generate(user=admin_user, subject=subject)
    v1 = SubjectVisit.objects.get(subject=subject, definition__code="V1")
    services.subject_visit_record(user=admin_user, visit=v1, actual_on=D(2025, 3, 3), modality=None,
                                  version=v1.version)
    amendment = make_protocol("2.0", schedule=NEW_SCHEDULE)
    # Re-consent on 2025-03-20: the old V2 (planned 19 March) stays, the old V3 (2 April) is replaced.
    services.subject_visits_reschedule(user=admin_user, subject=subject, protocol_version=amendment,
                                       effective_on=D(2025, 3, 20))
    subject.refresh_from_db()
    assert subject.protocol_version_id == amendment.pk
    rows = {(v.definition.protocol_version_id, v.definition.code): v
            for v in SubjectVisit.objects.filter(subject=subject).select_related("definition")}
    assert rows[(protocol.pk, "V1")].status == "completed"
    assert rows[(protocol.pk, "V2")].status == "planned"
    assert rows[(protocol.pk, "V3")].status == "cancelled"
    assert rows[(protocol.pk, "SCR")].status == "planned"
    assert (amendment.pk, "V1") not in rows and (amendment.pk, "V2") not in rows   # dated before re-consent
    assert rows[(amendment.pk, "V2B")].planned_on == D(2025, 3, 26)
    assert rows[(amendment.pk, "V3")].planned_on == D(2025, 4, 16)
    cancel = events_for(rows[(protocol.pk, "V3")], "update")[-1]
    assert cancel.changes == {"status": ["planned", "cancelled"]} and "2025-03-20" in cancel.reason
    # Later re-anchoring keeps to the new schedule after the re-consent date (recorded by the subjects area).
    icf = IcfVersion.objects.create(study=study, protocol_version=amendment, version_number="2",
                                    version_date=D(2025, 3, 1), status="approved")
    ConsentEvent.objects.create(subject=subject, icf_version=icf, consented_on=D(2025, 3, 20), method="paper",
                                obtained_by=admin_user.person, is_reconsent=True)
    assert services.subject_visits_reanchor(user=admin_user, subject=subject) == []
    services.subject_visits_reschedule(user=admin_user, subject=subject, protocol_version=amendment,
                                       effective_on=D(2025, 3, 20))
    assert SubjectVisit.objects.filter(subject=subject).count() == len(rows)
    assert audit_chain_verify()[1] is None


def test_reschedule_refuses_another_studys_protocol(admin_user, make_subject, protocol):
    from trialdesk.studies.services import protocol_version_create, study_create

    other = study_create(user=admin_user, data={"protocol_number": "OTHER", "brief_title": "Other"})
    pv = protocol_version_create(user=admin_user, study=other, data={"version_number": "1",
                                                                     "version_date": D(2025, 1, 1)})
    with pytest.raises(ValidationFailed):
        services.subject_visits_reschedule(user=admin_user, subject=make_subject(), protocol_version=pv,
                                           effective_on=D(2025, 3, 1))


# --- Recording ---------------------------------------------------------------------------------------

@pytest.fixture
def visit(admin_user, protocol, make_subject):
    subject = make_subject(randomized_on=D(2025, 3, 5))
    services.subject_visits_generate(user=admin_user, subject=subject)
    return SubjectVisit.objects.get(subject=subject, definition__code="V3")   # window 2025-03-31 .. 04-07


def test_record_in_window(admin_user, visit):
    services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 7), modality="",
                                  notes="All done", version=visit.version)
    visit.refresh_from_db()
    assert (visit.status, visit.actual_on, visit.out_of_window, visit.modality, visit.version) == (
        "completed", D(2025, 4, 7), False, "home", 2)
    ev = events_for(visit, "update")[-1]
    assert ev.changes["status"] == ["planned", "completed"] and ev.changes["actual_on"] == [None, "2025-04-07"]


def test_record_out_of_window_is_flagged_and_listed(admin_user, visit):
    services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 8), modality="phone",
                                  version=visit.version)
    visit.refresh_from_db()
    assert visit.out_of_window and visit.modality == "phone"
    from trialdesk.visits.selectors import visit_deviations

    rows = list(visit_deviations(admin_user, study_id=visit.study_id))
    assert [(r.pk, r.deviation) for r in rows] == [(visit.pk, "out_of_window")]


def test_record_refusals(admin_user, visit):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationFailed) as exc:
        services.subject_visit_record(user=admin_user, visit=visit, actual_on=tomorrow, modality=None,
                                      version=visit.version)
    assert "future" in exc.value.errors["actual_on"][0]
    with pytest.raises(ValidationFailed) as exc:
        services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 2, 1), modality=None,
                                      version=visit.version)
    assert "before the subject's consent" in exc.value.errors["actual_on"][0]
    with pytest.raises(ValidationFailed) as exc:
        services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 1), modality="teleport",
                                      version=visit.version)
    assert "modality" in exc.value.errors
    with pytest.raises(ValidationFailed):
        services.subject_visit_record(user=admin_user, visit=visit, actual_on=None, modality=None,
                                      version=visit.version)
    with pytest.raises(StaleVersion):
        services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 1), modality=None,
                                      version=visit.version + 1)
    visit.refresh_from_db()
    assert visit.status == "planned" and visit.version == 1


def test_correcting_a_completed_visit_needs_a_reason(admin_user, visit):
    services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 1), modality=None,
                                  version=visit.version)
    with pytest.raises(ValidationFailed) as exc:
        services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 9), modality=None,
                                      version=visit.version)
    assert "reason" in exc.value.errors
    services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 9), modality=None,
                                  version=visit.version, reason="Transcription error")
    visit.refresh_from_db()
    assert visit.out_of_window and visit.version == 3
    assert events_for(visit, "update")[-1].changes == {"actual_on": ["2025-04-01", "2025-04-09"],
                                                       "out_of_window": [False, True]}


def test_mark_missed_and_late_recording(admin_user, visit):
    with pytest.raises(ValidationFailed):
        services.subject_visit_mark_missed(user=admin_user, visit=visit, version=visit.version, reason="")
    services.subject_visit_mark_missed(user=admin_user, visit=visit, version=visit.version,
                                       reason="Subject hospitalised")
    visit.refresh_from_db()
    assert visit.status == "missed"
    with pytest.raises(InvalidTransition):
        services.subject_visit_mark_missed(user=admin_user, visit=visit, version=visit.version, reason="again")
    # It did take place after all: recording it is a correction with a reason.
    services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 2), modality=None,
                                  version=visit.version, reason="Visit found in the source documents")
    visit.refresh_from_db()
    assert visit.status == "completed"


def test_cancelled_visit_cannot_be_recorded(admin_user, visit):
    SubjectVisit.objects.filter(pk=visit.pk).update(status="cancelled")
    visit.refresh_from_db()
    with pytest.raises(InvalidTransition):
        services.subject_visit_record(user=admin_user, visit=visit, actual_on=D(2025, 4, 2), modality=None,
                                      version=visit.version)


def test_recording_permission_follows_site_scope(make_user, study, sites, visit):
    at_site = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[0]])
    elsewhere = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, sites=[sites[1]])
    for user in (elsewhere, make_user(Role.CRA, study=study), make_user(Role.REGULATORY, study=study)):
        with pytest.raises(AccessDenied):
            services.subject_visit_record(user=user, visit=visit, actual_on=D(2025, 4, 2), modality=None,
                                          version=visit.version)
    services.subject_visit_record(user=at_site, visit=visit, actual_on=D(2025, 4, 2), modality=None,
                                  version=visit.version)


# --- Missed-visit job ------------------------------------------------------------------------------

def test_flag_missed_marks_only_windows_that_ended(admin_user, visit):
    subject = visit.subject
    # V3's window ends 2025-04-07: on that day it is still open.
    assert services.subject_visits_flag_missed(today=D(2025, 4, 7)) == {subject.study_id: 3}  # SCR, V1, V2
    assert SubjectVisit.objects.get(pk=visit.pk).status == "planned"
    assert services.subject_visits_flag_missed(today=D(2025, 4, 8)) == {subject.study_id: 1}
    visit.refresh_from_db()
    assert visit.status == "missed"
    ev = events_for(visit, "update")[-1]
    assert ev.actor_id is None and ev.actor_username == "system" and "2025-04-07" in ev.reason
    assert services.subject_visits_flag_missed(today=D(2025, 4, 8)) == {}
    from trialdesk.visits.selectors import visit_deviations

    missed = {r.definition.code for r in visit_deviations(admin_user, study_id=subject.study_id)}
    assert missed == {"SCR", "V1", "V2", "V3"}   # all required
