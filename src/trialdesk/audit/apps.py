from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "trialdesk.audit"
    label = "audit"
    verbose_name = "Audit trail"
