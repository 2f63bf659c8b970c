"""Admin: the start-up reference data (questionnaires and milestone templates), read-only. Changes go through the
Start-up pages and the API, where they are checked and audited."""

from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.startup.models import FeasibilityQuestion, StartupMilestoneDefinition


@admin.register(FeasibilityQuestion)
class FeasibilityQuestionAdmin(ReadOnlyAdmin):
    list_display = ["study", "order", "text", "kind", "weight", "required", "is_deleted"]
    list_filter = ["kind", "required"]


@admin.register(StartupMilestoneDefinition)
class StartupMilestoneDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["study", "order", "key", "label", "mandatory", "applies_when", "target_days", "owner_role",
                    "is_deleted"]
    list_filter = ["mandatory", "applies_when"]
