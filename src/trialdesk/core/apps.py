from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "trialdesk.core"
    label = "core"
    verbose_name = "Core"
