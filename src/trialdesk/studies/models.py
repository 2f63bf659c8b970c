from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trialdesk.core.models import TrackedModel
from trialdesk.core.partial_dates import validate_partial_date
from trialdesk.studies.lifecycle import PROTOCOL_STATUSES, STUDY_STATUSES

PHASES = [
    ("EARLY_PHASE1", "Early Phase 1"),
    ("PHASE1", "Phase 1"),
    ("PHASE2", "Phase 2"),
    ("PHASE3", "Phase 3"),
    ("PHASE4", "Phase 4"),
    ("NA", "Not applicable"),
]
PHASE_LABELS = dict(PHASES)

# Key dates tracked planned vs actual; (field suffix, label).
KEY_DATES = [
    ("first_site_activated", "First site activated"),
    ("first_subject_in", "First subject in"),
    ("last_subject_in", "Last subject in"),
    ("last_subject_last_visit", "Last subject last visit"),
    ("database_lock", "Database lock"),
    ("final_report", "Final report"),
]


def validate_phases(value):
    if not isinstance(value, list) or any(p not in PHASE_LABELS for p in value):
        raise ValidationError(f"Phases must be a list drawn from {', '.join(PHASE_LABELS)}.")


def validate_string_list(value):
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise ValidationError("Must be a list of text values.")


def validate_registry_ids(value):
    if not isinstance(value, list) or any(
        not isinstance(v, dict) or not str(v.get("id", "")).strip() for v in value
    ):
        raise ValidationError('Must be a list of {"type": ..., "id": ...} entries.')


