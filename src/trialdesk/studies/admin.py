from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.studies.models import ProtocolVersion, Study


@admin.register(Study)
class StudyAdmin(ReadOnlyAdmin):
    list_display = ["protocol_number", "nct_id", "acronym", "status"]
    search_fields = ["protocol_number", "nct_id", "brief_title"]


@admin.register(ProtocolVersion)
class ProtocolVersionAdmin(ReadOnlyAdmin):
    list_display = ["study", "version_number", "version_date", "status"]
