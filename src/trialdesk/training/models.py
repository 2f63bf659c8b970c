"""Protocol training: templates, trainings, sessions, attendance, quizzes, certificates, requirements.

A training belongs to one study (and usually one protocol version). People (organizations.Person) attend
sessions and acknowledge their attendance with their own e-signature; a quiz may be required; a certificate
is issued automatically when both are done. Requirements say who must be trained on what by when.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trialdesk.core.models import TrackedModel

TRAINING_KINDS = {
    "protocol": "Protocol training",
    "retraining": "Protocol retraining (new version)",
    "refresher": "Refresher",
    "inservice": "Training and inservice",
    "other": "Other",
}
# Kinds whose certificate counts as protocol training for the training's protocol version.
PROTOCOL_KINDS = frozenset({"protocol", "retraining"})

TRAINING_STATUSES = {"draft": "Draft", "open": "Open", "closed": "Closed"}
SESSION_MODES = {"in_person": "In person", "virtual": "Virtual"}
ATTENDANCE_STATUSES = {"invited": "Invited", "attended": "Attended", "absent": "Absent"}
REQUIREMENT_KINDS = {
    "protocol": "Protocol training",
    "retraining": "Protocol retraining",
    "refresher": "Refresher",
    "other": "Other training",
}
REQUIREMENT_STATUSES = {"open": "Open", "done": "Done", "waived": "Waived"}


class TrainingTemplate(TrackedModel):
    """A reusable outline: preparation checklist and agenda. Built-ins are read-only; copy them to edit.

    study empty: available in every study (built-ins, and copies made by portfolio-wide training managers).
    """

    study = models.ForeignKey("studies.Study", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="training_templates")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=list(TRAINING_KINDS.items()), default="protocol")
    description = models.TextField(blank=True, default="")
    checklist = models.JSONField(default=list, blank=True)   # [str]
    agenda = models.JSONField(default=list, blank=True)      # [{"topic": str, "items": [str]}]
    builtin = models.BooleanField(default=False)

    class Meta:
        ordering = ["-builtin", "name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_study_id(self):
        return self.study_id


class Training(TrackedModel):
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="trainings")
    protocol_version = models.ForeignKey("studies.ProtocolVersion", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="trainings")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=list(TRAINING_KINDS.items()), default="protocol")
    template = models.ForeignKey(TrainingTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="trainings")
    objectives = models.TextField(blank=True, default="")
    # [{"item": str, "done": bool, "done_by": str, "done_at": iso str | None}]
    checklist = models.JSONField(default=list, blank=True)
    agenda = models.JSONField(default=list, blank=True)      # [{"topic": str, "items": [str]}]
    pass_mark = models.PositiveIntegerField(default=80, validators=[MinValueValidator(0), MaxValueValidator(100)])
    quiz_required = models.BooleanField(default=False)
    # Certificates of this training expire after this many months (empty: no expiry).
    validity_months = models.PositiveIntegerField(null=True, blank=True,
                                                  validators=[MinValueValidator(1), MaxValueValidator(120)])
    status = models.CharField(max_length=10, choices=list(TRAINING_STATUSES.items()), default="draft")

    class Meta:
        ordering = ["study_id", "-created_at", "id"]
        indexes = [models.Index(fields=["study", "kind"], name="training_study_kind_idx")]

    def __str__(self) -> str:
        return self.title

    @property
    def audit_study_id(self):
        return self.study_id

    @property
    def topics(self) -> list[str]:
        return [str(t.get("topic", "")) for t in (self.agenda or []) if t.get("topic")]


class TrainingSession(TrackedModel):
    training = models.ForeignKey(Training, on_delete=models.PROTECT, related_name="sessions")
    mode = models.CharField(max_length=12, choices=list(SESSION_MODES.items()), default="in_person")
    sites = models.ManyToManyField("sites.StudySite", blank=True, related_name="training_sessions")
    trainer = models.ForeignKey("organizations.Person", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="trainings_given")
    trainer_name = models.CharField(max_length=200, blank=True, default="",
                                    help_text="When the trainer is not in the people list")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=60,
                                                   validators=[MinValueValidator(1), MaxValueValidator(24 * 60)])
    location = models.CharField(max_length=300, blank=True, default="", help_text="Room, address or meeting link")
    materials = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["training_id", "starts_at", "id"]

    def __str__(self) -> str:
        return f"{self.training.title} — {self.starts_at:%Y-%m-%d}" if self.starts_at else str(self.training)

    @property
    def audit_study_id(self):
        return self.training.study_id

    @property
    def access_study_id(self):
        return self.training.study_id

    @property
    def trainer_display(self) -> str:
        if self.trainer_id:
            return self.trainer.full_name
        return self.trainer_name


class Attendance(TrackedModel):
    session = models.ForeignKey(TrainingSession, on_delete=models.PROTECT, related_name="attendance")
    person = models.ForeignKey("organizations.Person", on_delete=models.PROTECT, related_name="training_attendance")
    status = models.CharField(max_length=10, choices=list(ATTENDANCE_STATUSES.items()), default="invited")
    acknowledgement = models.ForeignKey("signatures.Signature", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session_id", "person__last_name", "person__first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "person"], condition=models.Q(is_deleted=False),
                                    name="attendance_unique_person_in_session"),
        ]

    def __str__(self) -> str:
        return f"{self.person} at {self.session}"

    @property
    def audit_study_id(self):
        return self.session.training.study_id

    @property
    def access_study_id(self):
        return self.session.training.study_id

    def signature_content(self) -> dict:
        """What the attendee's acknowledgement vouches for: who attended which session of which training."""
        session = self.session
        training = session.training
        return {
            "person_id": self.person_id,
            "person": self.person.full_name,
            "status": self.status,
            "training_id": training.pk,
            "training": training.title,
            "study": training.study.protocol_number,
            "protocol_version": training.protocol_version.version_number if training.protocol_version_id else None,
            "session_id": session.pk,
            "starts_at": session.starts_at.isoformat() if session.starts_at else None,
            "duration_minutes": session.duration_minutes,
            "trainer": session.trainer_display,
            "topics": training.topics,
        }


