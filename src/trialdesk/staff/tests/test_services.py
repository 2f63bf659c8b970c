"""Roster and delegation-log services: rules, lifecycle, signing (who may sign, what must be in place), audit."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import PASSWORD
from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.core.errors import AccessDenied, InvalidTransition, StaleVersion, ValidationFailed
from trialdesk.signatures.selectors import signatures_for
from trialdesk.staff import selectors, services
from trialdesk.staff.models import Delegation, SiteStaff
from trialdesk.staff.tests.conftest import D

# --- Roster ---------------------------------------------------------------------------------------------------


def test_the_sites_principal_investigator_joins_the_roster_and_a_new_pi_takes_over(admin_user, site, pi, make_user,
                                                                                      study):
    from trialdesk.sites.services import site_update

    entry = SiteStaff.objects.get(site=site, role="principal_investigator")
    assert entry.person == pi.person and entry.end_date is None and entry.start_date == dt.date.today()
    assert AuditEvent.objects.filter(record_type="staff.sitestaff", record_id=str(entry.pk), action="create").exists()
    successor = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, sites=[site], username="newpi")
    site_update(user=admin_user, site=site, data={"principal_investigator": successor.person}, version=site.version,
                reason="PI retired")
    entry.refresh_from_db()
    assert entry.end_date == dt.date.today()  # the handover day
    new = SiteStaff.objects.get(site=site, role="principal_investigator", person=successor.person)
    assert new.start_date == dt.date.today() and new.end_date is None
    assert list(selectors.site_pi_people(site)) == [pi.person, successor.person] or \
        set(selectors.site_pi_people(site)) == {pi.person, successor.person}  # both on the handover day
    assert list(selectors.site_pi_people(site, dt.date.today() + dt.timedelta(days=1))) == [successor.person]


def test_a_site_created_with_its_history_has_had_its_pi_since_selection(admin_user, study, sites, pi):
    from trialdesk.sites.services import site_create

    site = site_create(user=admin_user, study=study, data={
        "institution": sites[1].institution, "site_number": "009", "principal_investigator": pi.person,
        "actual_selected": D(2024, 3, 1), "actual_activated": D(2024, 9, 1)})
    entry = SiteStaff.objects.get(site=site)
    assert (entry.role, entry.person, entry.start_date) == ("principal_investigator", pi.person, D(2024, 3, 1))


def test_roster_entry_rules(admin_user, site, nurse, nurse_person):
    with pytest.raises(ValidationFailed) as exc:
        services.site_staff_create(user=admin_user, site=site, data={
            "person": nurse_person, "role": "study_coordinator", "start_date": D(2026, 6, 1)})
    assert exc.value.errors["person"][0].startswith("Nora Nurse, RN is already on the roster of site 001 as Study "
                                                    "nurse from 2026-01-01")
    with pytest.raises(ValidationFailed) as exc:
        services.site_staff_create(user=admin_user, site=site, data={
            "person": nurse_person, "role": "other", "start_date": D(2020, 1, 1), "end_date": D(2019, 1, 1)})
    assert set(exc.value.errors) == {"role_detail", "end_date"}
    from trialdesk.organizations.services import person_create

    other_pi = person_create(user=admin_user, data={"first_name": "Otto", "last_name": "Other"})
    with pytest.raises(ValidationFailed) as exc:
        services.site_staff_create(user=admin_user, site=site, data={
            "person": other_pi, "role": "principal_investigator", "start_date": D(2026, 1, 1)})
    assert "already has a principal investigator on the roster for this period: Pi Tester" in \
        exc.value.errors["role"][0]
    assert SiteStaff.objects.filter(person=other_pi).count() == 0  # nothing half-written
    # An earlier, ended period of the same person is fine.
    services.site_staff_create(user=admin_user, site=site, data={
        "person": nurse_person, "role": "study_coordinator", "start_date": D(2024, 1, 1), "end_date": D(2025, 6, 30)})


def test_roster_update_needs_version_and_reason_and_is_audited(admin_user, nurse):
    with pytest.raises(ValidationFailed) as exc:
        services.site_staff_update(user=admin_user, staff=nurse, data={"gcp_expiry": D(2029, 1, 1)},
                                   version=nurse.version, reason="")
    assert "reason" in exc.value.errors
    nurse.refresh_from_db()  # a refused write leaves the stored record as it was
    assert nurse.gcp_expiry == D(2028, 12, 31)
    updated = services.site_staff_update(user=admin_user, staff=nurse, data={"gcp_expiry": D(2029, 1, 1)},
                                         version=nurse.version, reason="renewed")
    assert updated.version == 2
    event = AuditEvent.objects.filter(record_type="staff.sitestaff", record_id=str(nurse.pk)).last()
    assert event.changes == {"gcp_expiry": ["2028-12-31", "2029-01-01"]} and event.reason == "renewed"
    with pytest.raises(StaleVersion):
        services.site_staff_update(user=admin_user, staff=SiteStaff.objects.get(pk=nurse.pk),
                                   data={"notes": "x"}, version=1, reason="r")
    with pytest.raises(ValidationFailed) as exc:
        services.site_staff_update(user=admin_user, staff=updated, data={"person": 1}, version=2, reason="r")
    assert "person" in exc.value.errors


def test_roster_permissions_follow_the_site_scope(make_user, study, sites, site, nurse_person):
    other_site_coordinator = make_user(Role.SITE_COORDINATOR, study=study, sites=[sites[1]], username="c2")
    with pytest.raises(AccessDenied):
        services.site_staff_create(user=other_site_coordinator, site=site, data={
            "person": nurse_person, "role": "study_nurse", "start_date": D(2026, 1, 1)})
    viewer = make_user(Role.VIEWER, study=study)
    with pytest.raises(AccessDenied):
        services.site_staff_create(user=viewer, site=site, data={
            "person": nurse_person, "role": "study_nurse", "start_date": D(2026, 1, 1)})
    finance = make_user(Role.FINANCE, study=study)
    assert selectors.staff_list(finance).count() == 1  # staff.view: the PI's entry
    assert selectors.staff_list(other_site_coordinator).count() == 0


def test_roster_delete_withdraws_pending_delegations_and_keeps_signed_ones(admin_user, nurse, propose):
    pending = propose(nurse)
    services.site_staff_delete(user=admin_user, staff=nurse, version=nurse.version, reason="entered in error")
    pending.refresh_from_db()
    assert pending.status == "withdrawn"
    assert not SiteStaff.objects.filter(pk=nurse.pk).exists() and SiteStaff.all_objects.get(pk=nurse.pk).is_deleted


# --- Delegations: proposing ---------------------------------------------------------------------------------------

def test_delegation_rules(admin_user, site, nurse, propose, pi):
    with pytest.raises(ValidationFailed) as exc:
        propose(nurse, start=D(2025, 12, 1))
    assert exc.value.errors["start_date"] == ["Nora Nurse, RN is on the roster from 2026-01-01; a delegation cannot "
                                              "start before that."]
    with pytest.raises(ValidationFailed) as exc:
        propose(nurse, task="study_specific")
    assert exc.value.errors == {"task_detail": ["Describe the study-specific task."]}
    with pytest.raises(ValidationFailed) as exc:
        propose(nurse, task="teleportation")
    assert "task" in exc.value.errors
    first = propose(nurse)
    with pytest.raises(ValidationFailed) as exc:
        propose(nurse, start=D(2026, 3, 1))
    assert "already has a delegation of Obtain informed consent (pending signature, from 2026-02-01)" in \
        exc.value.errors["task"][0]
    propose(nurse, task="study_specific", detail="Spirometry")
    propose(nurse, task="study_specific", detail="Actigraphy watch set-up")
    pi_entry = SiteStaff.objects.get(site=site, role="principal_investigator")
    with pytest.raises(ValidationFailed) as exc:
        propose(pi_entry)
    assert "nothing is delegated to them" in exc.value.errors["staff"][0]
    assert first.status == "pending" and first.proposed_by == admin_user
    assert Delegation.objects.filter(staff=nurse).count() == 3


def test_propose_several_tasks_is_all_or_nothing(admin_user, nurse):
    with pytest.raises(ValidationFailed):
        services.delegations_create(user=admin_user, staff=nurse, task_list=["eligibility", "study_specific"],
                                    start_date=D(2026, 2, 1))
    assert not Delegation.objects.filter(staff=nurse).exists()
    made = services.delegations_create(user=admin_user, staff=nurse, task_list=["eligibility", "data_entry"],
                                       start_date=D(2026, 2, 1))
    assert [d.task for d in made] == ["eligibility", "data_entry"]


def test_pending_delegations_can_be_changed_and_withdrawn(admin_user, nurse, propose):
    pending = propose(nurse, task="study_specific", detail="Spirometry")
    changed = services.delegation_update(user=admin_user, delegation=pending, data={"task": "data_entry"},
                                         version=pending.version, reason="wrong task")
    assert changed.task == "data_entry" and changed.task_detail == ""
    withdrawn = services.delegation_withdraw(user=admin_user, delegation=changed, version=changed.version,
                                             reason="not needed")
    assert withdrawn.status == "withdrawn"
    with pytest.raises(InvalidTransition):
        services.delegation_withdraw(user=admin_user, delegation=withdrawn, version=withdrawn.version, reason="x")
    with pytest.raises(InvalidTransition):
        services.delegation_update(user=admin_user, delegation=withdrawn, data={"task": "eligibility"},
                                   version=withdrawn.version, reason="x")
    events = AuditEvent.objects.filter(record_type="staff.delegation", record_id=str(pending.pk))
    assert [e.action for e in events.order_by("seq")] == ["create", "update", "transition"]


# --- Delegations: signing -----------------------------------------------------------------------------------------

def test_signing_an_untrained_delegate_is_refused_naming_the_missing_training(nurse, propose, sign, protocol):
    pending = propose(nurse)
    with pytest.raises(ValidationFailed) as exc:
        sign(pending)
    assert exc.value.errors == {"training": [
        "Nora Nurse, RN: Protocol training for ACME-301 protocol version 1.0 is not complete."]}
    assert exc.value.message == ("This delegation cannot be signed: Nora Nurse, RN: Protocol training for ACME-301 "
                                 "protocol version 1.0 is not complete.")
    pending.refresh_from_db()
    assert pending.status == "pending" and pending.signature is None


def test_signing_names_every_missing_qualification(admin_user, nurse, propose, sign, protocol):
    nurse = services.site_staff_update(user=admin_user, staff=nurse, data={"gcp_certificate_date": None,
                                                                            "gcp_expiry": None},
                                       version=nurse.version, reason="certificate was for another person")
    with pytest.raises(ValidationFailed) as exc:
        sign(propose(nurse))
    assert set(exc.value.errors) == {"training", "gcp"}
    assert exc.value.errors["gcp"] == ["No GCP training certificate is recorded for Nora Nurse, RN on the site staff "
                                       "roster."]
    nurse = services.site_staff_update(user=admin_user, staff=nurse, data={"gcp_certificate_date": D(2023, 1, 1),
                                                                            "gcp_expiry": D(2026, 1, 31)},
                                       version=nurse.version, reason="found the old certificate")
    blockers = dict(selectors.delegation_sign_blockers(Delegation.objects.get(staff=nurse)))
    assert blockers["gcp"] == "Nora Nurse, RN's GCP training certificate expired on 2026-01-31."


def test_only_the_sites_principal_investigator_signs(nurse, propose, sign, cpm, coordinator, make_user, study, sites,
                                                     protocol):
    pending = propose(nurse)
    with pytest.raises(AccessDenied) as exc:
        sign(pending, user=cpm)  # holds delegation.sign, but is not the site's PI
    assert exc.value.message == ("Only the principal investigator of site 001 can sign its delegation log; you are "
                                 "not its principal investigator.")
    with pytest.raises(AccessDenied) as exc:
        sign(pending, user=coordinator)
    assert "(delegation.sign)" in exc.value.message
    other_pi = make_user(Role.PRINCIPAL_INVESTIGATOR, study=study, sites=[sites[1]], username="pi2")
    with pytest.raises(AccessDenied):
        sign(pending, user=other_pi)


def test_a_wrong_password_is_refused_and_audited(nurse, propose, pi, train, protocol):
    train(nurse.person)
    pending = propose(nurse)
    with pytest.raises(ValidationFailed) as exc:
        services.delegation_sign(user=pi, delegation=pending, password="nope", version=pending.version)
    assert exc.value.errors == {"password": ["The password is not correct. The record was not signed."]}
    assert AuditEvent.objects.filter(record_type="staff.delegation", record_id=str(pending.pk),
                                     action="signature_failed").count() == 1
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_signing_a_trained_qualified_delegate(nurse, propose, sign, pi, train, protocol):
    train(nurse.person)
    pending = propose(nurse)
    signed = sign(pending)
    assert signed.status == "active" and signed.signature.signer == pi and signed.signed_at is not None
    assert signed.signature.meaning == "approved"
    views = signatures_for(signed)
    assert len(views) == 1 and views[0].valid
    assert signed.signature_content()["person"] == "Nora Nurse, RN" and signed.signature_content()["site"] == "001"
    with pytest.raises(InvalidTransition):
        sign(signed)
    assert list(selectors.delegated_people(signed.staff.site.study)) == [nurse.person]
    transition = AuditEvent.objects.filter(record_type="staff.delegation", record_id=str(signed.pk),
                                           action="transition").last()
    assert transition.changes["status"] == ["pending", "active"]
    assert transition.changes["signature_id"] == [None, signed.signature_id]


def test_ending_a_signed_delegation_keeps_its_signature_valid(admin_user, nurse, propose, sign, train, protocol):
    train(nurse.person)
    signed = sign(propose(nurse, end=D(2027, 12, 31)))
    with pytest.raises(ValidationFailed):
        services.delegation_end(user=admin_user, delegation=signed, ended_on=D(2028, 1, 1), version=signed.version,
                                reason="left")
    with pytest.raises(ValidationFailed):
        services.delegation_end(user=admin_user, delegation=signed, ended_on=D(2026, 6, 30), version=signed.version,
                                reason="")
    ended = services.delegation_end(user=admin_user, delegation=signed, ended_on=D(2026, 6, 30),
                                    version=signed.version, reason="moved to another ward")
    assert ended.status == "ended" and ended.ended_on == D(2026, 6, 30) and ended.ended_reason
    assert signatures_for(ended)[0].valid  # the signed content (dates as signed) did not change
    site = nurse.site
    assert selectors.delegation_covering(nurse.person, site, "informed_consent", D(2026, 6, 30)) == ended
    assert selectors.delegation_covering(nurse.person, site, "informed_consent", D(2026, 7, 1)) is None
    assert selectors.delegation_covering(nurse.person, site, "informed_consent", D(2026, 1, 31)) is None
    with pytest.raises(InvalidTransition):
        services.delegation_end(user=admin_user, delegation=ended, ended_on=D(2026, 6, 1), version=ended.version,
                                reason="again")


def test_role_change_with_signed_delegations_is_refused(admin_user, nurse, propose, sign, train, protocol):
    train(nurse.person)
    sign(propose(nurse))
    nurse.refresh_from_db()
    with pytest.raises(ValidationFailed) as exc:
        services.site_staff_update(user=admin_user, staff=nurse, data={"role": "study_coordinator"},
                                   version=nurse.version, reason="promoted")
    assert "end this roster entry and add a new one" in exc.value.errors["role"][0]
    with pytest.raises(InvalidTransition):
        services.site_staff_delete(user=admin_user, staff=nurse, version=nurse.version, reason="x")


def test_people_delegated_for_a_task(nurse, propose, sign, train, pi, site, protocol):
    train(nurse.person)
    assert list(selectors.people_delegated_for(site, "informed_consent", D(2026, 3, 1))) == []  # PI starts today
    assert list(selectors.people_delegated_for(site, "informed_consent")) == [pi.person]
    sign(propose(nurse))
    assert list(selectors.people_delegated_for(site, "informed_consent")) == [nurse.person, pi.person]
    assert list(selectors.people_delegated_for(site, "eligibility")) == [pi.person]


def test_password_is_checked_for_every_signature(nurse, propose, pi, train, protocol):
    train(nurse.person)
    pending = propose(nurse)
    signed = services.delegation_sign(user=pi, delegation=pending, password=PASSWORD, version=pending.version,
                                      comment="Delegated at the site initiation visit")
    assert signed.signature.comment == "Delegated at the site initiation visit"
