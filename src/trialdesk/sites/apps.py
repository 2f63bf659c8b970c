from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "trialdesk.sites"
    label = "sites"
    verbose_name = "Study sites"
