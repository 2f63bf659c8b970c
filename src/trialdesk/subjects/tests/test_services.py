"""Subject services: numbering, transitions, enrollment counts, delegation, consent and re-consent, randomization."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.core.errors import AccessDenied, Conflict, InvalidTransition, StaleVersion, ValidationFailed
from trialdesk.organizations.services import person_create
from trialdesk.sites.models import StudySite
from trialdesk.staff.tests.helpers import delegate
from trialdesk.studies.services import arm_create, study_create
from trialdesk.subjects import services
from trialdesk.subjects.models import ConsentEvent, ReconsentRequirement, Subject, SubjectSettings
from trialdesk.subjects.selectors import redact_audit_changes
from trialdesk.subjects.tests.conftest import DELEGATED, D, activate, approved_protocol
from trialdesk.visits.models import SubjectVisit


def events(record, action=None):
    qs = AuditEvent.objects.filter(record_type=f"subjects.{record._meta.model_name}", record_id=str(record.pk))
    return list(qs.filter(action=action) if action else qs)


def messages_of(exc) -> str:
    return " ".join([exc.value.message, *(m for ms in exc.value.errors.values() for m in ms)])


# --- Numbering ---------------------------------------------------------------------------------------------

def test_numbers_follow_the_pattern_per_site_and_are_never_reused(flow, make_flow, pi, admin_user, sites):
    other = activate(admin_user, sites[1])
    first, second = flow.new(), flow.new()
    assert (first.subject_number, first.site_sequence) == ("001-001", 1)
    assert second.subject_number == "001-002"
    assert make_flow(pi).new(at=other).subject_number == "002-001"

    services.subject_delete(user=flow.user, subject=second, version=second.version, reason="entered twice")
    assert Subject.all_objects.filter(subject_number="001-002", is_deleted=True).exists()
    third = flow.new()
    assert (third.subject_number, third.site_sequence) == ("001-003", 3)

    # A number given by the site continues the sequence when it fits the pattern; a reused one is refused.
    given = flow.new(subject_number="001-010")
    assert given.site_sequence == 10 and flow.new().subject_number == "001-011"
    with pytest.raises(Conflict) as exc:
        flow.new(subject_number="001-002")  # the deleted subject's number
    assert "never reused" in exc.value.message
    odd = flow.new(subject_number="SCR-77")
    assert odd.site_sequence == 12 and flow.new().subject_number == "001-013"


def test_settings_are_created_lazily_and_the_pattern_can_change(flow, admin_user, study):
    assert not SubjectSettings.objects.filter(study=study).exists()
    flow.new()
    settings = SubjectSettings.objects.get(study=study)
    assert events(settings, "create")[0].reason == "Default screening-log settings"
    services.subject_settings_update(user=admin_user, study=study, data={"id_pattern": "{study}/{site}/{seq:04d}"},
                                     version=settings.version, reason="sponsor convention")
    assert flow.new().subject_number == "ACME-301/001/0002"


@pytest.mark.parametrize("pattern,message", [
    ("{site}-{num}", "Unknown placeholder {num}"),
    ("{site}-X", "must contain {seq}"),
    ("S{seq:03d}", "must contain {site}"),
    ("{site:03d}-{seq}", "does not fit"),
    ("{site}-{seq", "not valid"),
    ("{study}{study}{study}{study}{study}{study}{site}{seq:012d}", "longer than 60"),
    ("", "empty"),
])
def test_bad_id_patterns_are_refused(admin_user, study, sites, pattern, message):
    settings = services.subject_settings_get_or_create(user=admin_user, study=study)
    with pytest.raises(ValidationFailed) as exc:
        services.subject_settings_update(user=admin_user, study=study, data={"id_pattern": pattern},
                                         version=settings.version, reason="x")
    assert message in " ".join(exc.value.errors["id_pattern"])


def test_settings_need_study_edit_and_keep_codes_in_use(flow, admin_user, study):
    subject = flow.consent(flow.new())
    services.subject_transition(user=flow.user, subject=subject, status="screen_failed", on=D(2025, 2, 5),
                                version=subject.version, reason="labs", screen_fail_reason_code="lab_out_of_range")
    settings = SubjectSettings.objects.get(study=study)
    with pytest.raises(AccessDenied):
        services.subject_settings_update(user=flow.user, study=study, data={"no_enrollment_alert_days": 30},
                                         version=settings.version, reason="x")
    with pytest.raises(ValidationFailed) as exc:
        services.subject_settings_update(user=admin_user, study=study, version=settings.version, reason="x",
                                         data={"screen_fail_reasons": [{"code": "other", "label": "Other"}]})
    assert "'lab_out_of_range' is recorded for subjects" in exc.value.errors["screen_fail_reasons"][0]
    with pytest.raises(ValidationFailed) as exc:
        services.subject_settings_update(user=admin_user, study=study, version=settings.version, reason="x",
                                         data={"screen_fail_reasons": [{"code": "Bad Code", "label": "x"}]})
    assert "lower-case" in exc.value.errors["screen_fail_reasons"][0]


# --- Transitions -------------------------------------------------------------------------------------------

def test_transitions_are_enforced_with_clear_messages(flow):
    subject = flow.new()
    with pytest.raises(InvalidTransition) as exc:
        services.subject_transition(user=flow.user, subject=subject, status="completed", version=subject.version,
                                    reason="x")
    assert exc.value.message == ("Cannot change status from Screened to Completed. Allowed next: Consented, "
                                 "Screen failed.")
    with pytest.raises(ValidationFailed) as exc:
        services.subject_transition(user=flow.user, subject=subject, status="consented", version=subject.version,
                                    reason="x")
    assert "Record the informed consent" in exc.value.message
    future = timezone.localdate() + dt.timedelta(days=1)
    subject = flow.consent(subject)
    with pytest.raises(ValidationFailed) as exc:
        flow.enroll(subject, on=future)
    assert exc.value.errors == {"on": [f"The date {future} is in the future."]}
    with pytest.raises(ValidationFailed) as exc:
        flow.enroll(subject, on=D(2025, 2, 2))
    assert exc.value.errors == {"on": ["The date 2025-02-02 is before the subject's Consented date (2025-02-03)."]}
    with pytest.raises(ValidationFailed) as exc:
        services.subject_transition(user=flow.user, subject=subject, status="withdrawn", version=subject.version,
                                    reason="", withdrawal_reason="withdrew_consent")
    assert "reason" in exc.value.errors
    with pytest.raises(StaleVersion):
        services.subject_transition(user=flow.user, subject=subject, status="withdrawn", version=subject.version - 1,
                                    reason="x", withdrawal_reason="withdrew_consent")


def test_screen_failure_needs_a_configured_reason_and_is_audited(flow):
    subject = flow.new()
    with pytest.raises(ValidationFailed) as exc:
        services.subject_transition(user=flow.user, subject=subject, status="screen_failed", version=subject.version,
                                    reason="labs", screen_fail_reason_code="bad_luck")
    assert "screen_fail_reason_code" in exc.value.errors
    with pytest.raises(ValidationFailed) as exc:
        services.subject_transition(user=flow.user, subject=subject, status="screen_failed", version=subject.version,
                                    reason="labs", screen_fail_reason_code="other")
    assert "screen_fail_reason_text" in exc.value.errors
    subject = services.subject_transition(user=flow.user, subject=subject, status="screen_failed", on=D(2025, 2, 4),
                                          version=subject.version, reason="ALT 5x ULN",
                                          screen_fail_reason_code="lab_out_of_range", screen_fail_reason_text="ALT")
    assert (subject.status, subject.screen_failed_on) == ("screen_failed", D(2025, 2, 4))
    event = events(subject, "transition")[-1]
    assert event.reason == "ALT 5x ULN"
    assert event.changes["status"] == ["screened", "screen_failed"]
    assert event.changes["screen_fail_reason_code"] == ["", "lab_out_of_range"]
    assert event.changes["screen_failed_on"] == [None, "2025-02-04"]


def test_withdrawal_needs_a_reason(flow):
    subject = flow.enrolled()
    with pytest.raises(ValidationFailed) as exc:
        services.subject_transition(user=flow.user, subject=subject, status="withdrawn", version=subject.version,
                                    reason="moved away")
    assert "withdrawal_reason" in exc.value.errors
    subject = services.subject_transition(user=flow.user, subject=subject, status="withdrawn", on=D(2025, 3, 1),
                                          version=subject.version, reason="moved away",
                                          withdrawal_reason="withdrew_consent")
    assert subject.withdrawal_reason == "withdrew_consent" and subject.withdrawn_on == D(2025, 3, 1)


# --- Enrollment ---------------------------------------------------------------------------------------------

def test_enrollment_keeps_the_site_count_and_generates_visits(flow, site, protocol):
    a = flow.enrolled()
    b = flow.enrolled(on=D(2025, 2, 12))
    site.refresh_from_db()
    assert site.enrolled_count == 2
    assert site.actual_first_subject_in == D(2025, 2, 10)
    assert a.protocol_version_id == protocol.pk and a.eligibility_confirmed_by_id == flow.person.pk
    assert set(SubjectVisit.objects.filter(subject=a).values_list("definition__code", "planned_on")) == {
        ("V1", D(2025, 2, 10)), ("V3", D(2025, 3, 10))}  # V2 waits for the randomization date
    assert [e.changes["enrolled_count"] for e in AuditEvent.objects.filter(
        record_type="sites.studysite", record_id=str(site.pk), reason__startswith="Subject ")] == [[0, 1], [1, 2]]

    # Later statuses keep counting as enrolled; a deleted subject does not.
    services.subject_transition(user=flow.user, subject=b, status="withdrawn", on=D(2025, 3, 1), version=b.version,
                                reason="x", withdrawal_reason="adverse_event")
    site.refresh_from_db()
    assert site.enrolled_count == 2
    a.refresh_from_db()
    services.subject_delete(user=flow.user, subject=a, version=a.version, reason="duplicate entry")
    site.refresh_from_db()
    assert site.enrolled_count == 1 == Subject.objects.filter(site=site, enrolled_on__isnull=False).count()


def test_enrollment_needs_an_enrolling_site(make_flow, admin_user, sites, make_user, study, pi):
    candidate = sites[1]
    coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[candidate], username="coord2")
    delegate(admin_user, candidate, coordinator.person, ["informed_consent", "eligibility"], pi_user=pi,
             start=DELEGATED)
    flow = make_flow(coordinator)
    subject = flow.consent(flow.new(at=candidate))
    with pytest.raises(InvalidTransition) as exc:
        services.subject_transition(user=coordinator, subject=subject, status="enrolled", on=D(2025, 2, 10),
                                    version=subject.version, reason="eligible",
                                    eligibility_confirmed_by=coordinator.person)
    assert exc.value.message.startswith("Site 002 is Candidate: subjects can be enrolled only at an Activated or "
                                        "Enrolling site")
    assert StudySite.objects.get(pk=candidate.pk).status == "candidate"  # never changed for people


def test_enrollment_before_site_activation_is_refused(flow):
    subject = flow.consent(flow.new(on=D(2025, 1, 2)), on=D(2025, 1, 5))
    with pytest.raises(ValidationFailed) as exc:
        flow.enroll(subject, on=D(2025, 1, 10))
    assert "before the site's activation (2025-01-15)" in exc.value.errors["on"][0]


def test_eligibility_must_be_confirmed_by_a_delegated_person(flow, make_user, study, sites, admin_user):
    subject = flow.consent(flow.new())
    cra = make_user(Role.CRA, study=study, sites=[sites[0]], username="cra")
    with pytest.raises(ValidationFailed) as exc:
        services.subject_transition(user=flow.user, subject=subject, status="enrolled", on=D(2025, 2, 10),
                                    version=subject.version, reason="x")
    assert "eligibility_confirmed_by" in exc.value.errors
    with pytest.raises(services.DelegationRefused) as exc:
        services.subject_transition(user=flow.user, subject=subject, status="enrolled", on=D(2025, 2, 10),
                                    version=subject.version, reason="x", eligibility_confirmed_by=cra.person)
    assert exc.value.errors == {"eligibility_confirmed_by": [
        "Cra Tester is not delegated to confirm eligibility at site 001 of ACME-301 on 2025-02-10: the site's "
        "delegation log has no signed delegation of \"Assess eligibility\" to them in force that day, and they are "
        "not its principal investigator on the staff roster."]}
    assert Subject.objects.get(pk=subject.pk).status == "consented"


def test_delegation_check_follows_the_sites_delegation_log(admin_user, study, sites, make_user, site, pi,
                                                            coordinator):
    from trialdesk.staff.models import Delegation, SiteStaff
    from trialdesk.staff.services import delegation_create, delegation_end, site_staff_update

    # The site's principal investigator on the roster (since 2024-01-01) needs no delegation.
    services.delegation_check(pi.person, site, "consent", D(2024, 1, 1))
    with pytest.raises(services.DelegationRefused):
        services.delegation_check(pi.person, site, "consent", D(2023, 12, 31))
    # A signed delegation counts from its start date; a PI role on the study alone does not.
    services.delegation_check(coordinator.person, site, "consent", DELEGATED)
    with pytest.raises(services.DelegationRefused) as exc:
        services.delegation_check(coordinator.person, site, "eligibility", D(2024, 12, 31))
    assert exc.value.errors["eligibility_confirmed_by"] == [
        "Coord Tester is not delegated to confirm eligibility at site 001 of ACME-301 on 2024-12-31: the site's "
        "delegation log has no signed delegation of \"Assess eligibility\" to them in force that day, and they are "
        "not its principal investigator on the staff roster."]
    other_pi = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, username="studypi")
    with pytest.raises(services.DelegationRefused):
        services.delegation_check(other_pi.person, site, "consent", D(2025, 3, 1))
    nurse = person_create(user=admin_user, data={"first_name": "Nora", "last_name": "Nurse"})
    with pytest.raises(services.DelegationRefused) as exc:
        services.delegation_check(nurse, site, "consent", D(2025, 3, 1))
    assert exc.value.errors["obtained_by"][0].startswith("Nora Nurse is not delegated to obtain informed consent at "
                                                         "site 001 of ACME-301 on 2025-03-01")
    # Delegated at another site only.
    delegate(admin_user, sites[2], nurse, ["informed_consent"], pi_user=pi, start=DELEGATED)
    services.delegation_check(nurse, sites[2], "consent", D(2025, 3, 1))
    with pytest.raises(services.DelegationRefused):
        services.delegation_check(nurse, site, "consent", D(2025, 3, 1))
    # Proposed but not signed: not yet delegated.
    staff = SiteStaff.objects.get(site=sites[2], person=nurse)
    delegation_create(user=admin_user, staff=staff, data={"task": "eligibility", "start_date": DELEGATED})
    with pytest.raises(services.DelegationRefused):
        services.delegation_check(nurse, sites[2], "eligibility", D(2025, 3, 1))
    # Ended: covered up to the last day, not after.
    signed = Delegation.objects.get(staff__person=coordinator.person, task="informed_consent")
    delegation_end(user=admin_user, delegation=signed, ended_on=D(2025, 6, 30), version=signed.version,
                   reason="moved to another study")
    services.delegation_check(coordinator.person, site, "consent", D(2025, 6, 30))
    with pytest.raises(services.DelegationRefused):
        services.delegation_check(coordinator.person, site, "consent", D(2025, 7, 1))
    # Off the roster: the delegation no longer covers the person.
    services.delegation_check(coordinator.person, site, "eligibility", D(2025, 9, 1))
    entry = SiteStaff.objects.get(site=site, person=coordinator.person)
    site_staff_update(user=admin_user, staff=entry, data={"end_date": D(2025, 8, 31)}, version=entry.version,
                      reason="left the site")
    with pytest.raises(services.DelegationRefused):
        services.delegation_check(coordinator.person, site, "eligibility", D(2025, 9, 1))


# --- Randomization ----------------------------------------------------------------------------------------

def test_randomization_records_the_arm_and_moves_the_subject(flow, arms, admin_user, study, make_user):
    subject = flow.enrolled()
    other_study = study_create(user=admin_user, data={"protocol_number": "OTHER-9", "brief_title": "Other"})
    other_arm = arm_create(user=admin_user, study=other_study, data={"label": "X"})
    with pytest.raises(ValidationFailed) as exc:
        services.subject_randomize(user=flow.user, subject=subject, arm=other_arm, version=subject.version)
    assert exc.value.errors == {"arm": ["Choose one of this study's arms."]}
    randomization = services.subject_randomize(user=flow.user, subject=subject, arm=arms[1], version=subject.version,
                                               randomized_on=D(2025, 2, 11), stratum="FEV1<60%", irt_reference="R-17")
    subject.refresh_from_db()
    assert (subject.status, subject.randomized_on) == ("randomized", D(2025, 2, 11))
    created = events(randomization, "create")[0]
    assert created.changes["arm"] == [None, arms[1].pk] and created.reason == "Randomization recorded " \
                                                                              "(IRT/EDC reference R-17)"
    # The visit anchored on randomization is planned now.
    assert SubjectVisit.objects.get(subject=subject, definition__code="V2").planned_on == D(2025, 2, 25)
    with pytest.raises(Conflict):
        services.subject_randomize(user=flow.user, subject=subject, arm=arms[0], version=subject.version)

    not_enrolled = flow.new()
    with pytest.raises(InvalidTransition):
        services.subject_randomize(user=flow.user, subject=not_enrolled, arm=arms[0], version=not_enrolled.version)
    viewer = make_user(Role.VIEWER, study=study)
    with pytest.raises(AccessDenied):
        services.subject_randomize(user=viewer, subject=not_enrolled, arm=arms[0], version=not_enrolled.version)


def test_audit_changes_hide_the_arm_from_blinded_users(flow, arms, make_user, study):
    subject = flow.enrolled()
    randomization = services.subject_randomize(user=flow.user, subject=subject, arm=arms[0], version=subject.version,
                                               stratum="FEV1<60%")
    changes = events(randomization, "create")[0].changes
    blinded = make_user(Role.CPM, study=study, username="blinded_cpm")
    blinded.is_blinded = True
    assert redact_audit_changes(blinded, "subjects.randomization", changes)["arm"] == [None, "Blinded"]
    assert redact_audit_changes(blinded, "subjects.randomization", changes)["stratum"] == changes["stratum"]
    assert redact_audit_changes(flow.user, "subjects.randomization", changes)["arm"] == [None, arms[0].pk]
    assert redact_audit_changes(blinded, "subjects.subject", {"arm": [1, 2]}) == {"arm": [1, 2]}
    # Blinded users do not record assignments either: they would see the arm.
    other = flow.enrolled()
    with pytest.raises(AccessDenied):
        services.subject_randomize(user=blinded, subject=other, arm=arms[0], version=other.version)


def test_first_dose_anchors_visits(flow, admin_user, study, site):
    subject = flow.enrolled()
    with pytest.raises(ValidationFailed) as exc:
        services.subject_first_dose_record(user=flow.user, subject=subject, first_dose_on=D(2025, 2, 9),
                                           version=subject.version, reason="x")
    assert "cannot be before enrollment" in exc.value.errors["first_dose_on"][0]
    subject = services.subject_first_dose_record(user=flow.user, subject=subject, first_dose_on=D(2025, 2, 12),
                                                 version=subject.version, reason="dosed")
    assert subject.first_dose_on == D(2025, 2, 12) and events(subject, "update")[-1].reason == "dosed"


# --- Consent forms, consent and re-consent ----------------------------------------------------------------------

def _icf(admin_user, study, number, on, **data):
    form = services.icf_version_create(user=admin_user, study=study, data={
        "version_number": number, "version_date": on, "irb_approval_date": on + dt.timedelta(days=10), **data})
    return services.icf_version_approve(user=admin_user, icf_version=form, version=form.version)


def test_first_consent_moves_the_subject_and_checks_the_form(flow, icf, admin_user, study, sites, make_user):
    subject = flow.new()
    draft = services.icf_version_create(user=admin_user, study=study, data={
        "version_number": "9.0", "version_date": D(2025, 1, 1)})
    with pytest.raises(ValidationFailed) as exc:
        services.consent_record(user=flow.user, subject=subject, icf_version=draft, consented_on=D(2025, 2, 3),
                                method="paper", obtained_by=flow.person)
    assert "not approved by the IRB/IEC yet" in exc.value.message
    with pytest.raises(ValidationFailed) as exc:
        services.icf_version_approve(user=admin_user, icf_version=draft, version=draft.version)
    assert "irb_approval_date" in exc.value.errors
    french = _icf(admin_user, study, "1.0-FR", D(2024, 11, 1), country="France")
    with pytest.raises(ValidationFailed) as exc:
        services.consent_record(user=flow.user, subject=subject, icf_version=french, consented_on=D(2025, 2, 3),
                                method="paper", obtained_by=flow.person)
    assert exc.value.message == "Consent form 1.0-FR is for France, not for site 001 (Germany)."
    with pytest.raises(ValidationFailed) as exc:
        services.consent_record(user=flow.user, subject=subject, icf_version=icf, consented_on=D(2024, 11, 20),
                                method="paper", obtained_by=flow.person)
    assert "before the IRB/IEC approval of form 1.0 (2024-12-01)" in exc.value.message
    nurse = person_create(user=admin_user, data={"first_name": "Nora", "last_name": "Nurse"})
    with pytest.raises(services.DelegationRefused) as exc:
        services.consent_record(user=flow.user, subject=subject, icf_version=icf, consented_on=D(2025, 2, 3),
                                method="paper", obtained_by=nurse)
    assert exc.value.message.startswith("Nora Nurse is not delegated to obtain informed consent at site 001")
    assert not ConsentEvent.objects.exists()

    event = services.consent_record(user=flow.user, subject=subject, icf_version=icf, consented_on=D(2025, 2, 3),
                                    method="econsent", obtained_by=flow.person)
    subject.refresh_from_db()
    assert (subject.status, subject.consented_on, event.is_reconsent) == ("consented", D(2025, 2, 3), False)
    assert subject.protocol_version_id == icf.protocol_version_id
    assert events(subject, "transition")[-1].reason == "Informed consent to form 1.0 (e-Consent) recorded"
    with pytest.raises(Conflict):
        services.consent_record(user=flow.user, subject=subject, icf_version=icf, consented_on=D(2025, 2, 4),
                                method="paper", obtained_by=flow.person)


def test_approving_a_new_form_lists_who_must_reconsent(flow, make_flow, pi, icf, admin_user, study, sites):
    on_study = flow.enrolled()
    consented = flow.consent(flow.new())
    failed = flow.consent(flow.new())
    services.subject_transition(user=flow.user, subject=failed, status="screen_failed", on=D(2025, 2, 5),
                                version=failed.version, reason="x", screen_fail_reason_code="exclusion_met")
    flow.new()  # screened, never consented: not on study
    elsewhere = activate(admin_user, sites[1])  # United States
    us_subject = make_flow(pi).consent(make_flow(pi).new(at=elsewhere))

    v2 = _icf(admin_user, study, "2.0", D(2025, 3, 1))
    icf.refresh_from_db()
    assert (icf.status, v2.status) == ("superseded", "approved")
    open_reqs = ReconsentRequirement.objects.filter(icf_version=v2, status="open")
    assert set(open_reqs.values_list("subject_id", flat=True)) == {on_study.pk, consented.pk, us_subject.pk}
    assert AuditEvent.objects.filter(record_type="subjects.reconsentrequirement", action="create").count() == 3

    # A country form applies only there, and is more specific than the form for all sites.
    us = _icf(admin_user, study, "2.0-US", D(2025, 3, 5), country="United States")
    assert list(ReconsentRequirement.objects.filter(icf_version=us).values_list("subject_id", flat=True)) == \
        [us_subject.pk]
    # A subject who leaves the study no longer has to re-consent.
    services.subject_transition(user=flow.user, subject=consented, status="withdrawn", on=D(2025, 3, 20),
                                version=Subject.objects.get(pk=consented.pk).version, reason="x",
                                withdrawal_reason="withdrew_consent")
    assert ReconsentRequirement.objects.get(subject=consented, icf_version=v2).status == "not_required"


def test_reconsent_fulfils_the_requirement_and_reschedules_visits(flow, icf, admin_user, study, arms):
    subject = flow.enrolled()
    services.subject_randomize(user=flow.user, subject=subject, arm=arms[0], version=subject.version,
                               randomized_on=D(2025, 2, 11))
    assert set(SubjectVisit.objects.filter(subject=subject, status="planned")
               .values_list("definition__code", flat=True)) == {"V1", "V2", "V3"}
    amendment = approved_protocol(admin_user, study, "2.0", D(2025, 2, 20),
                                  [("V1", "enrollment", 0), ("V3B", "enrollment", 35)])
    v2 = _icf(admin_user, study, "2.0", D(2025, 2, 20), protocol_version=amendment)
    requirement = ReconsentRequirement.objects.get(subject=subject, icf_version=v2)
    with pytest.raises(ValidationFailed) as exc:  # the superseded form is no longer the current one
        services.consent_record(user=flow.user, subject=subject, icf_version=icf, consented_on=D(2025, 3, 5),
                                method="paper", obtained_by=flow.person)
    assert "superseded; the current form for site 001 is 2.0" in exc.value.message

    event = services.consent_record(user=flow.user, subject=subject, icf_version=v2, consented_on=D(2025, 3, 5),
                                    method="paper", obtained_by=flow.person)
    requirement.refresh_from_db()
    subject.refresh_from_db()
    assert event.is_reconsent
    assert (requirement.status, requirement.fulfilled_by_id, requirement.closed_on) == ("done", event.pk,
                                                                                        D(2025, 3, 5))
    assert subject.protocol_version_id == amendment.pk and subject.status == "randomized"
    visits = dict(SubjectVisit.objects.filter(subject=subject).values_list("definition__code", "status"))
    # Old-schedule visits after the re-consent are cancelled; the new schedule's later visits are planned.
    assert visits["V3"] == "cancelled" and visits["V3B"] == "planned"
    assert visits["V1"] == visits["V2"] == "planned"  # dated before the re-consent: stay as they were


def test_consent_of_a_subject_who_left_is_refused(flow):
    subject = flow.consent(flow.new())
    subject = services.subject_transition(user=flow.user, subject=subject, status="withdrawn", on=D(2025, 2, 5),
                                          version=subject.version, reason="x", withdrawal_reason="other",
                                          withdrawal_text="moved")
    with pytest.raises(InvalidTransition) as exc:
        flow.consent(subject, on=D(2025, 2, 6))
    assert "Withdrawn: consent cannot be recorded" in exc.value.message


def test_site_limited_staff_cannot_touch_other_sites(flow, admin_user, sites, coordinator):
    other = activate(admin_user, sites[1])
    with pytest.raises(AccessDenied):
        services.subject_create(user=coordinator, site=other)
    subject = services.subject_create(user=admin_user, site=other, status="screened", on=D(2025, 2, 1))
    with pytest.raises(AccessDenied):
        services.subject_transition(user=coordinator, subject=subject, status="screen_failed",
                                    version=subject.version, reason="x")
