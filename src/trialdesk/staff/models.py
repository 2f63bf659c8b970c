"""Site staff roster and the delegation-of-authority log (ICH E6(R3) 2.3: qualified, trained delegates and a
record of what the investigator delegated to whom)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from trialdesk.core.models import TrackedModel
from trialdesk.staff import tasks


class SiteStaff(TrackedModel):
    """One person's role at one study site for a period, with the qualification records an inspector asks for."""

    site = models.ForeignKey("sites.StudySite", on_delete=models.PROTECT, related_name="staff")
    person = models.ForeignKey("organizations.Person", on_delete=models.PROTECT, related_name="site_roles")
    role = models.CharField(max_length=30, choices=list(tasks.ROLES.items()))
    role_detail = models.CharField(max_length=120, blank=True, default="",
                                   help_text="What the role is, when the role is Other")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    cv_date = models.DateField(null=True, blank=True, help_text="Date of the signed CV on file")
    cv_expiry = models.DateField(null=True, blank=True, help_text="When the CV must be renewed, if the sponsor asks")
    licence_number = models.CharField(max_length=100, blank=True, default="")
    licence_expiry = models.DateField(null=True, blank=True)
    gcp_certificate_date = models.DateField(null=True, blank=True, help_text="Date of the GCP training certificate")
    gcp_expiry = models.DateField(null=True, blank=True, help_text="When the GCP training certificate expires")
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["site_id", "start_date", "id"]
        verbose_name = "site staff member"
        verbose_name_plural = "site staff"
        indexes = [models.Index(fields=["site", "person"], name="sitestaff_site_person_idx")]

    def __str__(self) -> str:
        name = self.person.full_name if self.person_id else "?"
        return f"{name} ({self.role_label}) at site {self.site.site_number}" if self.site_id else name

    @property
    def role_label(self) -> str:
        return tasks.role_label(self.role, self.role_detail)

    @property
    def audit_study_id(self):
        return self.site.study_id

    @property
    def access_site_id(self):
        return self.site_id

    @property
    def access_study_id(self):
        return self.site.study_id

    def active_on(self, day) -> bool:
        return tasks.period_covers(self.start_date, self.end_date, day)

    def clean(self):
        errors: dict[str, list[str]] = dict(tasks.period_errors(self.start_date, self.end_date))
        if self.role == "other" and not (self.role_detail or "").strip():
            errors["role_detail"] = ["Say what the role is."]
        if self.cv_date and self.cv_expiry and self.cv_expiry < self.cv_date:
            errors["cv_expiry"] = ["The CV renewal date cannot be before the CV date."]
        if self.gcp_certificate_date and self.gcp_expiry and self.gcp_expiry < self.gcp_certificate_date:
            errors["gcp_expiry"] = ["The GCP certificate cannot expire before its date."]
        if errors:
            raise ValidationError(errors)


class Delegation(TrackedModel):
    """One line of the delegation log: the PI delegates one task to one roster member for a period.

    Proposed entries are pending until the site's principal investigator signs them electronically; the
    signature covers `signature_content()`. Ending an entry early records `ended_on` (the signed dates stay as
    signed); the entry no longer covers days after it.
    """

    staff = models.ForeignKey(SiteStaff, on_delete=models.PROTECT, related_name="delegations")
    task = models.CharField(max_length=30, choices=list(tasks.TASKS.items()))
    task_detail = models.CharField(max_length=300, blank=True, default="",
                                   help_text="What the task is, for a study-specific task")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=list(tasks.STATUSES.items()), default="pending",
                              db_index=True)
    signature = models.ForeignKey("signatures.Signature", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True, help_text="When the delegation was ended early")
    ended_reason = models.TextField(blank=True, default="")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        ordering = ["staff_id", "start_date", "id"]
        indexes = [models.Index(fields=["staff", "task"], name="delegation_staff_task_idx")]

    def __str__(self) -> str:
        who = self.staff.person.full_name if self.staff_id else "?"
        return f"Delegation of {tasks.task_label(self.task, self.task_detail)} to {who}"

    @property
    def task_label(self) -> str:
        return tasks.task_label(self.task, self.task_detail)

    @property
    def task_number(self) -> int:
        return tasks.task_number(self.task)

    @property
    def effective_end(self):
        return tasks.effective_end(self.end_date, self.ended_on)

    @property
    def audit_study_id(self):
        return self.staff.site.study_id

    @property
    def access_site_id(self):
        return self.staff.site_id

    @property
    def access_study_id(self):
        return self.staff.site.study_id

    def covers(self, day) -> bool:
        """Signed and in force on `day`."""
        return self.status in ("active", "ended") and tasks.period_covers(self.start_date, self.effective_end, day)

    def signature_content(self) -> dict:
        """What the principal investigator's signature vouches for: who, in which role, where, what, when."""
        staff = self.staff
        site = staff.site
        return {
            "study": site.study.protocol_number,
            "site": site.site_number,
            "person_id": staff.person_id,
            "person": staff.person.full_name,
            "role": staff.role,
            "role_detail": staff.role_detail,
            "task": self.task,
            "task_detail": self.task_detail,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "end_date": self.end_date.isoformat() if self.end_date else None,
        }

    def clean(self):
        errors: dict[str, list[str]] = dict(tasks.period_errors(self.start_date, self.end_date))
        if self.task == tasks.STUDY_SPECIFIC and not (self.task_detail or "").strip():
            errors["task_detail"] = ["Describe the study-specific task."]
        if errors:
            raise ValidationError(errors)
