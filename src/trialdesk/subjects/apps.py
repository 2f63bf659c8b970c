from django.apps import AppConfig


class SubjectsConfig(AppConfig):
    name = "trialdesk.subjects"
    label = "subjects"
    verbose_name = "Subjects, consent and randomization"