class QuizQuestion(TrackedModel):
    training = models.ForeignKey(Training, on_delete=models.PROTECT, related_name="questions")
    order = models.PositiveIntegerField(default=0)
    text = models.TextField()
    options = models.JSONField(default=list)   # [str]
    correct = models.JSONField(default=list)   # [int] indexes into options

    class Meta:
        ordering = ["training_id", "order", "id"]

    def __str__(self) -> str:
        return f"Q{self.order}: {self.text[:60]}"

    @property
    def audit_study_id(self):
        return self.training.study_id

    @property
    def access_study_id(self):
        return self.training.study_id


class QuizAttempt(models.Model):
    """One scored attempt; append-only (a retake is a new row with the next attempt number)."""

    training = models.ForeignKey(Training, on_delete=models.PROTECT, related_name="attempts")
    person = models.ForeignKey("organizations.Person", on_delete=models.PROTECT, related_name="quiz_attempts")
    attempt_no = models.PositiveIntegerField()
    answers = models.JSONField(default=dict)       # {question_id (str): [option indexes]}
    # The questions as they were when answered: [{"id", "text", "options", "correct"}]
    questions = models.JSONField(default=list)
    score_percent = models.FloatField()
    passed = models.BooleanField()
    pass_mark = models.PositiveIntegerField()
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    attempted_at = models.DateTimeField()

    class Meta:
        ordering = ["training_id", "person_id", "attempt_no"]
        constraints = [
            models.UniqueConstraint(fields=["training", "person", "attempt_no"], name="quiz_attempt_unique_no"),
        ]

    def __str__(self) -> str:
        return f"Quiz attempt {self.attempt_no} by {self.person} ({self.score_percent:.0f}%)"

    @property
    def audit_study_id(self):
        return self.training.study_id

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Quiz attempts are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Quiz attempts are append-only.")


