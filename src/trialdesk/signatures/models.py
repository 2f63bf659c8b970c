"""Electronic signatures (21 CFR 11.50, 11.70, 11.200).

A signature is permanently bound to one record (type + id) and to a hash of
that record's content at signing time; the database refuses UPDATE and DELETE.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Signature(models.Model):
    class Meaning(models.TextChoices):
        AUTHORED = "authored", "Authored"
        REVIEWED = "reviewed", "Reviewed"
        APPROVED = "approved", "Approved"
        RESPONSIBLE = "responsible", "Responsible"

    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures")
    printed_name = models.CharField(max_length=300)
    username = models.CharField(max_length=150)
    meaning = models.CharField(max_length=20, choices=Meaning.choices)
    signed_at = models.DateTimeField()
    record_type = models.CharField(max_length=100)
    record_id = models.CharField(max_length=64)
    study_id = models.BigIntegerField(null=True, blank=True)
    content_hash = models.CharField(max_length=64)
    # SHA-256 over (record type, id, content hash, signer, meaning, time): binds the
    # signature to its record so it cannot be copied onto another one.
    binding_hash = models.CharField(max_length=64, unique=True)
    comment = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-signed_at"]
        indexes = [models.Index(fields=["record_type", "record_id"], name="signature_record_idx")]

    def __str__(self) -> str:
        return f"{self.printed_name} — {self.get_meaning_display()} — {self.signed_at:%Y-%m-%d %H:%M:%S} UTC"

    @property
    def audit_study_id(self):
        return self.study_id

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Signatures are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Signatures are immutable.")
