from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "trialdesk.organizations"
    label = "organizations"
    verbose_name = "Organizations and people"
