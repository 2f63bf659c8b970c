from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.sites.models import StudySite


@admin.register(StudySite)
class StudySiteAdmin(ReadOnlyAdmin):
    list_display = ["study", "site_number", "institution", "country", "status"]
    list_filter = ["status", "country"]
