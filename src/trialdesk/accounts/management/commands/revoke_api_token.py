from django.core.management.base import BaseCommand, CommandError

from trialdesk.accounts.models import ApiToken
from trialdesk.accounts.services import api_token_revoke
from trialdesk.core.request_context import use_context


class Command(BaseCommand):
    help = "Revoke API tokens by prefix (as printed at creation) or all tokens of a user."

    def add_arguments(self, parser):
        parser.add_argument("prefix_or_username")
        parser.add_argument("--all", action="store_true", help="Revoke every token of the named user")
        parser.add_argument("--reason", default="Revoked from the command line")

    def handle(self, *args, prefix_or_username, all, reason, **options):
        if all:
            tokens = ApiToken.objects.filter(user__username=prefix_or_username, revoked_at__isnull=True)
        else:
            tokens = ApiToken.objects.filter(prefix=prefix_or_username[:10], revoked_at__isnull=True)
        tokens = list(tokens.select_related("user"))
        if not tokens:
            raise CommandError(f"No active token matches {prefix_or_username!r}.")
        with use_context(channel="cli"):
            for token in tokens:
                api_token_revoke(actor=None, token=token, reason=reason)
        self.stdout.write(f"Revoked {len(tokens)} token(s).")
