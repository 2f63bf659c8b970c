from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.audit.services import Action, audit_event_create
from trialdesk.core.crud import editable_fields, record_create, record_soft_delete, record_update
from trialdesk.core.errors import InvalidTransition, ValidationFailed
from trialdesk.core.records import bump_version, check_version, require_reason
from trialdesk.signatures.services import signature_create
from trialdesk.studies.lifecycle import STUDY_STATUSES, allowed_study_transitions, transition_error
from trialdesk.studies.models import Arm, Intervention, ProtocolVersion, Study

STUDY_FIELDS = editable_fields(Study, exclude={"status", "status_changed_at"})
ARM_FIELDS = editable_fields(Arm, exclude={"study"})
INTERVENTION_FIELDS = editable_fields(Intervention, exclude={"study"})
PROTOCOL_FIELDS = frozenset({"version_number", "version_date", "amendment_number", "summary_of_changes"})


# --- Study ------------------------------------------------------------------

@transaction.atomic
def study_create(*, user, data: dict[str, Any], collaborators: list | None = None, reason: str = "",
                 check: bool = True) -> Study:
    """Create a study in Planning. check=False only for trusted importers that checked already."""
    if check:
        permissions.require(user, "study.create")
    study = Study(status="planning", status_changed_at=timezone.now())
    return record_create(actor=user, instance=study, data=data, allowed=STUDY_FIELDS, reason=reason,
                         m2m={"collaborators": collaborators} if collaborators else None)


@transaction.atomic
def study_update(*, user, study: Study, data: dict[str, Any], version: int | None, reason: str,
                 collaborators: list | None = None, check: bool = True) -> Study:
    if check:
        permissions.require(user, "study.edit", study)
    return record_update(actor=user, instance=study, data=data, allowed=STUDY_FIELDS, version=version,
                         reason=reason,
                         m2m={"collaborators": collaborators} if collaborators is not None else None)[0]


@transaction.atomic
def study_transition(*, user, study: Study, status: str, version: int | None, reason: str) -> Study:
    """Move a study through its lifecycle; only allowed transitions, always with a reason."""
    permissions.require(user, "study.transition", study)
    check_version(study, version)
    error = transition_error(study.status, status, STUDY_STATUSES, allowed_study_transitions(study.status))
    if error:
        raise InvalidTransition(error, errors={"status": [error]})
    reason = require_reason(reason)
    old = study.status
    study.status = status
    study.status_changed_at = timezone.now()
    bump_version(study)
    study.save(update_fields=["status", "status_changed_at", "version", "updated_at"])
    audit_event_create(actor=user, action=Action.TRANSITION, record=study, changes={"status": [old, status]},
                       reason=reason)
    return study


@transaction.atomic
def study_delete(*, user, study: Study, version: int | None, reason: str) -> Study:
    permissions.require(user, "study.delete", study)
    return record_soft_delete(actor=user, instance=study, version=version, reason=reason)


# --- Arms and interventions ---------------------------------------------------

@transaction.atomic
def arm_create(*, user, study: Study, data: dict[str, Any], reason: str = "") -> Arm:
    permissions.require(user, "study.edit", study)
    return record_create(actor=user, instance=Arm(study=study), data=data, allowed=ARM_FIELDS, reason=reason)


@transaction.atomic
def arm_update(*, user, arm: Arm, data: dict[str, Any], version: int | None, reason: str) -> Arm:
    permissions.require(user, "study.edit", arm.study)
    return record_update(actor=user, instance=arm, data=data, allowed=ARM_FIELDS, version=version,
                         reason=reason)[0]


@transaction.atomic
def arm_delete(*, user, arm: Arm, version: int | None, reason: str) -> Arm:
    permissions.require(user, "study.edit", arm.study)
    return record_soft_delete(actor=user, instance=arm, version=version, reason=reason)


def _arms_of(study: Study, arm_ids: list[int] | None) -> list[Arm] | None:
    if arm_ids is None:
        return None
    arms = list(Arm.objects.filter(study=study, pk__in=arm_ids))
    missing = set(arm_ids) - {a.pk for a in arms}
    if missing:
        raise ValidationFailed.field("arms", f"Arms {sorted(missing)} are not arms of this study.")
    return arms


@transaction.atomic
def intervention_create(*, user, study: Study, data: dict[str, Any], arm_ids: list[int] | None = None,
                        reason: str = "") -> Intervention:
    permissions.require(user, "study.edit", study)
    arms = _arms_of(study, arm_ids)
    return record_create(actor=user, instance=Intervention(study=study), data=data,
                         allowed=INTERVENTION_FIELDS, reason=reason, m2m={"arms": arms} if arms else None)


