from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from trialdesk.accounts.roles import ROLE_LABELS, Role


class User(AbstractUser):
    """A login. Never deleted or re-assigned: deactivate it instead (21 CFR 11.300(a))."""

    person = models.OneToOneField("organizations.Person", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="user")
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivation_reason = models.TextField(blank=True, default="")
    # Users who must not see treatment assignment (later features read this).
    is_blinded = models.BooleanField(default=False)

    class Meta:
        ordering = ["username"]

    def delete(self, *args, **kwargs):
        raise RuntimeError("User accounts are never deleted; deactivate them so their ID is never reused.")

    @property
    def display_name(self) -> str:
        if self.person_id:
            return self.person.full_name
        return self.get_full_name() or self.username


class Membership(models.Model):
    """A user's role on one study (or, with no study, across the whole portfolio).

    With sites set, access is limited to those sites of the study.
    """

    ROLE_CHOICES = [(r.value, ROLE_LABELS[r]) for r in Role]

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    study = models.ForeignKey("studies.Study", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="memberships")
    role = models.CharField(max_length=32, choices=ROLE_CHOICES)
    sites = models.ManyToManyField("sites.StudySite", blank=True, related_name="memberships")
    granted_at = models.DateTimeField(default=timezone.now)
    granted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revoke_reason = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["study_id", "user_id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="membership_user_active_idx")]

    def __str__(self) -> str:
        scope = self.study.protocol_number if self.study_id else "portfolio"
        return f"{self.user.username} as {ROLE_LABELS[Role(self.role)]} on {scope}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def audit_study_id(self):
        return self.study_id

    def delete(self, *args, **kwargs):
        raise RuntimeError("Memberships are revoked, never deleted.")


class ApiToken(models.Model):
    """A bearer token for API clients. Only its SHA-256 is stored; the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now) \
            and self.user.is_active

    def delete(self, *args, **kwargs):
        raise RuntimeError("API tokens are revoked, never deleted.")
