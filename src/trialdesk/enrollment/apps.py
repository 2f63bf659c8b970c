from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "trialdesk.enrollment"
    label = "enrollment"
    verbose_name = "Enrollment and forecasting"
