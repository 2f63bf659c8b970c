from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.staff.models import Delegation, SiteStaff


@admin.register(SiteStaff)
class SiteStaffAdmin(ReadOnlyAdmin):
    list_display = ["person", "site", "role", "start_date", "end_date", "gcp_expiry"]
    list_filter = ["role"]
    search_fields = ["person__last_name", "person__first_name", "site__site_number"]


@admin.register(Delegation)
class DelegationAdmin(ReadOnlyAdmin):
    list_display = ["staff", "task", "start_date", "end_date", "ended_on", "status", "signed_at"]
    list_filter = ["status", "task"]
