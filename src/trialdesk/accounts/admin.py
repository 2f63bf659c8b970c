from django.contrib import admin

from trialdesk.accounts.models import ApiToken, Membership, User
from trialdesk.core.admin_utils import ReadOnlyAdmin


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
    list_display = ["username", "email", "is_active", "deactivated_at", "last_login"]
    search_fields = ["username", "email"]
    exclude = ["password"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "role", "study", "granted_at", "revoked_at"]
    list_filter = ["role"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "user", "created_at", "expires_at", "revoked_at", "last_used_at"]
    exclude = ["token_hash"]
