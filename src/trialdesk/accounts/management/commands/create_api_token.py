from django.core.management.base import BaseCommand, CommandError

from trialdesk.accounts.selectors import user_by_username
from trialdesk.accounts.services import api_token_create
from trialdesk.core.errors import ServiceError
from trialdesk.core.request_context import use_context


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--expires", type=int, default=None, metavar="DAYS",
                            help="Days until the token expires (default: the TRIALDESK_API_TOKEN_DAYS setting)")
        parser.add_argument("--name", default="", help="A label to recognise the token by")

    def handle(self, *args, username, expires, name, **options):
        from django.conf import settings

        user = user_by_username(username)
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        days = expires if expires is not None else settings.API_TOKEN_DEFAULT_DAYS
        with use_context(channel="cli"):
            try:
                token, secret = api_token_create(actor=None, user=user, name=name, expires_days=days)
            except ServiceError as exc:
                raise CommandError(exc.message) from None
        self.stdout.write(secret)
        self.stderr.write(f"Token {token.prefix}… for {username}, expires {token.expires_at:%Y-%m-%d}. "
                          "Store it now: it cannot be shown again.")
