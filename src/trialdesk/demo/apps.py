from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "trialdesk.demo"
    label = "demo"
    verbose_name = "Demo portfolio"
