from django.contrib import admin

from trialdesk.core.admin_utils import ReadOnlyAdmin
from trialdesk.subjects.models import (
    ConsentEvent,
    IcfVersion,
    Randomization,
    ReconsentRequirement,
    Subject,
    SubjectSettings,
)


@admin.register(SubjectSettings)
class SubjectSettingsAdmin(ReadOnlyAdmin):
    list_display = ["study", "id_pattern", "no_enrollment_alert_days"]


@admin.register(Subject)
class SubjectAdmin(ReadOnlyAdmin):
    list_display = ["subject_number", "study", "site", "status", "enrolled_on", "is_deleted"]
    list_filter = ["status"]
    search_fields = ["subject_number"]


@admin.register(IcfVersion)
class IcfVersionAdmin(ReadOnlyAdmin):
    list_display = ["study", "version_number", "version_date", "country", "site", "status", "irb_approval_date"]
    list_filter = ["status"]


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = ["subject", "icf_version", "consented_on", "method", "is_reconsent"]


@admin.register(ReconsentRequirement)
class ReconsentRequirementAdmin(ReadOnlyAdmin):
    list_display = ["subject", "icf_version", "status", "closed_on"]
    list_filter = ["status"]


@admin.register(Randomization)
class RandomizationAdmin(ReadOnlyAdmin):
    # The arm is left out: the admin does not know whether the viewer is blinded.
    list_display = ["subject", "randomized_on", "stratum", "irt_reference"]
    exclude = ["arm"]