@transaction.atomic
def intervention_update(*, user, intervention: Intervention, data: dict[str, Any], version: int | None,
                        reason: str, arm_ids: list[int] | None = None) -> Intervention:
    permissions.require(user, "study.edit", intervention.study)
    arms = _arms_of(intervention.study, arm_ids)
    return record_update(actor=user, instance=intervention, data=data, allowed=INTERVENTION_FIELDS,
                         version=version, reason=reason, m2m={"arms": arms} if arms is not None else None)[0]


@transaction.atomic
def intervention_delete(*, user, intervention: Intervention, version: int | None, reason: str) -> Intervention:
    permissions.require(user, "study.edit", intervention.study)
    return record_soft_delete(actor=user, instance=intervention, version=version, reason=reason)


# --- Protocol versions ----------------------------------------------------------

@transaction.atomic
def protocol_version_create(*, user, study: Study, data: dict[str, Any], reason: str = "") -> ProtocolVersion:
    permissions.require(user, "protocol.edit", study)
    return record_create(actor=user, instance=ProtocolVersion(study=study, status="draft"), data=data,
                         allowed=PROTOCOL_FIELDS, reason=reason)


@transaction.atomic
def protocol_version_update(*, user, protocol_version: ProtocolVersion, data: dict[str, Any],
                            version: int | None, reason: str) -> ProtocolVersion:
    """Edit a version. Editing an approved one sends it back to draft: its signature no longer matches."""
    permissions.require(user, "protocol.edit", protocol_version)
    if protocol_version.status == "superseded":
        raise ValidationFailed.field("status", "A superseded protocol version cannot be changed.")
    was_approved = protocol_version.status == "approved"
    pv, changes = record_update(actor=user, instance=protocol_version, data=data, allowed=PROTOCOL_FIELDS,
                                version=version, reason=reason)
    if changes and was_approved:
        pv.status = "draft"
        pv.save(update_fields=["status"])
        audit_event_create(actor=user, action=Action.TRANSITION, record=pv,
                           changes={"status": ["approved", "draft"]},
                           reason=f"Approved content changed; re-approval required. {reason}".strip())
    return pv


@transaction.atomic
def protocol_version_delete(*, user, protocol_version: ProtocolVersion, version: int | None, reason: str
                            ) -> ProtocolVersion:
    permissions.require(user, "protocol.edit", protocol_version)
    if protocol_version.status != "draft":
        raise ValidationFailed.field("status", "Only a draft protocol version can be deleted.")
    return record_soft_delete(actor=user, instance=protocol_version, version=version, reason=reason)


def protocol_version_approve(*, user, protocol_version: ProtocolVersion, password: str, version: int | None,
                             comment: str = "") -> ProtocolVersion:
    """Approve by e-signature (meaning: approved); the previously approved version is superseded."""
    permissions.require(user, "protocol.approve", protocol_version)
    check_version(protocol_version, version)
    if protocol_version.status != "draft":
        raise InvalidTransition(
            f"Only a draft version can be approved; this one is {protocol_version.get_status_display()}.",
            errors={"status": ["Only a draft version can be approved."]},
        )
    # The password check (and its audit on failure) happens before the approval transaction.
    signature = signature_create(user=user, password=password, record=protocol_version, meaning="approved",
                                 comment=comment)
    return _protocol_version_mark_approved(user=user, protocol_version=protocol_version, signature=signature)


@transaction.atomic
def _protocol_version_mark_approved(*, user, protocol_version: ProtocolVersion, signature) -> ProtocolVersion:
    now = timezone.now()
    previous = list(
        ProtocolVersion.objects.select_for_update()
        .filter(study_id=protocol_version.study_id, status="approved")
        .exclude(pk=protocol_version.pk)
    )
    for old in previous:
        old.status = "superseded"
        old.superseded_at = now
        bump_version(old)
        old.save(update_fields=["status", "superseded_at", "version", "updated_at"])
        audit_event_create(actor=user, action=Action.TRANSITION, record=old,
                           changes={"status": ["approved", "superseded"]},
                           reason=f"Superseded by protocol version {protocol_version.version_number}")
    protocol_version.status = "approved"
    protocol_version.approved_at = now
    protocol_version.approval_signature = signature
    bump_version(protocol_version)
    protocol_version.save(update_fields=["status", "approved_at", "approval_signature", "version", "updated_at"])
    audit_event_create(actor=user, action=Action.TRANSITION, record=protocol_version,
                       changes={"status": ["draft", "approved"], "approval_signature": [None, signature.pk]},
                       reason=signature.comment or "Approved by electronic signature")
    # Everyone delegated on the study must be (re)trained on the new version (same transaction).
    from trialdesk.training.services import retraining_requirements_create

    retraining_requirements_create(user=user, protocol_version=protocol_version)
    return protocol_version
