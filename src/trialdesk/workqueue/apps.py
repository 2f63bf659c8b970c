from django.apps import AppConfig


class WorkqueueConfig(AppConfig):
    name = "trialdesk.workqueue"
    label = "workqueue"
    verbose_name = "My work and reminders"
