"""`trialdesk load_demo [--if-empty]`: load the demo portfolio (demo mode only) and print the demo logins."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from trialdesk.accounts.roles import Role
from trialdesk.core.errors import ServiceError
from trialdesk.core.request_context import use_context
from trialdesk.demo.credentials import credentials_ensure, credentials_path, credentials_read
from trialdesk.demo.selectors import database_has_studies
from trialdesk.demo.services import (
    DEMO_MODE_REQUIRED,
    demo_blinded_usernames,
    demo_logins_wanted,
    demo_portfolio_load,
)


class Command(BaseCommand):
    help = ("Load the demo portfolio: organizations, studies across the lifecycle, sites, one login per role and "
            "real ClinicalTrials.gov records. Demo mode only (TRIALDESK_DEMO=1). Passwords are generated once per "
            "installation and kept in TRIALDESK_HOME/demo-credentials.txt (mode 0600).")

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true",
                            help="Load only when the database holds no study; print the logins either way.")
        parser.add_argument("--url", default="", help="Where the app is served, for the closing hint.")

    def handle(self, *args, if_empty: bool, url: str, **options):
        if not settings.DEMO_MODE:
            raise CommandError(DEMO_MODE_REQUIRED)
        path = credentials_path(settings.HOME)
        if if_empty and database_has_studies():
            self.stdout.write("The database already holds studies: the demo portfolio was not loaded.")
            logins = credentials_read(path)
        else:
            logins = credentials_ensure(path, demo_logins_wanted())
            started = time.monotonic()
            try:
                with use_context(channel="cli"):
                    summary = demo_portfolio_load(logins=logins)
            except ServiceError as exc:
                raise CommandError(exc.message) from exc
            clinical = summary.clinical
            self.stdout.write(self.style.SUCCESS(
                f"Demo portfolio loaded in {time.monotonic() - started:.1f} s: {len(summary.studies)} studies, "
                f"{summary.sites} sites, {clinical.subjects} subjects, {clinical.visits_recorded} visits recorded "
                f"({clinical.visits_missed} missed), {len(summary.imported)} studies imported from "
                f"ClinicalTrials.gov, {len(summary.users)} demo logins and {clinical.site_staff} site staff "
                "accounts (without a password)."
            ))
        self._print_logins(logins, path, url)

    def _print_logins(self, logins: dict, path, url: str) -> None:
        if not logins:
            self.stdout.write(f"No demo logins are recorded in {path}.")
            if url:
                self.stdout.write(f"Open {url} and log in with an existing account.")
            return
        self.stdout.write(f"Demo logins (demo mode only; kept in {path}):")
        blinded = demo_blinded_usernames()
        for login in logins.values():
            label = Role(login.role).label + (" (blinded: never sees randomized arms)"
                                              if login.username in blinded else "")
            self.stdout.write(f"  {login.username:<13} {login.password:<19} {label}")
        if url and "cpm" in logins:
            self.stdout.write(self.style.SUCCESS(
                f"Open {url} and log in as cpm / {logins['cpm'].password} (Clinical Project Manager), "
                "or as any login above."
            ))
