"""The append-only audit trail (21 CFR 11.10(e), EU Annex 11 §9, ICH E6(R3)).

Rows are written only by `trialdesk.audit.services`; the database refuses
UPDATE and DELETE on this table (triggers installed by migration 0002).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted (soft)"
        TRANSITION = "transition", "Status changed"
        SIGN = "sign", "Signed"
        IMPORT = "import", "Imported"
        LOGIN = "login", "Logged in"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOCKOUT = "lockout", "Account locked out"
        LOGOUT = "logout", "Logged out"
        ROLE_GRANT = "role_grant", "Role granted"
        ROLE_REVOKE = "role_revoke", "Role revoked"
        TOKEN_CREATE = "token_create", "API token created"
        TOKEN_REVOKE = "token_revoke", "API token revoked"
        SIGNATURE_FAILED = "signature_failed", "Signature attempt failed"
        DEACTIVATE = "deactivate", "Account deactivated"
        EXPORT = "export", "Exported"

    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    actor_username = models.CharField(max_length=150, blank=True, default="")
    actor_name = models.CharField(max_length=300, blank=True, default="")
    action = models.CharField(max_length=32, choices=Action.choices)
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    record_label = models.CharField(max_length=300, blank=True, default="")
    study_id = models.BigIntegerField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True, default="")
    request_id = models.CharField(max_length=80, blank=True, default="")
    channel = models.CharField(max_length=16, blank=True, default="")
    ip_address = models.CharField(max_length=64, blank=True, default="")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["record_type", "record_id", "seq"], name="audit_record_idx"),
            models.Index(fields=["study_id", "seq"], name="audit_study_idx"),
            models.Index(fields=["actor", "seq"], name="audit_actor_idx"),
            # A study's users and their names, a few index probes each (audit.selectors.study_actors).
            models.Index(fields=["study_id", "actor_username", "actor_name"], name="audit_study_actor_name_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.record_type}:{self.record_id} by {self.actor_username}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only.")


class AuditChainHead(models.Model):
    """One row: the last seq and hash. Locked while appending, so the chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit head seq={self.seq}"
