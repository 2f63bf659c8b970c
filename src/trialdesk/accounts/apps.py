from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "trialdesk.accounts"
    label = "accounts"
    verbose_name = "Accounts and access"

    def ready(self):
        # Signal receivers only forward authentication events to the audit service.
        from trialdesk.accounts import receivers  # noqa: F401
