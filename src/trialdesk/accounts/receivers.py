"""Forward Django/axes authentication signals to the audit service (no logic here)."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from trialdesk.accounts import services


@receiver(user_locked_out)
def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    services.account_lockout_record(username=username or "")


@receiver(user_logged_out)
def _logged_out(sender, request=None, user=None, **kwargs):
    if user is not None:
        services.account_logout_record(user=user)