class Study(TrackedModel):
    class StudyType(models.TextChoices):
        INTERVENTIONAL = "INTERVENTIONAL", "Interventional"
        OBSERVATIONAL = "OBSERVATIONAL", "Observational"
        EXPANDED_ACCESS = "EXPANDED_ACCESS", "Expanded access"

    class Sex(models.TextChoices):
        ALL = "ALL", "All"
        FEMALE = "FEMALE", "Female"
        MALE = "MALE", "Male"

    protocol_number = models.CharField(max_length=60, unique=True, help_text="Sponsor protocol number")
    nct_id = models.CharField(max_length=11, unique=True, null=True, blank=True, verbose_name="NCT ID")
    other_ids = models.JSONField(default=list, blank=True, validators=[validate_registry_ids],
                                 help_text='Other registry IDs: [{"type": "EudraCT", "id": "..."}]')
    acronym = models.CharField(max_length=60, blank=True, default="")
    brief_title = models.CharField(max_length=500)
    official_title = models.TextField(blank=True, default="")
    summary = models.TextField(blank=True, default="")
    phases = models.JSONField(default=list, blank=True, validators=[validate_phases])
    study_type = models.CharField(max_length=20, choices=StudyType.choices, default=StudyType.INTERVENTIONAL)
    therapeutic_area = models.CharField(max_length=120, blank=True, default="")
    conditions = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    keywords = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    sponsor = models.ForeignKey("organizations.Organization", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="sponsored_studies")
    collaborators = models.ManyToManyField("organizations.Organization", blank=True,
                                           related_name="collaborating_studies")
    status = models.CharField(max_length=24, choices=list(STUDY_STATUSES.items()), default="planning", db_index=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    # Design
    allocation = models.CharField(max_length=30, blank=True, default="")
    intervention_model = models.CharField(max_length=30, blank=True, default="")
    primary_purpose = models.CharField(max_length=40, blank=True, default="")
    masking = models.CharField(max_length=20, blank=True, default="")
    who_masked = models.JSONField(default=list, blank=True, validators=[validate_string_list])

    # Enrollment
    planned_enrollment = models.PositiveIntegerField(null=True, blank=True, help_text="Enrollment target")
    registry_enrollment = models.PositiveIntegerField(null=True, blank=True)
    registry_enrollment_type = models.CharField(max_length=10, blank=True, default="",
                                                help_text="ACTUAL or ESTIMATED, as registered")

    # Eligibility
    eligibility_criteria = models.TextField(blank=True, default="")
    sex = models.CharField(max_length=6, choices=Sex.choices, default=Sex.ALL)
    minimum_age = models.CharField(max_length=30, blank=True, default="", help_text='e.g. "18 Years"')
    maximum_age = models.CharField(max_length=30, blank=True, default="")
    healthy_volunteers = models.BooleanField(null=True, blank=True)

    # Registry dates as registered; partial dates ("2015-09") stay partial.
    registry_start_date = models.CharField(max_length=10, blank=True, default="",
                                           validators=[validate_partial_date])
    registry_start_date_type = models.CharField(max_length=10, blank=True, default="")
    registry_primary_completion_date = models.CharField(max_length=10, blank=True, default="",
                                                        validators=[validate_partial_date])
    registry_primary_completion_date_type = models.CharField(max_length=10, blank=True, default="")
    registry_completion_date = models.CharField(max_length=10, blank=True, default="",
                                                validators=[validate_partial_date])
    registry_completion_date_type = models.CharField(max_length=10, blank=True, default="")
    registry_overall_status = models.CharField(max_length=30, blank=True, default="")
    registry_last_update = models.CharField(max_length=10, blank=True, default="")
    why_stopped = models.TextField(blank=True, default="")

    # Operational key dates, planned and actual.
    planned_first_site_activated = models.DateField(null=True, blank=True)
    actual_first_site_activated = models.DateField(null=True, blank=True)
    planned_first_subject_in = models.DateField(null=True, blank=True)
    actual_first_subject_in = models.DateField(null=True, blank=True)
    planned_last_subject_in = models.DateField(null=True, blank=True)
    actual_last_subject_in = models.DateField(null=True, blank=True)
    planned_last_subject_last_visit = models.DateField(null=True, blank=True)
    actual_last_subject_last_visit = models.DateField(null=True, blank=True)
    planned_database_lock = models.DateField(null=True, blank=True)
    actual_database_lock = models.DateField(null=True, blank=True)
    planned_final_report = models.DateField(null=True, blank=True)
    actual_final_report = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["protocol_number"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return f"{self.protocol_number} {self.acronym or self.brief_title[:60]}".strip()

    @property
    def audit_study_id(self):
        return self.pk

    @property
    def phase_display(self) -> str:
        return " / ".join(PHASE_LABELS.get(p, p) for p in self.phases) or "—"

    def key_dates(self) -> list[dict]:
        return [
            {"key": key, "label": label, "planned": getattr(self, f"planned_{key}"),
             "actual": getattr(self, f"actual_{key}")}
            for key, label in KEY_DATES
        ]

    def next_milestone(self) -> dict | None:
        """The first key date not yet achieved, in protocol order."""
        for item in self.key_dates():
            if item["actual"] is None and item["planned"] is not None:
                return item
        return None


class Arm(TrackedModel):
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="arms")
    label = models.CharField(max_length=200)
    arm_type = models.CharField(max_length=40, blank=True, default="",
                                help_text="EXPERIMENTAL, ACTIVE_COMPARATOR, PLACEBO_COMPARATOR, …")
    description = models.TextField(blank=True, default="")
    planned_enrollment = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["study_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "label"], condition=models.Q(is_deleted=False),
                                    name="arm_label_unique_in_study"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def audit_study_id(self):
        return self.study_id


class Intervention(TrackedModel):
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="interventions")
    kind = models.CharField(max_length=40, blank=True, default="", help_text="DRUG, DEVICE, BIOLOGICAL, …")
    name = models.CharField(max_length=300)
    description = models.TextField(blank=True, default="")
    other_names = models.JSONField(default=list, blank=True, validators=[validate_string_list])
    arms = models.ManyToManyField(Arm, blank=True, related_name="interventions")

    class Meta:
        ordering = ["study_id", "id"]

    def __str__(self) -> str:
        return f"{self.kind.title()}: {self.name}" if self.kind else self.name

    @property
    def audit_study_id(self):
        return self.study_id


class ProtocolVersion(TrackedModel):
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="protocol_versions")
    # Named version_number: `version` is the optimistic-locking counter every record has.
    version_number = models.CharField(max_length=40, help_text='e.g. "1.0", "2.0 (Amendment 1)"')
    version_date = models.DateField()
    amendment_number = models.PositiveIntegerField(null=True, blank=True,
                                                   validators=[MinValueValidator(1), MaxValueValidator(999)],
                                                   help_text="Empty for the original protocol")
    summary_of_changes = models.TextField(blank=True, default="")
    status = models.CharField(max_length=12, choices=list(PROTOCOL_STATUSES.items()), default="draft")
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_signature = models.ForeignKey("signatures.Signature", null=True, blank=True,
                                           on_delete=models.PROTECT, related_name="+")
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study_id", "version_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version_number"], condition=models.Q(is_deleted=False),
                                    name="protocol_version_unique_in_study"),
        ]

    def __str__(self) -> str:
        return f"Protocol {self.version_number}"

    @property
    def audit_study_id(self):
        return self.study_id

    @property
    def is_amendment(self) -> bool:
        return self.amendment_number is not None

    def signature_content(self) -> dict:
        """What an approval signature vouches for: the version's substantive content."""
        return {
            "study_id": self.study_id,
            "protocol_number": self.study.protocol_number,
            "version_number": self.version_number,
            "version_date": self.version_date.isoformat() if self.version_date else None,
            "amendment_number": self.amendment_number,
            "summary_of_changes": self.summary_of_changes,
            # The schedule of events is part of the approved protocol: changing it breaks the signature.
            "schedule_of_events": [
                [d.code, d.name, d.anchor, d.target_day, d.window_before, d.window_after, d.modality, d.required]
                # .all() so a prefetch (study_detail) serves it; the default manager hides deleted rows.
                for d in sorted(self.visit_definitions.all(), key=lambda d: d.code)
            ] if self.pk else [],
        }
