"""Shared model base classes: timestamps, optimistic-concurrency version, soft delete."""

from __future__ import annotations

from django.db import models


class LiveManager(models.Manager):
    """Hides soft-deleted records; `all_objects` still sees them (audit, inspection)."""

    def get_queryset(self):
        return super().get_queryset().filter(is_deleted=False)


class TrackedModel(models.Model):
    """A regulated record: versioned for optimistic locking, never hard-deleted."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Incremented by every service write; an update carrying an older version is refused (409).
    version = models.PositiveIntegerField(default=1)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_reason = models.TextField(blank=True, default="")

    objects = LiveManager()
    all_objects = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "all_objects"

    # Fields the generic update helper never takes from input.
    SYSTEM_FIELDS = frozenset(
        {"id", "created_at", "updated_at", "version", "is_deleted", "deleted_at", "deleted_reason"}
    )

    @property
    def audit_study_id(self) -> int | None:
        """The study this record belongs to, so audit history can be filtered per study."""
        return None

    def delete(self, *args, **kwargs):  # pragma: no cover - guard
        raise RuntimeError("Regulated records are never hard-deleted; use the service's soft delete.")