class Certificate(models.Model):
    """A completion certificate. Its facts are frozen at issue and covered by content_hash.

    Never deleted or edited; it can be revoked (revoked_at, revoked_reason, revoked_by). A person may hold
    several for one training over time (a refresher session of the same training renews it).
    """

    number = models.CharField(max_length=24, unique=True)
    training = models.ForeignKey(Training, on_delete=models.PROTECT, related_name="certificates")
    session = models.ForeignKey(TrainingSession, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="certificates")
    person = models.ForeignKey("organizations.Person", on_delete=models.PROTECT, related_name="training_certificates")
    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="training_certificates")
    protocol_version = models.ForeignKey("studies.ProtocolVersion", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")
    quiz_attempt = models.ForeignKey(QuizAttempt, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    person_name = models.CharField(max_length=300)
    training_title = models.CharField(max_length=200)
    training_kind = models.CharField(max_length=20, choices=list(TRAINING_KINDS.items()))
    study_label = models.CharField(max_length=400)
    protocol_version_label = models.CharField(max_length=60, blank=True, default="")
    topics = models.JSONField(default=list)
    trainer_name = models.CharField(max_length=200, blank=True, default="")
    training_date = models.DateField()
    score_percent = models.FloatField(null=True, blank=True)
    issued_at = models.DateTimeField()
    valid_until = models.DateField(null=True, blank=True)
    content_hash = models.CharField(max_length=64)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.TextField(blank=True, default="")
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["-issued_at", "id"]
        indexes = [models.Index(fields=["person", "study"], name="certificate_person_study_idx")]

    def __str__(self) -> str:
        return f"Certificate {self.number}"

    @property
    def audit_study_id(self):
        return self.study_id

    def certified_facts(self) -> dict:
        """The facts printed on the certificate (what content_hash covers)."""
        return {
            "number": self.number,
            "person_id": self.person_id,
            "person_name": self.person_name,
            "training_id": self.training_id,
            "training_title": self.training_title,
            "training_kind": self.training_kind,
            "study_id": self.study_id,
            "study_label": self.study_label,
            "protocol_version_id": self.protocol_version_id,
            "protocol_version_label": self.protocol_version_label,
            "topics": list(self.topics or []),
            "trainer_name": self.trainer_name,
            "training_date": self.training_date.isoformat() if self.training_date else None,
            "score_percent": self.score_percent,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
        }

    def delete(self, *args, **kwargs):
        raise RuntimeError("Certificates are never deleted; revoke them.")


class TrainingRequirement(TrackedModel):
    """Someone must complete a training by a date: protocol, retraining after a new version, refresher."""

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="training_requirements")
    site = models.ForeignKey("sites.StudySite", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="training_requirements")
    person = models.ForeignKey("organizations.Person", on_delete=models.PROTECT,
                               related_name="training_requirements")
    kind = models.CharField(max_length=20, choices=list(REQUIREMENT_KINDS.items()))
    training = models.ForeignKey(Training, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="requirements")
    protocol_version = models.ForeignKey("studies.ProtocolVersion", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="training_requirements")
    reason = models.TextField(blank=True, default="")
    due_date = models.DateField()
    status = models.CharField(max_length=10, choices=list(REQUIREMENT_STATUSES.items()), default="open")
    fulfilled_by = models.ForeignKey(Certificate, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="fulfils")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study_id", "due_date", "id"]
        indexes = [
            models.Index(fields=["study", "status"], name="trainreq_study_status_idx"),
            models.Index(fields=["person", "status"], name="trainreq_person_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.person} (due {self.due_date})"

    @property
    def audit_study_id(self):
        return self.study_id

    @property
    def access_site_id(self):
        return self.site_id
