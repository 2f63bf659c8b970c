from django.contrib import admin

from trialdesk.audit.models import AuditEvent
from trialdesk.core.admin_utils import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "occurred_at", "actor_username", "action", "record_type", "record_id", "reason"]
    list_filter = ["action", "record_type"]
    search_fields = ["actor_username", "record_label", "reason"]
