import getpass
import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from trialdesk.accounts.roles import Role
from trialdesk.accounts.services import membership_grant, user_create
from trialdesk.core.errors import ServiceError
from trialdesk.core.request_context import use_context
from trialdesk.organizations.services import person_create
from trialdesk.studies.models import Study


class Command(BaseCommand):
    help = ("Create a user (with a person record) and grant a role, portfolio-wide or on one study. "
            "This is how a production installation gets its first administrator.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--first-name", required=True)
        parser.add_argument("--last-name", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--role", choices=[r.value for r in Role], required=True)
        parser.add_argument("--study", metavar="PROTOCOL_NUMBER", help="Limit the role to this study")
        parser.add_argument("--password-stdin", action="store_true",
                            help="Read the password from standard input instead of prompting")

    def handle(self, *args, username, first_name, last_name, email, role, study, password_stdin, **options):
        target_study = None
        if study:
            target_study = Study.objects.filter(protocol_number=study).first()
            if target_study is None:
                raise CommandError(f"No study with protocol number {study!r}.")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        with use_context(channel="cli"):
            try:
                with transaction.atomic():
                    person = person_create(user=None, check=False, data={
                        "first_name": first_name, "last_name": last_name, "email": email})
                    user = user_create(actor=None, username=username, email=email, first_name=first_name,
                                       last_name=last_name, person=person, password=password)
                    membership_grant(actor=None, user=user, role=role, study=target_study,
                                     reason="Created from the command line")
            except ServiceError as exc:
                details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
                raise CommandError(f"{exc.message} {details}".strip()) from None
        self.stdout.write(self.style.SUCCESS(f"Created {username} as {Role(role).label}"
                                             f"{' on ' + study if study else ' (portfolio-wide)'}."))
