"""Subjects are pseudonymised: the CTMS holds a subject number, never a name or direct identifier."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trialdesk.core.models import TrackedModel
from trialdesk.subjects.lifecycle import DEFAULT_SCREEN_FAIL_REASONS, SUBJECT_STATUSES, WITHDRAWAL_REASONS


def default_screen_fail_reasons():
    return [dict(r) for r in DEFAULT_SCREEN_FAIL_REASONS]


class SubjectSettings(TrackedModel):
    """Per-study configuration of the screening log and enrollment alerts."""

    study = models.OneToOneField("studies.Study", on_delete=models.PROTECT, related_name="subject_settings")
    # Placeholders: {site} site number, {seq} per-site sequence (format spec allowed), {study} protocol number.
    id_pattern = models.CharField(max_length=60, default="{site}-{seq:03d}")
    screen_fail_reasons = models.JSONField(default=default_screen_fail_reasons)
    no_enrollment_alert_days = models.PositiveIntegerField(default=60, validators=[MaxValueValidator(730)])
    on_time_probability_threshold = models.FloatField(default=0.5, validators=[MinValueValidator(0),
                                                                               MaxValueValidator(1)])
    screen_fail_alert_ratio = models.FloatField(default=1.5, validators=[MinValueValidator(1),
                                                                          MaxValueValidator(10)])

    class Meta:
        verbose_name_plural = "subject settings"

    def __str__(self) -> str:
        return f"Subject settings of {self.study}"

    @property
    def audit_study_id(self):
        return self.study_id


class Subject(TrackedModel):
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="subjects")
    site = models.ForeignKey("sites.StudySite", on_delete=models.PROTECT, related_name="subjects")
    subject_number = models.CharField(max_length=60)
    # Per-site counter behind the number; never reused, even after soft delete.
    site_sequence = models.PositiveIntegerField()
    status = models.CharField(max_length=24, choices=list(SUBJECT_STATUSES.items()), default="pre_screened")
    prescreened_on = models.DateField(null=True, blank=True)
    screened_on = models.DateField(null=True, blank=True)
    screen_failed_on = models.DateField(null=True, blank=True)
    consented_on = models.DateField(null=True, blank=True)
    enrolled_on = models.DateField(null=True, blank=True)
    randomized_on = models.DateField(null=True, blank=True)
    first_dose_on = models.DateField(null=True, blank=True)
    active_on = models.DateField(null=True, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)
    lost_on = models.DateField(null=True, blank=True)
    screen_fail_reason_code = models.CharField(max_length=40, blank=True, default="")
    screen_fail_reason_text = models.TextField(blank=True, default="")
    withdrawal_reason = models.CharField(max_length=30, blank=True, default="",
                                         choices=list(WITHDRAWAL_REASONS.items()))
    withdrawal_text = models.TextField(blank=True, default="")
    eligibility_confirmed_by = models.ForeignKey("organizations.Person", null=True, blank=True,
                                                 on_delete=models.PROTECT, related_name="+")
    # The protocol version whose schedule of events applies (changes at re-consent).
    protocol_version = models.ForeignKey("studies.ProtocolVersion", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["study_id", "subject_number"]
        constraints = [
            models.UniqueConstraint(fields=["study", "subject_number"], name="subject_number_unique_in_study"),
            models.UniqueConstraint(fields=["site", "site_sequence"], name="subject_sequence_unique_in_site"),
        ]
        indexes = [
            models.Index(fields=["study", "status"], name="subject_study_status_idx"),
            models.Index(fields=["site", "enrolled_on"], name="subject_site_enrolled_idx"),
            models.Index(fields=["study", "enrolled_on"], name="subject_study_enrolled_idx"),
            # The screening log's counts per status (and of the whole log) from the index alone: study, status,
            # site (to leave out deleted sites' subjects) and the deleted flag. Not a partial index on live
            # subjects: SQLite then prefers it to the (study, subject number) index for keyset pages and sorts.
            models.Index(fields=["study", "status", "site", "is_deleted"], name="subject_status_count_idx"),
        ]

    def __str__(self) -> str:
        return f"Subject {self.subject_number}"

    @property
    def audit_study_id(self):
        return self.study_id

    @property
    def access_site_id(self):
        return self.site_id


class IcfVersion(TrackedModel):
    """An informed consent form version; country- or site-specific when those differ."""

    STATUSES = [("draft", "Draft"), ("approved", "Approved (IRB/IEC)"), ("superseded", "Superseded")]

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="icf_versions")
    protocol_version = models.ForeignKey("studies.ProtocolVersion", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="icf_versions")
    version_number = models.CharField(max_length=40)
    version_date = models.DateField()
    country = models.CharField(max_length=100, blank=True, default="", help_text="Empty: all countries")
    site = models.ForeignKey("sites.StudySite", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="icf_versions", help_text="Set for a site-specific form")
    irb_approval_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=STATUSES, default="draft")

    class Meta:
        ordering = ["study_id", "version_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version_number", "country", "site"],
                                    condition=models.Q(is_deleted=False), name="icf_version_unique_scope"),
        ]

    def __str__(self) -> str:
        scope = self.site.site_number if self.site_id else (self.country or "all countries")
        return f"ICF {self.version_number} ({scope})"

    @property
    def audit_study_id(self):
        return self.study_id


class SubjectRecordMixin:
    """For records of one subject: access and audit scope are the subject's site and study.

    Properties only (no fields), so the models' migrations do not change. List it before TrackedModel,
    whose `audit_study_id` it overrides.
    """

    @property
    def audit_study_id(self):
        return self.subject.study_id

    @property
    def access_site_id(self):
        return self.subject.site_id

    @property
    def access_study_id(self):
        return self.subject.study_id


class ConsentEvent(SubjectRecordMixin, TrackedModel):
    METHODS = [("paper", "Paper"), ("econsent", "e-Consent")]

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="consents")
    icf_version = models.ForeignKey(IcfVersion, on_delete=models.PROTECT, related_name="consents")
    consented_on = models.DateField()
    method = models.CharField(max_length=10, choices=METHODS)
    obtained_by = models.ForeignKey("organizations.Person", on_delete=models.PROTECT, related_name="+")
    is_reconsent = models.BooleanField(default=False)

    class Meta:
        ordering = ["subject_id", "consented_on", "id"]

    def __str__(self) -> str:
        return f"Consent of {self.subject.subject_number} to {self.icf_version.version_number}"


class ReconsentRequirement(SubjectRecordMixin, TrackedModel):
    """Created when a new consent form is approved, for every subject still on study who must re-consent."""

    STATUSES = [("open", "Open"), ("done", "Re-consented"), ("not_required", "No longer required")]

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="reconsent_requirements")
    icf_version = models.ForeignKey(IcfVersion, on_delete=models.PROTECT, related_name="reconsent_requirements")
    status = models.CharField(max_length=14, choices=STATUSES, default="open")
    fulfilled_by = models.ForeignKey(ConsentEvent, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    closed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["subject_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "icf_version"], name="reconsent_once_per_version"),
        ]

    def __str__(self) -> str:
        return f"Re-consent of {self.subject.subject_number} to {self.icf_version.version_number}"


class Randomization(SubjectRecordMixin, TrackedModel):
    """Treatment assignment. Blinded users (User.is_blinded) never see `arm`."""

    subject = models.OneToOneField(Subject, on_delete=models.PROTECT, related_name="randomization")
    arm = models.ForeignKey("studies.Arm", on_delete=models.PROTECT, related_name="+")
    stratum = models.CharField(max_length=120, blank=True, default="")
    randomized_on = models.DateField()
    irt_reference = models.CharField(max_length=80, blank=True, default="", help_text="IRT/EDC reference")

    def __str__(self) -> str:
        return f"Randomization of {self.subject.subject_number}"
