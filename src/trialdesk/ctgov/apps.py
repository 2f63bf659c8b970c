from django.apps import AppConfig


class CtgovConfig(AppConfig):
    name = "trialdesk.ctgov"
    label = "ctgov"
    verbose_name = "ClinicalTrials.gov import"
