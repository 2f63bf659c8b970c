from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "trialdesk.staff"
    label = "staff"
    verbose_name = "Site staff and delegation of authority"
