"""The create / update / soft-delete steps shared by the domain services.

Domain services check permissions and domain rules, then call these, so every
record is validated, versioned and audited the same way.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from trialdesk.audit.services import Action, audit_event_create
from trialdesk.core.errors import Conflict, ValidationFailed
from trialdesk.core.records import (
    apply_changes,
    bump_version,
    check_version,
    require_reason,
    snapshot,
    validate,
)

M = TypeVar("M", bound=models.Model)


def editable_fields(model: type[models.Model], *, exclude: set[str] = frozenset()) -> frozenset[str]:
    system = getattr(model, "SYSTEM_FIELDS", frozenset())
    return frozenset(
        f.name for f in model._meta.get_fields()
        if getattr(f, "editable", False) and not f.auto_created and f.concrete
        and f.name not in system and f.name not in exclude
    )


def _save(instance: models.Model) -> None:
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise Conflict(f"This would duplicate an existing record ({exc.__class__.__name__}).") from None


def record_create(*, actor, instance: M, data: dict[str, Any], allowed: frozenset[str], reason: str = "",
                  m2m: dict[str, list] | None = None) -> M:
    """Validate, save and audit a new record. Creation may go without a reason."""
    apply_changes(instance, data, allowed=allowed)
    validate(instance)
    _save(instance)
    for name, values in (m2m or {}).items():
        getattr(instance, name).set(values)
    audit_event_create(actor=actor, action=Action.CREATE, record=instance,
                       changes={k: [None, v] for k, v in snapshot(instance).items()
                                if v not in (None, "", [], {}) and k not in {"version", "is_deleted"}},
                       reason=reason)
    return instance


def record_update(*, actor, instance: M, data: dict[str, Any], allowed: frozenset[str], version: int | None,
                  reason: str, m2m: dict[str, list] | None = None, action: str = Action.UPDATE,
                  extra_changes: dict | None = None) -> tuple[M, dict]:
    """Apply changes with optimistic locking and a required reason; no-op when nothing changes."""
    check_version(instance, version)
    changes = apply_changes(instance, data, allowed=allowed)
    for name, values in (m2m or {}).items():
        old = sorted(getattr(instance, name).values_list("pk", flat=True))
        new = sorted(v.pk if isinstance(v, models.Model) else v for v in values)
        if old != new:
            changes[name] = [old, new]
    changes.update(extra_changes or {})
    if not changes:
        return instance, {}
    reason = require_reason(reason, changes)
    validate(instance)
    bump_version(instance)
    _save(instance)
    for name, values in (m2m or {}).items():
        if name in changes:
            getattr(instance, name).set(values)
    audit_event_create(actor=actor, action=action, record=instance, changes=changes, reason=reason)
    return instance, changes


def record_soft_delete(*, actor, instance: M, version: int | None, reason: str) -> M:
    check_version(instance, version)
    reason = require_reason(reason)
    if instance.is_deleted:
        raise ValidationFailed.field("record", "This record is already deleted.")
    instance.is_deleted = True
    instance.deleted_at = timezone.now()
    instance.deleted_reason = reason
    bump_version(instance)
    instance.save(update_fields=["is_deleted", "deleted_at", "deleted_reason", "version", "updated_at"])
    audit_event_create(actor=actor, action=Action.DELETE, record=instance,
                       changes={"is_deleted": [False, True]}, reason=reason)
    return instance
