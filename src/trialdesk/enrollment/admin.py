from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.enrollment.models import EnrollmentPlan, EnrollmentPlanEntry


@admin.register(EnrollmentPlan)
class EnrollmentPlanAdmin(ReadOnlyAdmin):
    list_display = ["study", "baseline", "label", "is_current", "target", "planned_last_subject_in"]
    list_filter = ["is_current"]


@admin.register(EnrollmentPlanEntry)
class EnrollmentPlanEntryAdmin(ReadOnlyAdmin):
    list_display = ["plan", "site", "country", "planned_activation", "planned_rate_per_month", "planned_subjects"]
