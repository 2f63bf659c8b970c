from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "trialdesk.training"
    label = "training"
    verbose_name = "Protocol training"
