from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trialdesk.core.models import TrackedModel


class EnrollmentPlan(TrackedModel):
    """A baseline of the enrollment plan. Re-baselining adds a new plan; earlier ones are kept."""

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="enrollment_plans")
    baseline = models.PositiveIntegerField(help_text="1 for the original plan, 2 for the first re-baseline, …")
    label = models.CharField(max_length=120, blank=True, default="")
    is_current = models.BooleanField(default=True)
    target = models.PositiveIntegerField(null=True, blank=True, help_text="Subjects to enroll under this plan")
    planned_last_subject_in = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["study_id", "baseline"]
        constraints = [
            models.UniqueConstraint(fields=["study", "baseline"], name="plan_baseline_unique"),
            models.UniqueConstraint(fields=["study"], condition=models.Q(is_current=True, is_deleted=False),
                                    name="one_current_plan_per_study"),
        ]

    def __str__(self) -> str:
        return f"Enrollment plan baseline {self.baseline}"

    @property
    def audit_study_id(self):
        return self.study_id


class EnrollmentPlanEntry(TrackedModel):
    """Planned activation and monthly rate for one site, or for a country (site empty)."""

    plan = models.ForeignKey(EnrollmentPlan, on_delete=models.PROTECT, related_name="entries")
    site = models.ForeignKey("sites.StudySite", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    country = models.CharField(max_length=100, blank=True, default="")
    planned_activation = models.DateField()
    planned_rate_per_month = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(1000)])
    planned_subjects = models.PositiveIntegerField(null=True, blank=True, help_text="Cap for this site/country")

    class Meta:
        ordering = ["plan_id", "planned_activation", "id"]

    def __str__(self) -> str:
        return f"Plan entry {self.site or self.country}"

    @property
    def audit_study_id(self):
        return self.plan.study_id
