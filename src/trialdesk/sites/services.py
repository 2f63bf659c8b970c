from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from trialdesk.accounts import permissions
from trialdesk.audit.services import Action, audit_event_create
from trialdesk.core.crud import editable_fields, record_create, record_soft_delete, record_update
from trialdesk.core.errors import InvalidTransition
from trialdesk.core.records import bump_version, check_version, require_reason
from trialdesk.sites.lifecycle import SITE_STATUS_MILESTONE, SITE_STATUSES, SITE_TRANSITIONS
from trialdesk.sites.models import StudySite
from trialdesk.studies.lifecycle import transition_error

SITE_FIELDS = editable_fields(
    StudySite, exclude={"study", "status", "status_changed_at", "status_reason", "enrolled_count",
                        "registry_location_key"}
)


@transaction.atomic
def site_create(*, user, study, data: dict[str, Any], reason: str = "") -> StudySite:
    permissions.require(user, "site.create", study)
    site = StudySite(study=study, status="candidate", status_changed_at=timezone.now())
    site = record_create(actor=user, instance=site, data=data, allowed=SITE_FIELDS, reason=reason)
    _roster_pi_sync(user, site)
    return site


@transaction.atomic
def site_update(*, user, site: StudySite, data: dict[str, Any], version: int | None, reason: str) -> StudySite:
    permissions.require(user, "site.edit", site)
    from trialdesk.startup.services import site_legacy_fields_check

    site_legacy_fields_check(site, data)  # dates the study's start-up template records change there
    site, changes = record_update(actor=user, instance=site, data=data, allowed=SITE_FIELDS, version=version,
                                  reason=reason)
    if "principal_investigator" in changes:
        _roster_pi_sync(user, site)
    return site


def _roster_pi_sync(user, site: StudySite) -> None:
    """The site's principal investigator appears on its staff roster (staff.services.site_pi_sync)."""
    if site.principal_investigator_id is not None:
        from trialdesk.staff.services import site_pi_sync

        site_pi_sync(user=user, site=site)


@transaction.atomic
def site_transition(*, user, site: StudySite, status: str, version: int | None, reason: str) -> StudySite:
    """Move a site through its lifecycle; entering selected/activated/closed out records the actual date."""
    permissions.require(user, "site.transition", site)
    check_version(site, version)
    error = transition_error(site.status, status, SITE_STATUSES, SITE_TRANSITIONS.get(site.status, frozenset()))
    if error:
        raise InvalidTransition(error, errors={"status": [error]})
    reason = require_reason(reason)
    from trialdesk.startup.selectors import transition_blocked_message

    blocked = transition_blocked_message(site, status)  # open start-up milestones (system-enforced order)
    if blocked:
        raise InvalidTransition(blocked, errors={"status": [blocked]})
    changes: dict[str, list] = {"status": [site.status, status]}
    site.status = status
    site.status_changed_at = timezone.now()
    site.status_reason = reason
    fields = ["status", "status_changed_at", "status_reason", "version", "updated_at"]
    milestone = SITE_STATUS_MILESTONE.get(status)
    if milestone and getattr(site, milestone) is None:
        today = timezone.localdate()
        setattr(site, milestone, today)
        changes[milestone] = [None, today]
        fields.append(milestone)
    bump_version(site)
    site.save(update_fields=fields)
    audit_event_create(actor=user, action=Action.TRANSITION, record=site, changes=changes, reason=reason)
    from trialdesk.startup.services import site_milestones_follow_status

    site_milestones_follow_status(user=user, site=site, reason=reason)
    return site


@transaction.atomic
def site_delete(*, user, site: StudySite, version: int | None, reason: str) -> StudySite:
    permissions.require(user, "site.delete", site)
    return record_soft_delete(actor=user, instance=site, version=version, reason=reason)
