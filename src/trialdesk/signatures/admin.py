from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.signatures.models import Signature


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["signed_at", "printed_name", "meaning", "record_type", "record_id"]
    list_filter = ["meaning", "record_type"]
