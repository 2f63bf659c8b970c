from django.apps import AppConfig


class StartupConfig(AppConfig):
    name = "trialdesk.startup"
    label = "startup"
    verbose_name = "Site feasibility and start-up"
