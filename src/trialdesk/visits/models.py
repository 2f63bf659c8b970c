from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trialdesk.core.models import TrackedModel

ANCHORS = [("consent", "Consent"), ("enrollment", "Enrollment"), ("randomization", "Randomization"),
           ("first_dose", "First dose")]
MODALITIES = [("on_site", "On site"), ("remote", "Remote / telemedicine"), ("home", "Home visit"),
              ("phone", "Phone")]


class VisitDefinition(TrackedModel):
    """One visit of a protocol version's schedule of events."""

    protocol_version = models.ForeignKey("studies.ProtocolVersion", on_delete=models.PROTECT,
                                         related_name="visit_definitions")
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="visit_definitions")
    code = models.CharField(max_length=20, help_text='Short code, e.g. "V1", "SCR", "EOT"')
    name = models.CharField(max_length=120)
    order = models.PositiveIntegerField(default=0)
    anchor = models.CharField(max_length=16, choices=ANCHORS, default="enrollment")
    target_day = models.IntegerField(validators=[MinValueValidator(-365), MaxValueValidator(3650)],
                                     help_text="Days after the anchor (0 = anchor day; negative before)")
    window_before = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(365)])
    window_after = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(365)])
    modality = models.CharField(max_length=10, choices=MODALITIES, default="on_site")
    required = models.BooleanField(default=True)

    class Meta:
        ordering = ["protocol_version_id", "order", "target_day", "id"]
        constraints = [
            models.UniqueConstraint(fields=["protocol_version", "code"], condition=models.Q(is_deleted=False),
                                    name="visit_code_unique_in_protocol"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def audit_study_id(self):
        return self.study_id


class SubjectVisit(TrackedModel):
    STATUSES = [("planned", "Planned"), ("completed", "Completed"), ("missed", "Missed"),
                ("cancelled", "Cancelled (schedule changed)")]

    subject = models.ForeignKey("subjects.Subject", on_delete=models.PROTECT, related_name="visits")
    definition = models.ForeignKey(VisitDefinition, on_delete=models.PROTECT, related_name="subject_visits")
    # Denormalised from the subject so calendars and dashboards filter without joins.
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("sites.StudySite", on_delete=models.PROTECT, related_name="+")
    planned_on = models.DateField()
    window_start = models.DateField()
    window_end = models.DateField()
    actual_on = models.DateField(null=True, blank=True)
    modality = models.CharField(max_length=10, choices=MODALITIES, blank=True, default="")
    status = models.CharField(max_length=10, choices=STATUSES, default="planned")
    out_of_window = models.BooleanField(default=False)
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["subject_id", "planned_on", "id"]
        indexes = [
            models.Index(fields=["site", "status", "planned_on"], name="visit_site_status_date_idx"),
            models.Index(fields=["study", "status", "planned_on"], name="visit_study_status_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.definition.code} of {self.subject.subject_number}"

    @property
    def audit_study_id(self):
        return self.study_id

    @property
    def access_site_id(self):
        return self.site_id
