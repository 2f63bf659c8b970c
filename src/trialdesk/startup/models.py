"""Site feasibility, selection and start-up: the questionnaire, its answers, the milestone template and each
site's milestones. Rules live in services.py (writes), scoring.py / plan.py / cycle.py (pure computations)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from trialdesk.accounts.roles import ROLE_LABELS
from trialdesk.core.models import TrackedModel

QUESTION_KINDS = {"yes_no": "Yes / no", "number": "Number", "choice": "Choice", "text": "Text"}
YES_NO = {"yes": "Yes", "no": "No"}
RESPONSE_STATUSES = {"invited": "Invited", "in_progress": "In progress", "submitted": "Submitted"}
APPLIES_WHEN = {"always": "Always", "if_needed": "Where needed"}
OWNER_ROLES = {role.value: label for role, label in ROLE_LABELS.items()}
MAX_TARGET_DAYS = 3650


class FeasibilityQuestion(TrackedModel):
    """One question of a study's feasibility questionnaire, with how its answer is scored."""

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="feasibility_questions")
    order = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(100_000)])
    text = models.TextField(max_length=2000)
    kind = models.CharField(max_length=10, choices=list(QUESTION_KINDS.items()), default="yes_no")
    # choice: [{"label": "Yes, on site", "score": 1.0}, ...] (score 0..1)
    choices = models.JSONField(default=list, blank=True)
    # yes_no: the answer that scores 1 (blank: the question is not scored)
    preferred_answer = models.CharField(max_length=3, choices=list(YES_NO.items()), blank=True, default="")
    # number: the answer scoring 0 and the one scoring 1, linear between (min > max: lower is better)
    score_min = models.FloatField(null=True, blank=True)
    score_max = models.FloatField(null=True, blank=True)
    weight = models.DecimalField(max_digits=6, decimal_places=2, default=1,
                                 validators=[MinValueValidator(0), MaxValueValidator(1000)],
                                 help_text="0 = not scored")
    required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["study_id", "order", "id"]

    def __str__(self) -> str:
        return f"Feasibility question: {self.text[:80]}"

    @property
    def audit_study_id(self):
        return self.study_id


class FeasibilityResponse(TrackedModel):
    """A site's questionnaire: invited, being answered, submitted; its weighted score (0-100)."""

    site = models.OneToOneField("sites.StudySite", on_delete=models.PROTECT, related_name="feasibility")
    status = models.CharField(max_length=12, choices=list(RESPONSE_STATUSES.items()), default="invited")
    invited_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    score = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Feasibility response of site {self.site.site_number}" if self.site_id else "Feasibility response"

    @property
    def audit_study_id(self):
        return self.site.study_id

    @property
    def access_site_id(self):
        return self.site_id

    @property
    def access_study_id(self):
        return self.site.study_id


class FeasibilityAnswer(TrackedModel):
    response = models.ForeignKey(FeasibilityResponse, on_delete=models.PROTECT, related_name="answers")
    question = models.ForeignKey(FeasibilityQuestion, on_delete=models.PROTECT, related_name="answers")
    value = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["response_id", "question__order", "question_id"]
        constraints = [models.UniqueConstraint(fields=["response", "question"], name="feasibility_answer_unique")]

    def __str__(self) -> str:
        return f"Feasibility answer to question {self.question_id}"

    @property
    def audit_study_id(self):
        return self.question.study_id


class StartupMilestoneDefinition(TrackedModel):
    """One milestone of a study's start-up template: what every site goes through before activation."""

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="startup_milestones")
    key = models.SlugField(max_length=40, help_text="Short identifier, unique in the study")
    label = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(100_000)])
    mandatory = models.BooleanField(default=True, help_text="Activation is refused until it is done")
    target_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(MAX_TARGET_DAYS)],
        help_text="Days after its dependencies are done (or after the site's selection) it is planned for")
    depends_on = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="dependents")
    owner_role = models.CharField(max_length=30, choices=list(OWNER_ROLES.items()), blank=True, default="")
    applies_when = models.CharField(max_length=10, choices=list(APPLIES_WHEN.items()), default="always")

    class Meta:
        ordering = ["study_id", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "key"], condition=models.Q(is_deleted=False),
                                    name="startup_milestone_key_unique"),
        ]

    def __str__(self) -> str:
        return f"Start-up milestone: {self.label}"

    @property
    def audit_study_id(self):
        return self.study_id


class SiteMilestone(TrackedModel):
    """One site's record of one template milestone: planned and actual dates, owner, or not applicable."""

    site = models.ForeignKey("sites.StudySite", on_delete=models.PROTECT, related_name="startup_milestones")
    definition = models.ForeignKey(StartupMilestoneDefinition, on_delete=models.PROTECT,
                                   related_name="site_milestones")
    planned_date = models.DateField(null=True, blank=True)
    actual_date = models.DateField(null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    not_applicable = models.BooleanField(default=False)
    not_applicable_reason = models.TextField(blank=True, default="", max_length=2000)
    notes = models.TextField(blank=True, default="", max_length=5000)

    class Meta:
        ordering = ["site_id", "definition__order", "definition_id"]
        constraints = [models.UniqueConstraint(fields=["site", "definition"], name="site_milestone_unique")]

    def __str__(self) -> str:
        label = self.definition.label if self.definition_id else "milestone"
        return f"{label} at site {self.site.site_number}" if self.site_id else label

    @property
    def audit_study_id(self):
        return self.site.study_id

    @property
    def access_site_id(self):
        return self.site_id

    @property
    def access_study_id(self):
        return self.site.study_id
