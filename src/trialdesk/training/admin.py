from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.training.models import (
    Attendance,
    Certificate,
    QuizAttempt,
    QuizQuestion,
    Training,
    TrainingRequirement,
    TrainingSession,
    TrainingTemplate,
)


@admin.register(TrainingTemplate)
class TrainingTemplateAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "study", "builtin", "is_deleted"]
    list_filter = ["builtin", "kind"]


@admin.register(Training)
class TrainingAdmin(ReadOnlyAdmin):
    list_display = ["title", "study", "kind", "protocol_version", "status", "quiz_required", "validity_months"]
    list_filter = ["kind", "status"]
    search_fields = ["title"]


@admin.register(TrainingSession)
class TrainingSessionAdmin(ReadOnlyAdmin):
    list_display = ["training", "starts_at", "mode", "trainer", "trainer_name", "duration_minutes"]


@admin.register(Attendance)
class AttendanceAdmin(ReadOnlyAdmin):
    list_display = ["session", "person", "status", "acknowledged_at"]
    list_filter = ["status"]


@admin.register(QuizQuestion)
class QuizQuestionAdmin(ReadOnlyAdmin):
    list_display = ["training", "order", "text"]


@admin.register(QuizAttempt)
class QuizAttemptAdmin(ReadOnlyAdmin):
    list_display = ["training", "person", "attempt_no", "score_percent", "passed", "attempted_at"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["number", "person_name", "training_title", "study_label", "training_date", "valid_until",
                    "revoked_at"]
    search_fields = ["number", "person_name"]


@admin.register(TrainingRequirement)
class TrainingRequirementAdmin(ReadOnlyAdmin):
    list_display = ["person", "study", "site", "kind", "due_date", "status"]
    list_filter = ["kind", "status"]
