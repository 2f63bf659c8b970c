from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.organizations.models import Organization, Person


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "city", "country"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ["last_name", "first_name", "email", "organization"]
    search_fields = ["last_name", "email"]
