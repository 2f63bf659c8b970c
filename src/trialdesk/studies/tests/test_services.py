"""Study services on a real database: lifecycle, reason for change, optimistic locking, e-signatures."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import PASSWORD
from trialdesk.accounts.roles import Role
from trialdesk.audit.models import AuditEvent
from trialdesk.core.errors import AccessDenied, InvalidTransition, StaleVersion, ValidationFailed
from trialdesk.signatures.models import Signature
from trialdesk.signatures.selectors import signature_check, signatures_for
from trialdesk.studies.models import ProtocolVersion
from trialdesk.studies.services import (
    arm_create,
    intervention_create,
    protocol_version_approve,
    protocol_version_create,
    protocol_version_update,
    study_create,
    study_delete,
    study_transition,
    study_update,
)


def test_change_to_existing_record_requires_reason_and_changes_nothing_without(study, admin_user):
    with pytest.raises(ValidationFailed) as exc:
        study_update(user=admin_user, study=study, data={"acronym": "NEW"}, version=study.version, reason="  ")
    assert "reason" in exc.value.errors
    study.refresh_from_db()
    assert study.acronym == "BREATHE" and study.version == 1


def test_update_with_no_change_is_not_audited(study, admin_user):
    before = AuditEvent.objects.count()
    study_update(user=admin_user, study=study, data={"acronym": "BREATHE"}, version=study.version, reason="")
    assert AuditEvent.objects.count() == before


def test_stale_version_is_refused(study, admin_user):
    study_update(user=admin_user, study=study, data={"acronym": "A"}, version=1, reason="first edit")
    stale = type(study).objects.get(pk=study.pk)
    stale.version = 1  # a second user still holds version 1
    with pytest.raises(StaleVersion, match="changed by someone else"):
        study_update(user=admin_user, study=stale, data={"acronym": "B"}, version=1, reason="second edit")


def test_protocol_number_unique(study, admin_user):
    with pytest.raises(ValidationFailed) as exc:
        study_create(user=admin_user, data={"protocol_number": "ACME-301", "brief_title": "Dup"})
    assert "protocol_number" in exc.value.errors


def test_invalid_phase_is_a_field_error(admin_user):
    with pytest.raises(ValidationFailed) as exc:
        study_create(user=admin_user, data={"protocol_number": "X-1", "brief_title": "t", "phases": ["PHASE9"]})
    assert "phases" in exc.value.errors


def test_lifecycle_enforced_and_audited(study, admin_user):
    with pytest.raises(InvalidTransition, match="Allowed next"):
        study_transition(user=admin_user, study=study, status="completed", version=study.version, reason="r")
    study = study_transition(user=admin_user, study=study, status="start_up", version=study.version,
                             reason="Protocol final")
    study = study_transition(user=admin_user, study=study, status="enrolling", version=study.version,
                             reason="First site active")
    assert study.status == "enrolling"
    event = AuditEvent.objects.filter(record_type="studies.study", action="transition").order_by("-seq").first()
    assert event.changes == {"status": ["start_up", "enrolling"]} and event.reason == "First site active"
    with pytest.raises(ValidationFailed):
        study_transition(user=admin_user, study=study, status="on_hold", version=study.version, reason="")


def test_terminal_status_has_no_way_out(study, admin_user):
    study = study_transition(user=admin_user, study=study, status="withdrawn", version=study.version,
                             reason="Sponsor decision")
    with pytest.raises(InvalidTransition, match="final status"):
        study_transition(user=admin_user, study=study, status="planning", version=study.version, reason="oops")


def test_soft_delete_keeps_the_record(study, admin_user):
    study_delete(user=admin_user, study=study, version=study.version, reason="Created in error")
    assert not type(study).objects.filter(pk=study.pk).exists()
    kept = type(study).all_objects.get(pk=study.pk)
    assert kept.is_deleted and kept.deleted_reason == "Created in error"
    with pytest.raises(RuntimeError):
        kept.delete()


def test_roles_without_edit_rights_cannot_write(study, make_user):
    viewer = make_user(Role.VIEWER, study=study)
    auditor = make_user(Role.AUDITOR)
    for user in (viewer, auditor):
        with pytest.raises(AccessDenied):
            study_update(user=user, study=study, data={"acronym": "Z"}, version=study.version, reason="r")
    other_cpm_study = study_create(user=make_user(Role.ADMIN), data={"protocol_number": "OTHER-1",
                                                                    "brief_title": "Other"})
    cpm_elsewhere = make_user(Role.CPM, study=other_cpm_study)
    with pytest.raises(AccessDenied):
        study_update(user=cpm_elsewhere, study=study, data={"acronym": "Z"}, version=study.version, reason="r")
    with pytest.raises(AccessDenied):
        study_create(user=cpm_elsewhere, data={"protocol_number": "N-1", "brief_title": "n"})


def test_arms_and_interventions(study, admin_user):
    arm = arm_create(user=admin_user, study=study, data={"label": "Acmeximab 10 mg", "arm_type": "EXPERIMENTAL"})
    placebo = arm_create(user=admin_user, study=study, data={"label": "Placebo", "arm_type": "PLACEBO_COMPARATOR"})
    drug = intervention_create(user=admin_user, study=study, data={"kind": "DRUG", "name": "Acmeximab"},
                               arm_ids=[arm.pk])
    assert list(drug.arms.all()) == [arm]
    with pytest.raises(ValidationFailed):
        arm_create(user=admin_user, study=study, data={"label": "Placebo"})
    assert placebo.audit_study_id == study.pk


def _version(study, user, number="1.0", date=dt.date(2026, 1, 10), amendment=None):
    return protocol_version_create(user=user, study=study, data={
        "version_number": number, "version_date": date, "amendment_number": amendment,
        "summary_of_changes": "" if amendment is None else "Added an interim analysis"})


def test_protocol_approval_by_signature(study, make_user):
    cpm = make_user(Role.CPM, study=study)
    pv = _version(study, cpm)
    with pytest.raises(ValidationFailed) as exc:
        protocol_version_approve(user=cpm, protocol_version=pv, password="wrong", version=pv.version)
    assert "password" in exc.value.errors
    assert AuditEvent.objects.filter(action="signature_failed", record_id=str(pv.pk)).exists()
    pv.refresh_from_db()
    assert pv.status == "draft" and not Signature.objects.exists()

    pv = protocol_version_approve(user=cpm, protocol_version=pv, password=PASSWORD, version=pv.version,
                                  comment="Final protocol")
    assert pv.status == "approved"
    [view] = signatures_for(pv)
    sig = view.signature
    assert view.valid and sig.meaning == "approved" and sig.printed_name == cpm.display_name
    assert sig.signed_at.utcoffset().total_seconds() == 0 and len(sig.content_hash) == 64


def test_new_approval_supersedes_previous(study, admin_user):
    v1 = _version(study, admin_user)
    v1 = protocol_version_approve(user=admin_user, protocol_version=v1, password=PASSWORD, version=v1.version)
    v2 = _version(study, admin_user, "2.0", dt.date(2026, 6, 1), amendment=1)
    protocol_version_approve(user=admin_user, protocol_version=v2, password=PASSWORD, version=v2.version)
    v1.refresh_from_db()
    assert v1.status == "superseded"
    with pytest.raises(ValidationFailed):
        protocol_version_update(user=admin_user, protocol_version=v1, data={"summary_of_changes": "x"},
                                version=v1.version, reason="r")


def test_change_after_signing_marks_signature_as_not_matching(study, admin_user):
    pv = _version(study, admin_user)
    pv = protocol_version_approve(user=admin_user, protocol_version=pv, password=PASSWORD, version=pv.version)
    pv = protocol_version_update(user=admin_user, protocol_version=pv, data={"summary_of_changes": "Edited"},
                                 version=pv.version, reason="Late correction")
    assert pv.status == "draft"  # needs re-approval
    [view] = signatures_for(pv)
    assert not view.matches and "no longer matches" in view.status_label


def test_signature_cannot_be_moved_to_another_record(study, admin_user):
    pv1 = _version(study, admin_user)
    pv1 = protocol_version_approve(user=admin_user, protocol_version=pv1, password=PASSWORD, version=pv1.version)
    pv2 = _version(study, admin_user, "1.1", dt.date(2026, 2, 1))
    sig = pv1.approval_signature
    # Even a signature pointed at another record (as if its row were rewritten) fails the binding check.
    sig.record_id = str(pv2.pk)
    view = signature_check(sig, pv2)
    assert not view.binding_valid and not view.valid
    assert signatures_for(pv2) == []
    assert ProtocolVersion.objects.get(pk=pv2.pk).approval_signature is None


def test_only_draft_can_be_approved(study, admin_user):
    pv = _version(study, admin_user)
    pv = protocol_version_approve(user=admin_user, protocol_version=pv, password=PASSWORD, version=pv.version)
    with pytest.raises(InvalidTransition):
        protocol_version_approve(user=admin_user, protocol_version=pv, password=PASSWORD, version=pv.version)


def test_regulatory_can_draft_but_not_approve(study, make_user):
    reg = make_user(Role.REGULATORY, study=study)
    pv = _version(study, reg)
    with pytest.raises(AccessDenied):
        protocol_version_approve(user=reg, protocol_version=pv, password=PASSWORD, version=pv.version)


def test_signature_covers_the_schedule_of_events(study, admin_user):
    from trialdesk.visits.models import VisitDefinition

    pv = _version(study, admin_user)
    VisitDefinition(protocol_version=pv, study=study, code="V1", name="Baseline", target_day=0).save()
    pv = protocol_version_approve(user=admin_user, protocol_version=pv, password=PASSWORD, version=pv.version)
    assert signatures_for(pv)[0].valid
    # A schedule change made behind the application's back no longer matches the approval.
    VisitDefinition.objects.filter(protocol_version=pv).update(window_after=7)
    assert not signatures_for(pv)[0].matches


def test_children_of_a_deleted_study_are_out_of_view(study, sites, admin_user):
    from trialdesk.core.errors import NotFound
    from trialdesk.sites.selectors import site_get, site_list
    from trialdesk.studies.selectors import arm_get

    arm = arm_create(user=admin_user, study=study, data={"label": "Arm A"})
    study_delete(user=admin_user, study=study, version=study.version, reason="Entered twice")
    with pytest.raises(NotFound):
        arm_get(admin_user, arm.pk)
    with pytest.raises(NotFound):
        site_get(admin_user, sites[0].pk)
    assert site_list(admin_user).count() == 0
