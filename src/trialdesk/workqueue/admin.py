from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.workqueue.models import ReminderLog


@admin.register(ReminderLog)
class ReminderLogAdmin(ReadOnlyAdmin):
    list_display = ["sent_on", "user", "email", "item_count", "sent_at"]
    list_filter = ["sent_on"]
    search_fields = ["user__username", "email"]
