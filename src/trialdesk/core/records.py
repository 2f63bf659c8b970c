"""Helpers every service uses to change a regulated record the same way.

`apply_changes` sets fields and reports {field: [old, new]} for the audit trail;
`check_version` enforces optimistic concurrency; `require_reason` enforces the
reason-for-change rule (21 CFR 11.10(e), ICH E6(R3)); `validate` turns model
validation into field errors.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone

from trialdesk.core.errors import StaleVersion, ValidationFailed

REASON_REQUIRED = "A reason for change is required when changing an existing record."


_PLAIN = frozenset({str, int, float, bool, type(None)})


def to_jsonable(value: Any) -> Any:
    """A stable JSON form of a field value, used for audit diffs and content hashes."""
    if type(value) in _PLAIN:
        return value  # most values (a bulk import's 2,000 audit snapshots call this 200,000 times)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def field_value(instance: models.Model, name: str) -> Any:
    field = instance._meta.get_field(name)
    if field.many_to_many:
        if instance.pk is None:
            return []
        return sorted(getattr(instance, name).values_list("pk", flat=True))
    if field.is_relation:
        return getattr(instance, field.attname)
    return getattr(instance, name)


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    names = fields or [
        f.name for f in instance._meta.concrete_fields if f.name not in {"created_at", "updated_at"}
    ]
    return {name: to_jsonable(field_value(instance, name)) for name in names}


def apply_changes(instance: models.Model, data: dict[str, Any], *, allowed: set[str] | frozenset[str]
                  ) -> dict[str, list[Any]]:
    """Set the allowed fields from data; return {field: [old, new]} for those that changed."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationFailed(
            "Some fields cannot be changed here.",
            errors={name: ["This field cannot be changed."] for name in unknown},
        )
    changes: dict[str, list[Any]] = {}
    for name, new in data.items():
        field = instance._meta.get_field(name)
        if field.many_to_many:
            continue  # services handle M2M explicitly after save
        old_value = field_value(instance, name)
        if field.is_relation:
            new_pk = new.pk if isinstance(new, models.Model) else new
            if old_value != new_pk:
                changes[name] = [to_jsonable(old_value), to_jsonable(new_pk)]
                setattr(instance, field.attname, new_pk)
            continue
        if isinstance(new, str) and not field.is_relation and isinstance(field, models.CharField | models.TextField):
            new = new.strip()
        if to_jsonable(old_value) != to_jsonable(new):
            changes[name] = [to_jsonable(old_value), to_jsonable(new)]
            setattr(instance, name, new)
    return changes


def check_version(instance: models.Model, expected: int | None) -> None:
    """Refuse a write based on an outdated read. Locks the row, so two writers cannot both pass."""
    if expected is None:
        raise ValidationFailed.field("version", "The record version you edited is required (optimistic locking).")
    current = instance.version
    if instance.pk is not None:
        stored = (type(instance)._base_manager.select_for_update().filter(pk=instance.pk)
                  .values_list("version", flat=True).first())
        if stored is not None:
            current = stored
    if int(expected) != current or instance.version != current:
        raise StaleVersion(
            f"This record was changed by someone else (you edited version {expected}, "
            f"it is now version {current}). Reload it and apply your change again.",
            errors={"version": [f"Stale version {expected}; current version is {current}."]},
        )


def require_reason(reason: str | None, changes: dict | None = None) -> str:
    text = (reason or "").strip()
    if (changes is None or changes) and not text:
        raise ValidationFailed.field("reason", REASON_REQUIRED)
    return text


def validate(instance: models.Model, *, exclude: list[str] | None = None) -> None:
    """Run model validation and raise ValidationFailed with field messages."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=True, validate_constraints=True)
    except DjangoValidationError as exc:
        raise validation_failed_from(exc) from None


def validation_failed_from(exc: DjangoValidationError) -> ValidationFailed:
    if hasattr(exc, "error_dict"):
        errors = {
            ("record" if field == "__all__" else field): [str(m) for e in errs for m in e.messages]
            for field, errs in exc.error_dict.items()
        }
    else:
        errors = {"record": [str(m) for m in exc.messages]}
    first = next(iter(errors.values()))[0] if errors else "Invalid input."
    return ValidationFailed(first, errors=errors)


def bump_version(instance: models.Model) -> None:
    instance.version = (instance.version or 0) + 1
