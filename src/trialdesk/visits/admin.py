from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.visits.models import SubjectVisit, VisitDefinition


@admin.register(VisitDefinition)
class VisitDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["protocol_version", "order", "code", "name", "anchor", "target_day", "window_before",
                    "window_after", "modality", "required"]
    list_filter = ["anchor", "modality", "required"]


@admin.register(SubjectVisit)
class SubjectVisitAdmin(ReadOnlyAdmin):
    list_display = ["subject", "definition", "site", "planned_on", "actual_on", "modality", "status", "out_of_window"]
    list_filter = ["status", "modality", "out_of_window"]
    list_select_related = ["subject", "definition", "site"]
