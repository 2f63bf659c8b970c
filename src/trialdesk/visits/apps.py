from django.apps import AppConfig


class VisitsConfig(AppConfig):
    name = "trialdesk.visits"
    label = "visits"
    verbose_name = "Schedule of events and visits"
