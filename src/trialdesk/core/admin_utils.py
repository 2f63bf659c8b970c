"""Django admin is for reference data only; regulated records are shown read-only there.

Writes to regulated records must go through services (permission check, reason, audit),
so the admin never offers add/change/delete for them.
"""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
